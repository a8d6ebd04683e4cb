// A task that writes into an argument it reads in place (shared memory lent by
// its node, issue 17) must not change the node's stored object: the node sees
// the write when the task ends, drops its changed copy and warns the driver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { OutputLine } from '../../shared/api/output.js';
import type { NodeId } from '../../shared/ids.js';

/** 2 Mi doubles (16 MiB): past the size compared whole, so the sampled fingerprint is what sees the sort. */
const N = 2 << 20;

/** N, N - 1, ..., 1: sorting it changes every element. */
function descending(n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = n - i;
  return a;
}

describe('a task writing into its argument', () => {
  let cl: Cluster;
  let m: Mesh;
  const lines: OutputLine[] = [];
  let nodeA: NodeId;
  let nodeB: NodeId;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 2, cpus: 1 });
    m = await cl.driver({ onOutput: (l) => lines.push(l) });
    [nodeA, nodeB] = [...cl.c.coordinator.gcs.nodes.keys()];
  });
  afterAll(() => cl.stop());

  const sortIt = () => m.remote((a: Float64Array) => a.sort()[0]);
  const ends = () => m.remote((a: Float64Array) => [a[0], a[a.length - 1], a.length]);
  const onA = () => ({ scheduling: { node: nodeA } });
  const onB = () => ({ scheduling: { node: nodeB } });
  const offences = () => cl.c.coordinator.trust.view(nodeA).offences + cl.c.coordinator.trust.view(nodeB).offences;

  it("sort() in a task leaves the node's copy as put: a later task on that node reads the original; the driver is warned once", async () => {
    const ref = m.put(descending(N));
    const sorter = sortIt().options(onA());
    expect(await m.get(sorter.remote(ref))).toBe(1);
    expect(await m.get(ends().options(onA()).remote(ref))).toEqual([N, 1, N]);
    // Again: the node got the object back (from the driver) and the same function writes it again.
    expect(await m.get(sorter.remote(ref))).toBe(1);
    expect(await m.get(ends().options(onA()).remote(ref))).toEqual([N, 1, N]);
    await until(() => lines.some((l) => l.level === 'warn' && l.text.includes('wrote into its argument 0')), {
      timeoutMs: 30_000,
      what: () => `the warning (lines: ${JSON.stringify(lines)})`,
    });
    const warned = lines.filter((l) => l.text.includes('wrote into its argument'));
    expect(warned, JSON.stringify(warned)).toHaveLength(1);
    expect(warned[0].text).toContain(ref.id);
    expect(warned[0].text).toContain('read-only');
  });

  it("a peer reading an object after a task sorted it on its holder's node gets the original bytes; nobody is reported as a liar", async () => {
    const make = m.remote((n: number) => {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = n - i;
      return a;
    });
    // Made on A: A holds the only copy (its primary).
    const ref = make.options(onA()).remote(N);
    expect(await m.get(ends().options(onA()).remote(ref))).toEqual([N, 1, N]);
    expect(await m.get(sortIt().options(onA()).remote(ref))).toBe(1);
    // B reads it from A (or, A's copy dropped, from lineage): the original either way.
    expect(await m.get(ends().options(onB()).remote(ref))).toEqual([N, 1, N]);
    expect(offences()).toBe(0);
  });

  it('the driver writing into its get of its own put changes neither its later gets nor what tasks read', async () => {
    const ref = m.put(new Uint8Array(8 << 20).fill(1));
    const got = await m.get(ref);
    got[0] = 99;
    got[got.length - 1] = 99;
    const again = await m.get(ref);
    expect([again[0], again[again.length - 1]]).toEqual([1, 1]);
    expect(
      await m.get(
        m
          .remote((a: Uint8Array) => [a[0], a[a.length - 1]])
          .options(onB())
          .remote(ref),
      ),
    ).toEqual([1, 1]);
    expect(offences()).toBe(0);
  });

  it("an actor method's write into its argument is caught the same way", async () => {
    class Sorter {
      sort(a: Float64Array): number {
        return a.sort()[0];
      }
    }
    const ref = m.put(descending(N));
    const sorter = m.remote(Sorter).options(onA()).remote();
    expect(await m.get(sorter.sort.remote(ref))).toBe(1);
    expect(await m.get(ends().options(onA()).remote(ref))).toEqual([N, 1, N]);
    await until(() => lines.some((l) => l.level === 'warn' && l.text.includes(ref.id)), { timeoutMs: 30_000, what: 'the warning' });
  });

  it('an actor that keeps its argument and writes it in a later method: seen once the executor let the view go', async () => {
    class Keeper {
      kept: Float64Array | null = null;
      keep(a: Float64Array): number {
        this.kept = a;
        return a.length;
      }
      mess(): number {
        const v = this.kept!.sort()[0];
        this.kept = null;
        return v;
      }
    }
    const ref = m.put(descending(N));
    const keeper = m.remote(Keeper).options(onA()).remote();
    expect(await m.get(keeper.keep.remote(ref))).toBe(N);
    expect(await m.get(keeper.mess.remote())).toBe(1);
    // The view comes back when the actor's executor collected it (an idle executor collects within seconds).
    await until(() => lines.some((l) => l.level === 'warn' && l.text.includes(ref.id)), { timeoutMs: 60_000, what: 'the late warning' });
    expect(await m.get(ends().options(onA()).remote(ref))).toEqual([N, 1, N]);
    expect(offences()).toBe(0);
  });
});
