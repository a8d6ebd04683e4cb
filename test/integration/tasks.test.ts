// Scenarios of the task path against a real coordinator and real edge-node processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { ObjectRef } from '../../shared/index.js';
import { taskOfObject } from '../../shared/ids.js';
import type { TaskRecord } from '../../coordinator/gcs/tables.js';

declare const mesh: Mesh; // inside tasks

describe('tasks on one edge node', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    m = await cl.driver();
  });
  afterAll(() => cl.stop());

  it('runs 1,000 independent tasks and returns every result in order', async () => {
    const square = m.remote((x: number) => x * x);
    const refs = Array.from({ length: 1000 }, (_, i) => square.remote(i));
    const out = await m.get(refs);
    expect(out).toEqual(Array.from({ length: 1000 }, (_, i) => i * i));
  });

  it('reduces 1,024 leaves as a tree of futures (a dynamic DAG)', async () => {
    const leaf = m.remote((i: number) => i);
    const add = m.remote((a: number, b: number) => a + b);
    let level: ObjectRef<number>[] = Array.from({ length: 1024 }, (_, i) => leaf.remote(i));
    while (level.length > 1) {
      const next: ObjectRef<number>[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(add.remote(level[i], level[i + 1]));
      level = next;
    }
    expect(await m.get(level[0])).toBe((1023 * 1024) / 2);
  });

  it('computes Fibonacci recursively through nested tasks on 2 executors without deadlock', async () => {
    const fib = m.remote(async function fib(n: number): Promise<number> {
      if (n < 2) return n;
      const f = mesh.remote(fib);
      const [a, b] = await mesh.get([f.remote(n - 1), f.remote(n - 2)]);
      return a + b;
    });
    expect(await m.get(fib.remote(12))).toBe(144);
  });

  it('lets tasks put objects and pass refs nested in values, which arrive as refs', async () => {
    const producer = m.remote(() => {
      const inner = mesh.put({ word: 'inside' });
      return { inner, list: [inner] };
    });
    const consumer = m.remote(async (box: { inner: ObjectRef<{ word: string }> }) => {
      const isRef = typeof box.inner === 'object' && box.inner !== null && 'id' in box.inner;
      const v = await mesh.get(box.inner);
      return { isRef, word: v.word };
    });
    expect(await m.get(consumer.remote(producer.remote()))).toEqual({ isRef: true, word: 'inside' });
    const outer = await m.get(producer.remote());
    expect(await m.get(outer.inner)).toEqual({ word: 'inside' });
    expect(outer.list[0].id).toBe(outer.inner.id);
  });

  it('waits for numReturns refs and honours the timeout', async () => {
    const sleep = m.remote(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    });
    const refs = [sleep.remote(10), sleep.remote(20), sleep.remote(3000), sleep.remote(3000)];
    const { ready, pending } = await m.wait(refs, { numReturns: 2 });
    expect(ready.map((r) => r.id)).toEqual([refs[0].id, refs[1].id]);
    expect(pending.map((r) => r.id)).toEqual([refs[2].id, refs[3].id]);
    // The timeout ends the wait, not the 3 s tasks (those would come back ready): counts, no wall-clock bound.
    const w = await m.wait(refs.slice(2), { numReturns: 2, timeoutMs: 200 });
    expect(w.ready).toHaveLength(0);
    expect(w.pending).toHaveLength(2);
    for (const r of refs.slice(2)) m.cancel(r, { force: true });
  });

  it('throws GetTimeoutError from get when the value is not ready in time', async () => {
    const slow = m.remote(async () => {
      await new Promise((r) => setTimeout(r, 5000));
      return 1;
    });
    const ref = slow.remote();
    await expect(m.get(ref, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'GET_TIMEOUT', name: 'GetTimeoutError' });
    m.cancel(ref, { force: true });
  });

  it('supports numReturns > 1', async () => {
    const pair = m.remote((x: number): [number, string] => [x, String(x)]).options({ numReturns: 2 });
    const [a, b] = pair.remote(7);
    expect(await m.get([a, b])).toEqual([7, '7']);
  });

  it('runs tasks that submit tasks from inside an executor (tasks can submit tasks)', async () => {
    const outer = m.remote(async (n: number) => {
      const inner = mesh.remote((x: number) => x + 1);
      const refs = [];
      for (let i = 0; i < n; i++) refs.push(inner.remote(i));
      return (await mesh.get(refs)).reduce((a: number, b: number) => a + b, 0);
    });
    expect(await m.get(outer.remote(100))).toBe((100 * 101) / 2);
  });

  it('a task that ends within a few ms sends no `started`, yet its record ran; a slow one is seen running (issue 14)', async () => {
    const tm = cl.c.coordinator.tasks;
    const record = (r: ObjectRef<unknown>) => cl.c.coordinator.gcs.tasks.get(taskOfObject(r.id as never))!;
    // How each record went to `running`: a `started` frame (no run time), or its end (the run time it carried).
    const how = new Map<string, 'frame' | 'end'>();
    const started = tm.started.bind(tm);
    tm.started = (t: TaskRecord, ex?: number, agoMs?: number) => {
      how.set(t.spec.taskId, agoMs === undefined ? 'frame' : 'end');
      started(t, ex, agoMs);
    };
    try {
      const quick = m.remote(function quick(x: number) {
        return x + 1;
      });
      const refs: ObjectRef<number>[] = [];
      for (let i = 0; i < 50; i++) {
        refs.push(quick.remote(i));
        expect(await m.get(refs[i])).toBe(i + 1);
      }
      // A result shortcut (shared/protocol/shortcut.ts) reaches the driver beside the node's `done`, not after it; a direct
      // task's value (shared/protocol/direct.ts) before its record too (the driver's submit rides on a later frame).
      await cl.until(() => refs.every((r) => cl.c.coordinator.gcs.tasks.get(taskOfObject(r.id as never))?.state === 'finished'));
      for (const r of refs) {
        const t = record(r);
        // Through `running` either way: started before it ended, on a slot of the node's 2.
        expect(t.state).toBe('finished');
        expect(how.has(t.spec.taskId)).toBe(true);
        expect(t.startedAt).toBeGreaterThanOrEqual(t.submittedAt);
        expect(t.startedAt).toBeLessThanOrEqual(t.endedAt);
        expect([0, 1]).toContain(t.executor);
      }
      // Each ran in well under a ms: unless the machine starves the node for 5 ms at every one, most sent no frame.
      const quiet = refs.filter((r) => how.get(record(r).spec.taskId) === 'end').length;
      expect(quiet).toBeGreaterThan(0);

      const slow = m.remote(async function slow() {
        await new Promise((r) => setTimeout(r, 400));
        return 'late';
      });
      const s = slow.remote();
      await cl.until(
        () => record(s)?.state === 'running',
        5000,
        () => `slow task is ${record(s)?.state}`,
      );
      // Seen running before it ended: its start was stamped by then, its end after (no timing bound: a starved node may send `started` late).
      const seenRunning = Date.now();
      expect(how.get(record(s).spec.taskId)).toBe('frame');
      expect(await m.get(s)).toBe('late');
      await cl.until(() => record(s).state === 'finished'); // a shortcut may come before the `done` is handled
      expect(record(s).startedAt).toBeLessThanOrEqual(seenRunning);
      expect(record(s).endedAt).toBeGreaterThanOrEqual(seenRunning);
      m.free([...refs, s]);
    } finally {
      tm.started = started;
    }
  });
});
