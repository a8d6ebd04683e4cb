// Receiver memory reuse (issue 17): a freed object's buffer goes back to the
// pool only once every executor it was posted to let its view go; a task that
// keeps the array keeps its bytes. Real worker_threads executors (edge/worker.ts
// from dist/: run `npm run build` first), a real store and memory pool.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { allocBytes, drainPool, forPosting, viewsLent } from '../../shared/bytes.js';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { childTaskId, newJobId, putObjectId, rootTaskId, type TaskId } from '../../shared/ids.js';
import type { FromExecutor, RunTask } from '../../shared/executor/protocol.js';
import { resultsOf } from '../../shared/executor/columns.js';
import { ExecutorPool } from '../../shared/node/executor-pool.js';
import type { Executor } from '../../shared/node/local-task.js';
import { ObjectStore } from '../../shared/node/store.js';
import { workerThreadExecutors } from '../../edge/executors.js';

const N = 1 << 20; // 8 MiB of Float64
const job = newJobId();
let submitted = 0;
const waiting = new Map<TaskId, (v: unknown) => void>();

function onMessage(_ex: Executor, m: FromExecutor): void {
  if (m.k !== 'done' && m.k !== 'dones') return;
  for (const r of m.k === 'done' ? m.results : resultsOf(m.c)) {
    const done = waiting.get(r.taskId);
    waiting.delete(r.taskId);
    done?.(r.ok ? decodeValue(r.returns[0].bytes) : new Error(r.failure.message));
  }
}

/** Runs `source` on `ex` with these encoded arguments, shared ones lent as the node lends them. */
function run(ex: Executor, name: string, source: string, args: Uint8Array[] = []): Promise<unknown> {
  const taskId = childTaskId(rootTaskId(job), submitted++);
  const transfer: ArrayBuffer[] = [];
  const t: RunTask = {
    taskId,
    jobId: job,
    attempt: 0,
    gen: 0,
    fnId: name,
    name,
    source,
    args: args.map((a) => forPosting(a, transfer, ex.leases)),
    numReturns: 1,
  };
  const out = new Promise<unknown>((resolve) => waiting.set(taskId, resolve));
  ex.handle.post({ k: 'run', tasks: [t], lent: ex.leases.take() }, transfer);
  return out;
}

