// The coordinator's `hurry` (coordinator/scheduler/direct-hurry.ts): whom it asks for a held direct report, and how
// often. Fakes of the GCS and sessions; the real path is test/integration/direct-hurry.
import { describe, expect, it } from 'vitest';
import { DirectHurry } from '../../coordinator/scheduler/direct-hurry.js';
import type { Gcs } from '../../coordinator/gcs/gcs.js';
import type { ObjectRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import type { Session } from '../../coordinator/session.js';
import { newJobId, returnObjectId, rootTaskId, childTaskId, type JobId, type TaskId } from '../../shared/ids.js';
import type { Msg } from '../../shared/protocol/messages.js';

type FakeSession = Session & { got: Msg[] };
function session(extra: Partial<Session> = {}): FakeSession {
  const got: Msg[] = [];
  return { role: 'node', closed: false, hurry: true, got, send: (m: Msg) => void got.push(m), ...extra } as unknown as FakeSession;
}

function setup() {
  const job = newJobId();
  const tasks = new Map<TaskId, TaskRecord>();
  const straight = new Set<TaskRecord>();
  const hurry = new DirectHurry({ tasks } as unknown as Gcs, (t) => straight.has(t));
  let n = 0;
  const task = (node: Session, opts: { direct?: boolean; state?: TaskRecord['state'] } = {}) => {
    const taskId = childTaskId(rootTaskId(job), n++, 0);
    const t = { spec: { taskId, jobId: job }, state: opts.state ?? 'assigned', node: { session: node } } as unknown as TaskRecord;
    tasks.set(taskId, t);
    if (opts.direct !== false) straight.add(t);
    const out = { id: returnObjectId(taskId, 0), job, state: 'pending' } as unknown as ObjectRecord;
    return { t, out, taskId };
  };
  return { job, hurry, task };
}

const turn = () => new Promise<void>((r) => setTimeout(r, 0));

describe('hurry', () => {
  it("a turn's waits on one node's direct tasks make one hurry naming each task once", async () => {
    const { hurry, task } = setup();
    const node = session();
    const a = task(node);
    const b = task(node);
    for (let i = 0; i < 5; i++) hurry.awaited(a.out, null); // five dependants of a
    hurry.awaited(b.out, session()); // another node's task reads b
    expect(node.got).toEqual([]); // sent at the end of the turn
    await turn();
    expect(node.got).toEqual([{ t: 'hurry', ids: [a.taskId, b.taskId] }]);
    hurry.awaited(a.out, null); // a later turn asks again
    await turn();
    expect(node.got).toHaveLength(2);
  });

  it("asks nothing for the task's own driver, a task placed by the coordinator, one that ended, or a node that did not say hurry", async () => {
    const { hurry, task, job } = setup();
    const node = session();
    const ownDriver = session({ role: 'driver', jobId: job as JobId });
    hurry.awaited(task(node).out, ownDriver);
    hurry.awaited(task(node, { direct: false }).out, null);
    hurry.awaited(task(node, { state: 'finished' }).out, null);
    const older = session({ hurry: false });
    hurry.awaited(task(older).out, null);
    await turn();
    expect(node.got).toEqual([]);
    expect(older.got).toEqual([]);
    // Another driver (its job's ref passed on) does ask.
    hurry.awaited(task(node).out, session({ role: 'driver', jobId: newJobId() }));
    await turn();
    expect(node.got).toHaveLength(1);
  });
});
