// A task's `done` settles its first output from the task's record (coordinator/scheduler/task-values.ts
// outputOf, issue 14, session 17): no object id is built and nothing is looked up by id on the hot path; an
// output freed while its task ran is not settled (the node is told to drop a stored copy), and one made again
// under the same id since is the one settled.
// White-box: a real Coordinator (in-memory GCS), a hand-made task record and node session.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { outputOf, storeResults } from '../../coordinator/scheduler/task-values.js';
import { newTask } from '../../coordinator/scheduler/task-states.js';
import type { TaskRecord } from '../../coordinator/gcs/tables.js';
import type { MsgOf, TaskSpec } from '../../shared/protocol/messages.js';
import { childTaskId, newJobId, returnObjectId, rootTaskId } from '../../shared/ids.js';
import { fakeSession } from '../helpers/fake-session.js';

let c: Coordinator | null = null;
afterEach(() => {
  c?.close();
  c = null;
});

function world(numReturns: number) {
  const co = (c = new Coordinator({ storage: new MemoryStorage() }));
  const job = newJobId();
  const taskId = childTaskId(rootTaskId(job), 0);
  const spec = { taskId, jobId: job, numReturns } as unknown as TaskSpec;
  const t: TaskRecord = newTask(spec, { state: 'running', liveOutputs: numReturns });
  const outs = Array.from({ length: numReturns }, (_, i) => co.dir.create(returnObjectId(taskId, i), job, 1));
  t.out0 = outs[0];
  const done = (results: MsgOf<'done'>['results']): MsgOf<'done'> => ({ t: 'done', taskId, attempt: 0, ms: 1, results });
  return { co, t, outs, done, taskId };
}

describe("a task's outputs at its done", () => {
  it('the first is settled from the task record, with no lookup by id; the second by id', () => {
    const w = world(2);
    const get = vi.spyOn(w.co.gcs.objects, 'get');
    const node = fakeSession('node');
    storeResults(w.co.dir, w.t, w.done([{ v: new Uint8Array([7]), refs: [] }]), node);
    expect(w.outs[0].state).toBe('ready');
    expect(Array.from(w.outs[0].v!)).toEqual([7]);
    expect(get).not.toHaveBeenCalled();
    storeResults(
      w.co.dir,
      w.t,
      w.done([
        { v: new Uint8Array([7]), refs: [] },
        { size: 100, hash: 'h', refs: [] },
      ]),
      node,
    );
    expect(get).toHaveBeenCalledTimes(1);
    expect(w.outs[1].state).toBe('ready');
  });

  it('a first output freed while the task ran is not settled: the node drops its stored copy', () => {
    const w = world(1);
    w.co.dir.decRef(w.outs[0].id); // its only holder let go: a pending output stays until it settles
    w.co.dir.free(w.outs[0]);
    expect(w.outs[0].freed).toBe(true);
    expect(outputOf(w.co.dir, w.t, 0)).toBeUndefined();
    const node = fakeSession('node');
    storeResults(w.co.dir, w.t, w.done([{ size: 100, hash: 'h', refs: [] }]), node);
    expect(node.sent).toEqual([{ t: 'free', ids: [returnObjectId(w.taskId, 0)] }]);
    expect(w.outs[0].state).toBe('pending');
  });

  it('an output made again under the same id after the first was freed is the one settled', () => {
    const w = world(1);
    w.co.dir.free(w.outs[0]);
    const again = w.co.dir.create(returnObjectId(w.taskId, 0), w.t.spec.jobId, 1);
    expect(outputOf(w.co.dir, w.t, 0)).toBe(again);
    storeResults(w.co.dir, w.t, w.done([{ v: new Uint8Array([1]), refs: [] }]), fakeSession('node'));
    expect(again.state).toBe('ready');
    expect(w.outs[0].state).toBe('pending');
  });
});
