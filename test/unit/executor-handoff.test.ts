// The node's handoff of queued tasks to its executors (shared/node/executors.ts,
// issue 14): the tasks one incoming frame admits leave together once the frame
// is handled (a microtask), a lone task still in the same turn; idle executors
// take at most half of what just arrived, the rest stays queued where work
// stealing (NodeTasks.giveBack) can take it back.
import { describe, expect, it } from 'vitest';
import { arrivalShare, LocalScheduler, type LocalTask, type SpawnExecutor } from '../../shared/node/executors.js';
import type { ToExecutor } from '../../shared/executor/protocol.js';
import { runsOf } from '../../shared/executor/columns.js';

function world(cpus: number) {
  /** Each post of runs: the executor's index and the task ids it carried. */
  const posts: { ex: number; ids: string[] }[] = [];
  const spawn: SpawnExecutor = (index) => ({
    post: (m: ToExecutor) => {
      if (m.k === 'runs') posts.push({ ex: index, ids: m.c.ids });
      else if (m.k === 'run') posts.push({ ex: index, ids: m.tasks.map((t) => t.taskId) });
    },
    terminate() {},
  });
  const local = new LocalScheduler(
    spawn,
    (fnId) => ({ fnId, kind: 'function', name: 'f', source: '() => 1' }),
    () => {},
    () => {},
    () => {},
    cpus,
    () => ({ k: 'config', config: { inlineMax: 65536, nodeName: 'n' } }),
  );
  // The function has run before and is short: its queued tasks go in batches.
  local.recordRun('fn', 0.05);
  let next = 0;
  const task = (): LocalTask =>
    ({
      spec: { taskId: `t${next++}`, jobId: 'j', fnId: 'fn', name: 'f', attempt: 0, args: [], numReturns: 1, resources: { cpu: 1 }, timeoutMs: 0 },
      args: [],
      missing: 0,
      state: 'resolving',
      executor: null,
      blocked: false,
      holds: [],
      timer: null,
    }) as unknown as LocalTask;
  /** What handling one frame of `n` assigns does: each admitted task queued, one after another. */
  const arrive = (n: number): LocalTask[] => {
    const ts = Array.from({ length: n }, task);
    for (const t of ts) local.enqueue(t);
    return ts;
  };
  /** Executor `ex` reports every task it holds done, as the node's CallServer ends them, then pumps. */
  const finish = (ex: number) => {
    const e = local.executors[ex];
    for (const t of [...e.tasks]) {
      t.state = 'ended';
      local.release(t);
    }
    local.pump();
  };
  return { local, posts, arrive, finish };
}

/** The microtasks queued so far run (what follows the handling of a frame in the same turn). */
const frameHandled = () => Promise.resolve();

describe('the handoff of queued tasks to executors', () => {
  it('a lone task goes in the same turn, alone', async () => {
    const w = world(2);
    w.arrive(1);
    await frameHandled();
    expect(w.posts).toEqual([{ ex: 0, ids: ['t0'] }]);
    expect(w.local.queued).toBe(0);
  });

  it('a burst that arrives in one frame goes in one message per idle executor, half of it', async () => {
    const w = world(2);
    w.arrive(16);
    await frameHandled();
    // Before: t0 alone to one executor, t1 alone to the other, 14 queued.
    expect(w.posts.map((p) => p.ids.length)).toEqual([4, 4]);
    expect(new Set(w.posts.map((p) => p.ex))).toEqual(new Set([0, 1]));
    expect(w.local.queued).toBe(8);
    // The first executor to report back takes what is left, in one message.
    w.finish(0);
    expect(w.posts.length).toBe(3);
    expect(w.posts[2]).toEqual({ ex: 0, ids: Array.from({ length: 8 }, (_, i) => `t${8 + i}`) });
    expect(w.local.queued).toBe(0);
  });

  it('leaves the newest half queued, where stealing can take it back, while what went runs on', async () => {
    const w = world(1);
    const ts = w.arrive(8);
    await frameHandled();
    expect(w.posts).toEqual([{ ex: 0, ids: ['t0', 't1', 't2', 't3'] }]);
    // A node asked to give work back removes its newest tasks not started (NodeTasks.giveBack).
    for (const t of ts.slice(4).reverse()) expect(w.local.remove(t)).toBe(true);
    expect(w.local.queued).toBe(0);
    for (const t of ts.slice(0, 4)) expect(w.local.remove(t)).toBe(false);
    w.finish(0);
    expect(w.posts.length).toBe(1);
  });

  it('queues of tasks that wait for a busy executor leave as before: a batch when it reports back', async () => {
    const w = world(1);
    w.arrive(1);
    await frameHandled();
    w.arrive(40);
    await frameHandled();
    expect(w.posts.length).toBe(1);
    w.finish(0);
    expect(w.posts.map((p) => p.ids.length)).toEqual([1, 32]);
  });

  it('the columns an executor reads carry the same tasks', async () => {
    const w = world(1);
    const sent: ToExecutor[] = [];
    w.local.executors[0].handle.post = (m) => void sent.push(m);
    w.arrive(3);
    await frameHandled();
    const m = sent.find((x) => x.k === 'runs');
    expect(m && m.k === 'runs' && runsOf(m.c).map((t) => t.taskId)).toEqual(['t0', 't1']);
  });

  it('a slot a task queued in this frame will take is not free; another idle executor still is', async () => {
    const w = world(2);
    expect(w.local.hasFreeSlot()).toBe(true);
    w.arrive(1);
    // A direct task or a nested one admitted next in the same frame would start at once on the other executor.
    expect(w.local.hasFreeSlot()).toBe(true);
    w.arrive(1);
    expect(w.local.hasFreeSlot()).toBe(false);
    await frameHandled();
    expect(w.posts.map((p) => p.ex).sort()).toEqual([0, 1]);
    expect(w.local.hasFreeSlot()).toBe(false);
  });

  it('shares out half of what arrived, at least one task an executor', () => {
    expect(arrivalShare(1, 2)).toBe(1);
    expect(arrivalShare(2, 2)).toBe(1);
    expect(arrivalShare(8, 1)).toBe(4);
    expect(arrivalShare(33, 2)).toBe(9);
    expect(arrivalShare(5, 0)).toBe(3);
  });
});
