// Issue 16: runtime env artifacts are objects of the mesh, by content hash.
// Two drivers (two jobs) declaring the same bytes upload them once; when the
// uploading driver leaves, nodes serve the copies they fetched; when every
// copy is gone, a driver that declared them is asked to put them again. A
// node's disk cache stays within its bound, least recently used pruned first.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type EdgeProcess } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { DriverCore } from '../../shared/api/driver.js';
import { contentHash } from '../../shared/hash.js';
import { mandelbrotWasm } from '../../shared/examples/mandelbrot.js';

declare const mesh: Mesh; // inside tasks

const uploadsOf = (m: Mesh) => (m.core as DriverCore).artifactUploads;

function fetchedLines(n: EdgeProcess): number {
  return n.output.join('').match(/runtime env: fetched /g)?.length ?? 0;
}

/** A module of about `kb` KiB, unique to `tag` (so no other test's node has it). */
function bigModule(tag: string, kb: number): string {
  return `export const tag = ${JSON.stringify(tag)};\nexport const pad = ${JSON.stringify('x'.repeat(kb * 1024))};\n`;
}

async function nodeIdOf(cl: Cluster): Promise<string> {
  const nodes = [...cl.c.coordinator.gcs.nodes.values()];
  return nodes[nodes.length - 1].id;
}

describe('runtime env artifacts of the mesh', () => {
  let cl: Cluster;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
  });
  afterAll(() => cl?.stop());

  it('two jobs of two drivers upload each artifact once; holders leave and it is put again', async () => {
    const tag = `mesh-${Date.now()}`;
    // One artifact over the inline threshold (served by its holder) and one under it (kept by the coordinator).
    const env = { modules: { big: bigModule(tag, 200) }, wasm: { kernel: mandelbrotWasm() } };
    const work = async function work(i: number) {
      const big = await mesh.import('big');
      await WebAssembly.instantiate(await mesh.wasm('kernel'), {});
      return `${big.tag}:${big.pad.length}:${i}`;
    };
    const stats = cl.c.coordinator.gcs.stats;
    const before = stats.artifactUploads;

    const a = await cl.driver();
    const fa = a.remote(work, { runtimeEnv: env });
    const outA = await a.get(Array.from({ length: 20 }, (_, i) => fa.remote(i)));
    expect(outA[3]).toBe(`${tag}:${200 * 1024}:3`);
    expect(uploadsOf(a)).toBe(2);

    const b = await cl.driver(); // another job, another driver, the same bytes
    const fb = b.remote(work, { runtimeEnv: env });
    expect(await b.get(Array.from({ length: 20 }, (_, i) => fb.remote(i)))).toEqual(outA);
    expect(uploadsOf(b)).toBe(0);
    expect(stats.artifactUploads - before).toBe(2);
    const first = cl.nodes[0];
    expect(fetchedLines(first)).toBe(2);

    // The uploading driver leaves: its job ends, job b still declares the artifacts; the first node's copy serves a new node.
    await a.close();
    const second = await cl.addNode({ cpus: 1 });
    const onSecond = b.remote(work, { runtimeEnv: env, scheduling: { node: await nodeIdOf(cl), soft: false } });
    expect(await b.get(onSecond.remote(5))).toBe(outA[5]);
    expect(fetchedLines(second)).toBe(2);
    expect(stats.artifactUploads - before).toBe(2);

    // Every node that held a copy goes: driver b, which declared the artifact, is asked to put it again.
    await first.kill('SIGKILL');
    await second.kill('SIGKILL');
    await cl.until(
      () => cl.c.coordinator.gcs.nodes.size === 0,
      15_000,
      () => 'the killed nodes to be gone',
    );
    const third = await cl.addNode({ cpus: 1 });
    expect(await b.get(fb.remote(7))).toBe(`${tag}:${200 * 1024}:7`);
    expect(fetchedLines(third)).toBe(2);
    expect(uploadsOf(b)).toBe(1); // the large one; the small one never left the coordinator
    expect(stats.artifactUploads - before).toBe(3);

    // The last job that declared them ends: the coordinator frees them (nodes keep their cached copies by hash).
    await b.close();
    await cl.until(
      () => cl.c.coordinator.artifacts.size === 0,
      10_000,
      () => `artifacts still registered: ${cl.c.coordinator.artifacts.size}`,
    );
  });

  it("a node's disk cache stays within --env-cache-mb, least recently used pruned first", async () => {
    const n = await cl.addNode({ cpus: 1, envCacheMb: 1 });
    const m = await cl.driver();
    const pinned = { node: await nodeIdOf(cl), soft: false };
    const use = async function use() {
      const x = await mesh.import('x');
      return x.tag;
    };
    // Four modules of 400 KiB through a 1 MiB cache: at most two stay on disk, the last two used.
    const mods = ['a', 'b', 'c', 'd'].map((k) => bigModule(`lru-${k}-${Date.now()}`, 400));
    for (const src of mods) {
      const f = m.remote(use, { runtimeEnv: { modules: { x: src } }, scheduling: pinned });
      expect(await m.get(f.remote())).toMatch(/^lru-/);
    }
    const hashes = mods.map((src) => contentHash(new TextEncoder().encode(src)));
    const envDir = join(n.dir, 'env');
    await cl.until(
      () => n.output.join('').match(/pruned \w+ \(\d+ bytes\) from disk/g)?.length === 2,
      10_000,
      () => `two prunes from disk: ${n.output.join('').slice(-2000)}`,
    );
    const onDisk = readdirSync(envDir).filter((f) => !f.startsWith('.'));
    expect(onDisk.sort()).toEqual(hashes.slice(2).sort());
  });
});
