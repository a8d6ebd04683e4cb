// Receiver memory reuse end to end (issue 17): an edge node fetches a
// driver's object, its executor reads it in place; when the driver frees it
// the node's copy goes back to the memory pool once the executor let its view
// go, never while a task keeps the array. Real coordinator, edge node and
// driver (in this process, so the node's pool is visible here).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCoordinator } from '../../coordinator/server.js';
import { startEdgeNode } from '../../edge/node.js';
import { connect } from '../../edge/index.js';
import { allocBytes, viewsLent } from '../../shared/bytes.js';
import { sleep, until } from '../helpers/poll.js';

const N = 1 << 20; // 8 MiB of Float64

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

/** A coordinator, one edge node with one executor, and a driver. */
async function oneNode() {
  const data = mkdtempSync(join(tmpdir(), 'tabmesh-reuse-'));
  cleanups.push(() => rmSync(data, { recursive: true, force: true }));
  const co = await startCoordinator({ port: 0, dataDir: data, token: 't', httpLimits: false });
  cleanups.push(() => co.close());
  const node = await startEdgeNode({ coordinator: co.url, cpus: 1, reconnect: false, spillDir: join(data, 'spill') });
  cleanups.push(() => node.leave());
  const m = await connect({ url: co.url, token: 't' });
  cleanups.push(() => m.close());
  return { m, store: node.runtime.store };
}

describe('receiver memory reuse', () => {
  it("a node's copy of a freed object goes back to its pool once its executor let the view go; a task that keeps the array keeps its bytes", async () => {
    const { m, store } = await oneNode();

    const keep = m.remote((a: Float64Array) => {
      (globalThis as { kept?: Float64Array }).kept = a;
      return a.length;
    });
    const sum = m.remote((a: Float64Array) => a.reduce((s, v) => s + v, 0));
    const sumKept = m.remote(() => (globalThis as { kept?: Float64Array }).kept!.reduce((s, v) => s + v, 0));
    const drop = m.remote(() => {
      (globalThis as { kept?: Float64Array }).kept = undefined;
      return 0;
    });

    const x = m.put(new Float64Array(N).fill(1.5));
    const kept = keep.remote(x);
    expect(await m.get(kept)).toBe(N);
    const bytes = store.getSync(x.id)!;
    expect(bytes).toBeDefined();
    expect(viewsLent(bytes)).toBe(1);

    // Freed (with the result whose lineage needs it) while the task's global keeps a view: the node
    // drops it, the buffer stays out of the pool.
    m.free([kept, x]);
    await until(() => !store.has(x.id), { what: 'the node to drop the freed object' });
    await sleep(300);
    expect(viewsLent(bytes)).toBe(1);
    const y = m.put(new Float64Array(N).fill(2.5));
    expect(await m.get(sum.remote(y))).toBe(N * 2.5);
    expect(store.getSync(y.id)!.buffer).not.toBe(bytes.buffer);
    expect(await m.get(sumKept.remote())).toBe(N * 1.5);

    // The task lets go: the executor's next collection gives the view back and the buffer is the pool's.
    expect(await m.get(drop.remote())).toBe(0);
    await until(() => viewsLent(bytes) === 0, { what: () => `the kept view to come back (${viewsLent(bytes)} lent)` });
    // The driver's freed put buffers of this size are in the same pool (one process): the node's is among them.
    const taken = Array.from({ length: 4 }, () => allocBytes(bytes.byteLength, true).buffer);
    expect(taken).toContain(bytes.buffer);
  });

  it("a freed task result's memory comes back to its node: the executor's next result of that size is made in it", async () => {
    const { m, store } = await oneNode();
    const make = m.remote((n: number, v: number) => new Float64Array(n).fill(v));
    const sum = m.remote((a: Float64Array) => a.reduce((s, v) => s + v, 0));

    const made = async (v: number) => {
      const r = make.remote(N, v);
      await m.wait([r]);
      return { r, bytes: store.getSync(r.id)! };
    };
    const first = await made(1);
    m.free([first.r]);
    await until(() => !store.has(first.r.id), { what: 'the node to drop the freed result' });
    // The next result is made in fresh memory; the node hands the freed buffer to the executor with it...
    const second = await made(2);
    m.free([second.r]);
    await until(() => !store.has(second.r.id), { what: 'the node to drop the second result' });
    // ...and the one after that is made in it (a buffer posted between threads is a new object each
    // time: the first result's old view shows the third's bytes), byte for byte right.
    const third = await made(3);
    expect(new Float64Array(first.bytes.buffer, 16, 4)).toEqual(new Float64Array([3, 3, 3, 3]));
    expect(new Float64Array(second.bytes.buffer, 16, 4)).toEqual(new Float64Array([2, 2, 2, 2]));
    expect(await m.get(sum.remote(third.r))).toBe(N * 3);
  });
});
