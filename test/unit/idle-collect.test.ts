// An executor thread collects once idle after its tasks grew its heap
// (shared/executor/idle-collect.ts, session 32): a unit test of the box with a
// fake heap and collector, then of its wiring into ExecutorCore with a fake
// endpoint (no thread: the collector is counted, not run).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleCollect } from '../../shared/executor/idle-collect.js';
import { ExecutorCore } from '../../shared/executor/core.js';
import { resultsOf } from '../../shared/executor/columns.js';
import { encodeValue } from '../../shared/codec.js';
import type { ExecutorEndpoint, FromExecutor, RunTask, ToExecutor } from '../../shared/executor/protocol.js';
import type { JobId, TaskId } from '../../shared/ids.js';

const MiB = 1 << 20;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeHeap(start = 10 * MiB) {
  const h = { bytes: start, collected: 0, inFlight: 0 };
  // A collection frees what the tasks left: back to the start.
  const collect = () => {
    h.collected++;
    h.bytes = start;
  };
  return { h, collect, heapBytes: () => h.bytes, inFlight: () => h.inFlight };
}

describe('IdleCollect', () => {
  // On fake clocks (its timer and performance.now()): a 20 ms real wait between "batches" took over 40 ms under load
  // and the idle check collected (session 38, the unit files shuffled beside two CPU burners).
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());
  const wait = (ms: number) => vi.advanceTimersByTimeAsync(ms);

  it('collects once idle after the heap grew past the growth, and not again until it grows again', async () => {
    const f = fakeHeap();
    const c = new IdleCollect(f.collect, f.heapBytes, f.inFlight, 30, 8 * MiB);
    f.h.bytes += 20 * MiB;
    c.ended();
    expect(f.h.collected).toBe(0);
    await wait(80);
    expect(f.h.collected).toBe(1);
    expect(c.collections).toBe(1);
    // Nothing grew since: tasks ending bring no collection.
    c.ended();
    await wait(80);
    expect(f.h.collected).toBe(1);
  });

  it('does not collect for growth under the threshold, measured from the least heap seen (V8 collecting on its own)', async () => {
    const f = fakeHeap(40 * MiB);
    const c = new IdleCollect(f.collect, f.heapBytes, f.inFlight, 20, 8 * MiB);
    f.h.bytes += 5 * MiB;
    c.ended();
    await wait(60);
    expect(f.h.collected).toBe(0);
    // V8 collected by itself: the idle check sees the heap lower and takes it as the base.
    f.h.bytes = 20 * MiB;
    c.ended();
    await wait(60);
    expect(f.h.collected).toBe(0);
    // So 10 MiB more from there is growth.
    f.h.bytes = 30 * MiB;
    c.ended();
    await wait(60);
    expect(f.h.collected).toBe(1);
  });

  it('waits while work arrives, and skips the collection while a task is in flight', async () => {
    const f = fakeHeap();
    const c = new IdleCollect(f.collect, f.heapBytes, f.inFlight, 40, 8 * MiB);
    f.h.bytes += 20 * MiB;
    c.ended();
    // New batches keep coming for 120 ms: never idle 40 ms.
    for (let i = 0; i < 6; i++) {
      await wait(20);
      c.busy();
    }
    expect(f.h.collected).toBe(0);
    f.h.inFlight = 1;
    await wait(100);
    expect(f.h.collected).toBe(0); // a long task still runs
    f.h.inFlight = 0;
    c.ended();
    await wait(100);
    expect(f.h.collected).toBe(1);
  });

  it('measures the heap once an idle period, not once a batch', async () => {
    let measured = 0;
    const c = new IdleCollect(
      () => {},
      () => (measured++, 0),
      () => 0,
      30,
    );
    measured = 0;
    for (let i = 0; i < 1000; i++) c.ended();
    expect(measured).toBe(0);
    await wait(80);
    expect(measured).toBe(1);
  });
});

describe('ExecutorCore with a platform that can collect', () => {
  const job = 'ab'.repeat(8) as JobId;
  const task = (i: number, source: string): RunTask => ({
    taskId: i.toString(16).padStart(32, '0') as TaskId,
    jobId: job,
    attempt: 0,
    gen: 0,
    fnId: 'f'.padEnd(32, '0'),
    name: 'work',
    source,
    args: [encodeValue(i).bytes],
    numReturns: 1,
  });

  it('collects about a second after tasks that grew its heap end, and never with no way to measure the heap', async () => {
    for (const measured of [true, false]) {
      const posted: FromExecutor[] = [];
      let deliver: (m: ToExecutor) => void = () => {};
      const ep = { post: (m: FromExecutor) => posted.push(m), onMessage: (h: (m: ToExecutor) => void) => (deliver = h) } as unknown as ExecutorEndpoint;
      let heap = 10 * MiB;
      let collected = 0;
      const collect = () => {
        collected++;
        heap = 10 * MiB;
      };
      new ExecutorCore(ep, undefined, collect, measured ? () => heap : undefined);
      // The task "allocates" 32 MiB it drops (the fake heap grows as it runs).
      (globalThis as { __grow?: () => void }).__grow = () => void (heap += 32 * MiB);
      deliver({ k: 'run', tasks: [task(1, 'function work(x) { globalThis.__grow(); return x; }')] });
      const t0 = Date.now();
      while (posted.length === 0 && Date.now() - t0 < 5000) await wait(10);
      expect(posted.flatMap((m) => (m.k === 'dones' ? resultsOf(m.c) : [])).length).toBe(1);
      expect(collected).toBe(0);
      await wait(1500);
      expect(collected).toBe(measured ? 1 : 0);
    }
    delete (globalThis as { __grow?: () => void }).__grow;
  });
});
