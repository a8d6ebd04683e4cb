// The node's handoff of queued tasks to its executors (shared/node/executors.ts,
// issue 14). What work stealing relies on: a task that reaches an idle executor
// goes at once and alone, and what arrives behind it stays in the node's queue
// (where NodeTasks.giveBack can still take it) until that executor reports back;
// then the queue leaves in batches. Handing a whole frame of tasks to idle
// executors at once saves node CPU (docs/decisions.md, session 24) but leaves
// nothing to steal when a function measured short runs long.
import { describe, expect, it } from 'vitest';
import { LocalScheduler, type LocalTask, type SpawnExecutor } from '../../shared/node/executors.js';
import type { ToExecutor } from '../../shared/executor/protocol.js';
import type { FunctionId } from '../../shared/ids.js';

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
    (fnId) => ({ fnId: fnId as FunctionId, kind: 'function', name: 'f', source: '() => 1' }),
    () => {},
    () => {},
    () => {},
    cpus,
    () => ({ k: 'config', config: { inlineMax: 65536, nodeName: 'n' } }),
  );
  // The function has run before and is short: its queued tasks may go in batches.
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

describe('the handoff of queued tasks to executors', () => {
  it('a lone task goes at once, alone', () => {
    const w = world(2);
    w.arrive(1);
    expect(w.posts).toEqual([{ ex: 0, ids: ['t0'] }]);
    expect(w.local.queued).toBe(0);
  });

  it('of a frame that reaches idle executors, one task goes to each; the rest waits, then leaves in one batch', () => {
    const w = world(2);
    w.arrive(16);
    expect(w.posts).toEqual([
      { ex: 0, ids: ['t0'] },
      { ex: 1, ids: ['t1'] },
    ]);
    expect(w.local.queued).toBe(14);
    w.finish(0);
    expect(w.posts[2]).toEqual({ ex: 0, ids: Array.from({ length: 14 }, (_, i) => `t${2 + i}`) });
    expect(w.local.queued).toBe(0);
  });

  it('what waits behind a task that runs on can be taken back for another node', () => {
    const w = world(1);
    const ts = w.arrive(8);
    expect(w.posts).toEqual([{ ex: 0, ids: ['t0'] }]);
    // A node asked to give work back removes its newest tasks not started (NodeTasks.giveBack).
    for (const t of ts.slice(1).reverse()) expect(w.local.remove(t)).toBe(true);
    expect(w.local.remove(ts[0])).toBe(false);
    expect(w.local.queued).toBe(0);
    w.finish(0);
    expect(w.posts.length).toBe(1);
  });

  it('a batch holds at most 32 tasks', () => {
    const w = world(1);
    w.arrive(41);
    w.finish(0);
    expect(w.posts.map((p) => p.ids.length)).toEqual([1, 32]);
    expect(w.local.queued).toBe(8);
  });
});