async function until(what: string, ok: () => boolean, state: () => unknown, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (now ${String(state())})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const KEEP = '(a) => { globalThis.kept = a; return a.length; }';
const SUM = '(a) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]; return s; }';
const SUM_KEPT = '() => { const a = globalThis.kept; let s = 0; for (let i = 0; i < a.length; i++) s += a[i]; return s; }';
const DROP = '() => { globalThis.kept = undefined; return 0; }';

let pool: ExecutorPool | null = null;
afterEach(() => {
  pool?.terminateAll();
  pool = null;
  drainPool();
});

function setup(): { ex: readonly Executor[]; store: ObjectStore; bytes: Uint8Array; id: ReturnType<typeof putObjectId> } {
  drainPool();
  pool = new ExecutorPool(
    workerThreadExecutors(),
    onMessage,
    () => {},
    () => ({ k: 'config', config: { inlineMax: 64 * 1024, nodeName: 'leases' } }),
    2,
  );
  const store = new ObjectStore({ memoryBytes: 64 << 20 });
  const { bytes } = encodeValue(new Float64Array(N).fill(1.5));
  const id = putObjectId(rootTaskId(job), submitted++);
  store.put(id, bytes, { hash: 'h', primary: true });
  return { ex: pool.executors, store, bytes, id };
}

describe('views of object memory lent to executors', () => {
  it("a freed object's buffer is reused only after every executor let its view go; a task that keeps the array keeps its bytes", async () => {
    const { ex, store, bytes, id } = setup();
    expect(await run(ex[0], 'keep', KEEP, [bytes])).toBe(N);
    expect(await run(ex[1], 'sum', SUM, [bytes])).toBe(N * 1.5);
    expect(viewsLent(bytes)).toBeGreaterThanOrEqual(1);

    // Freed: the executor that kept nothing collects and gives its view back; the other still holds one. The same
    // wait as for the dropped view below, with the same bound.
    store.delete(id);
    await until(
      'the view nobody holds to come back',
      () => viewsLent(bytes) === 1,
      () => `${viewsLent(bytes)} views lent`,
      40_000,
    );
    const other = allocBytes(bytes.byteLength, true);
    expect(other.buffer).not.toBe(bytes.buffer);
    other.fill(9); // a new object's bytes: they must not land in the kept array
    await new Promise((r) => setTimeout(r, 300));
    expect(viewsLent(bytes)).toBe(1);
    expect(await run(ex[0], 'sumKept', SUM_KEPT)).toBe(N * 1.5);

    // The task lets go: after its next collection the buffer is the pool's again. The executor collects 1, 2, 4,
    // 8, 16 s after the task; the bound is wide because a collection can miss the view while something else
    // still holds it for a while (CI once saw 15 s go by under load: e.g. a background compile of the task that
    // read the global keeps a handle to its value until the compile ends). At load 12 it came back 0.2-0.6 s
    // after the task in 4 of 4 runs (session 20), the first collection after it.
    expect(await run(ex[0], 'drop', DROP)).toBe(0);
    await until(
      'the kept view to come back once dropped',
      () => viewsLent(bytes) === 0,
      () => `${viewsLent(bytes)} views lent`,
      40_000,
    );
    expect(allocBytes(bytes.byteLength, true).buffer).toBe(bytes.buffer);
  });

  it('an executor that goes gives back every view it held; a buffer still in the store is not reused', async () => {
    const { ex, store, bytes, id } = setup();
    expect(await run(ex[0], 'keep', KEEP, [bytes])).toBe(N);
    expect(viewsLent(bytes)).toBe(1);
    // Its object is not freed: the view going back does not free the buffer.
    expect(await run(ex[0], 'drop', DROP)).toBe(0);
    pool!.restart(ex[0]);
    expect(viewsLent(bytes)).toBe(0);
    expect(allocBytes(bytes.byteLength, true).buffer).not.toBe(bytes.buffer);
    expect(store.getSync(id)![100]).toBe(bytes[100]);
    // Lent to the new executor, kept, freed, then the executor is replaced: the buffer is the pool's.
    expect(await run(pool!.executors[0], 'keep', KEEP, [bytes])).toBe(N);
    store.delete(id);
    await new Promise((r) => setTimeout(r, 200));
    expect(viewsLent(bytes)).toBe(1);
    pool!.restart(pool!.executors[0]);
    expect(allocBytes(bytes.byteLength, true).buffer).toBe(bytes.buffer);
  });
});

describe('an executor that made a large result', () => {
  it('collects soon after (its value is garbage an idle worker would keep), at most once a second', async () => {
    const { ViewRelease } = await import('../../shared/executor/view-release.js');
    let collections = 0;
    const v = new ViewRelease({ post: () => {} } as never, () => void collections++);
    v.madeGarbage();
    await new Promise((r) => setTimeout(r, 20));
    expect(collections).toBe(1);
    v.madeGarbage();
    await new Promise((r) => setTimeout(r, 200));
    expect(collections).toBe(1); // within a second of the last one: waits
    await new Promise((r) => setTimeout(r, 1000));
    expect(collections).toBe(2);
  });
});

describe('a lease the node asked back and still held', () => {
  it('is collected for again on its own, less and less often, with no task ending; a task ending brings it forward and starts the gaps over', async () => {
    const { ViewRelease } = await import('../../shared/executor/view-release.js');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const at: number[] = [];
      const v = new ViewRelease({ post: () => {} } as never, () => void at.push(performance.now()));
      const buf = new SharedArrayBuffer(8); // held here: its lease never comes back
      v.watch([{ id: 7, buf }]);
      v.reclaim([7]);
      await vi.advanceTimersByTimeAsync(10_000);
      // At once, then 1 s, 2 s, 4 s apart.
      expect(at.map((t) => Math.round(t - at[0]))).toEqual([0, 1000, 3000, 7000]);
      await vi.advanceTimersByTimeAsync(300_000);
      const gaps = at.slice(1).map((t, i) => t - at[i]);
      expect(Math.max(...gaps)).toBe(60_000); // the gap stops growing at a minute
      const n = at.length;
      const ended = performance.now();
      v.tasksEnded(); // a task ended: the next look within a second, not a minute, then 1, 2, 4 s apart again
      await vi.advanceTimersByTimeAsync(8000);
      expect(at[n] - ended).toBeLessThanOrEqual(1000);
      expect(at.slice(n + 1, n + 4).map((t, i) => Math.round(t - at[n + i]))).toEqual([1000, 2000, 4000]);
      expect(buf.byteLength).toBe(8);
    } finally {
      vi.useRealTimers();
    }
  });
});
