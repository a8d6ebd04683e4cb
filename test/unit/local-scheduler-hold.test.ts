// A node's local scheduler while a coordinator frame is handled (shared/node/executors.ts hold/unhold, issue 14,
// session 21): the frame's tasks wait and leave at its end, short tasks of one function in batches, instead of the
// first ones going one message each to whichever executor was idle.
import { describe, expect, it } from 'vitest';
import { LocalScheduler, type LocalTask } from '../../shared/node/executors.js';
import type { ToExecutor } from '../../shared/executor/protocol.js';
import { childTaskId, newJobId, rootTaskId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';

const job = newJobId();
const root = rootTaskId(job);
let n = 0;
const FN = 'cd'.repeat(16);

function task(): LocalTask {
  const spec = {
    taskId: childTaskId(root, n++),
    jobId: job,
    parentId: root,
    fnId: FN,
    name: 'noop',
    args: [],
    nested: [],
    numReturns: 1,
    resources: { cpu: 1 },
    maxRetries: 0,
    attempt: 0,
    timeoutMs: 0,
  } as unknown as TaskSpec;
  return { spec, args: [], missing: 0, state: 'resolving', executor: null, blocked: false, holds: [], timer: null };
}

/** A scheduler of `count` executors that records what each is posted; the function is known short (batched). */
function scheduler(count: number) {
  const posts: { ex: number; m: ToExecutor }[] = [];
  const local = new LocalScheduler(
    (index) => ({ post: (m) => void posts.push({ ex: index, m }), terminate: () => {} }),
    () => ({ fnId: FN, kind: 'function', name: 'noop', source: 'function noop() {}' }) as never,
    () => {},
    () => {},
    () => {},
    count,
    () => ({ k: 'config', config: { inlineMax: 65536, nodeName: 'n', nodeId: null } }) as ToExecutor,
  );
  local.recordRun(FN, 0.01);
  const runs = () => posts.filter((p) => p.m.k === 'run' || p.m.k === 'runs');
  const tasksIn = (m: ToExecutor) => (m.k === 'runs' ? m.c.ids.length : m.k === 'run' ? m.tasks.length : 0);
  return { local, runs, tasksIn };
}

describe('a coordinator frame held by the local scheduler', () => {
  it("the frame's tasks leave at its end, one batch for each idle executor", () => {
    const s = scheduler(2);
    s.local.hold();
    const ts = Array.from({ length: 10 }, task);
    for (const t of ts) s.local.enqueue(t);
    expect(s.runs()).toHaveLength(0);
    expect(ts.every((t) => t.state === 'ready')).toBe(true);
    s.local.unhold();
    expect(s.runs()).toHaveLength(2);
    expect(
      s
        .runs()
        .map((r) => s.tasksIn(r.m))
        .reduce((a, b) => a + b, 0),
    ).toBe(10);
    expect(ts.every((t) => t.state === 'running')).toBe(true);
  });

  it('without a hold the first tasks go one message each, as they come', () => {
    const s = scheduler(2);
    for (let i = 0; i < 10; i++) s.local.enqueue(task());
    expect(s.runs().map((r) => s.tasksIn(r.m))).toEqual([1, 1]);
    expect(s.local.queued).toBe(8);
  });

  it('nested holds: tasks leave at the outer end only', () => {
    const s = scheduler(1);
    s.local.hold();
    s.local.hold();
    s.local.enqueue(task());
    s.local.unhold();
    expect(s.runs()).toHaveLength(0);
    s.local.unhold();
    expect(s.runs()).toHaveLength(1);
  });

  it('a task dropped while held never runs', () => {
    const s = scheduler(1);
    s.local.hold();
    const [a, b] = [task(), task()];
    s.local.enqueue(a);
    s.local.enqueue(b);
    expect(s.local.remove(a)).toBe(true);
    s.local.unhold();
    expect(s.runs()).toHaveLength(1);
    expect(a.state).toBe('resolving');
    expect(b.state).toBe('running');
  });
});
