// Fault tolerance on edge nodes (issue 6): lost objects are rebuilt from
// lineage, as far back as needed and only as far; when they cannot be, readers
// get ObjectLostError instead of hanging.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { ObjectRef } from '../../shared/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

declare const mesh: Mesh; // inside tasks

let cl: Cluster | undefined;
afterEach(async () => {
  await cl?.stop();
  cl = undefined;
});

const LEN = 16_384; // 128 KiB of Float64: above the inline threshold, so outputs live on nodes

describe('lineage reconstruction', () => {
  it('a chain of 50 tasks whose middle outputs die with their node is rebuilt as far back as needed, and only as far', async () => {
    cl = await Cluster.start({ nodes: 3, cpus: 1, deadAfterMs: 2000 });
    const m = await cl.driver();
    const c = cl.c.coordinator;
    const [a, b, cNode] = [...c.gcs.nodes.keys()];
    const start = m.remote((len: number) => new Float64Array(len));
    const step = m.remote((x: Float64Array) => x.map((v) => v + 1));
    let ref: ObjectRef<Float64Array> = start.options({ scheduling: { node: a } }).remote(LEN); // chain link 0
    for (let i = 1; i < 40; i++) {
      const node = i < 20 ? a : b; // links 20..39 live on node b
      ref = step.options({ scheduling: { node, soft: i >= 20 } }).remote(ref);
    }
    await m.wait([ref], { timeoutMs: 30_000 });
    expect(c.gcs.stats.tasksFinished).toBeGreaterThanOrEqual(40);
    // Node b dies with the only copies of links 20..39.
    const victim = cl.nodes[1];
    await victim.kill('SIGKILL');
    await cl.until(
      () => c.gcs.nodes.size === 2,
      10_000,
      () => 'node b to be declared dead',
    );
    for (let i = 40; i < 50; i++) ref = step.options({ scheduling: { node: cNode, soft: true } }).remote(ref);
    const out = await m.get(ref, { timeoutMs: 60_000 });
    expect(out.length).toBe(LEN);
    expect(out[0]).toBe(49);
    expect(out[LEN - 1]).toBe(49);
    // Exactly the lost links were re-run: 20..39, not 0..19.
    expect(c.gcs.stats.tasksRebuilt).toBe(20);
    const rebuilt = c.gcs.events.filter((e) => e.kind === 'object-rebuilt');
    expect(rebuilt).toHaveLength(20);
    expect(c.gcs.events.some((e) => e.kind === 'node-lost')).toBe(true);
  });

  it('an object that cannot be rebuilt (retries spent) makes its readers fail with ObjectLostError, without hanging', async () => {
    cl = await Cluster.start({ nodes: 2, cpus: 1, deadAfterMs: 2000 });
    const m = await cl.driver();
    const c = cl.c.coordinator;
    const [, b] = [...c.gcs.nodes.keys()];
    const make = m.remote((len: number) => new Float64Array(len).fill(7)).options({ maxRetries: 0, scheduling: { node: b } });
    const ref = make.remote(LEN);
    await m.wait([ref], { timeoutMs: 20_000 });
    await cl.nodes[1].kill('SIGKILL');
    await cl.until(() => c.gcs.nodes.size === 1);
    const e = await m.get(ref, { timeoutMs: 30_000 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'OBJECT_LOST' });
    expect((e as Error).message).toContain('retries');
    expect(c.gcs.events.some((ev) => ev.kind === 'object-lost' && ev.object === ref.id)).toBe(true);
  });

  it('a put whose driver is gone cannot be rebuilt: a reader elsewhere gets ObjectLostError, without hanging', async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    const owner = await cl.driver();
    const other = await cl.driver();
    class Keeper {
      kept: unknown = null;
      keep(box: { ref: unknown }): boolean {
        this.kept = box.ref;
        return true;
      }
      async read(): Promise<number> {
        const v = (await mesh.get(this.kept as ObjectRef<Float64Array>)) as Float64Array;
        return v.length;
      }
    }
    const keeper = other.remote(Keeper).options({ name: 'keeper' }).remote();
    const fromOwner = await owner.getActor<Keeper>('keeper');
    const big = owner.put(new Float64Array(LEN).fill(1)); // stays with its driver
    await owner.get(fromOwner.keep.remote({ ref: big }));
    expect(await other.get(keeper.read.remote())).toBe(LEN);
    await owner.close(); // its job ends: its puts go with it
    const e = await other.get(keeper.read.remote(), { timeoutMs: 30_000 }).catch((x: unknown) => x);
    expect((e as { remoteName?: string }).remoteName ?? (e as { code?: string }).code).toMatch(/ObjectLostError|OBJECT_LOST/);
  });
});
