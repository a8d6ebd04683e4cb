// Recovery and ended jobs' detached actors (coordinator/gcs/recovery-detached.ts):
// a restart reads every row and reads a live detached actor of an ended job back
// under that job (its other rows go); a mesh's takeover of one job does not:
// the actor lives on at the coordinator that ran the job. White-box: a real
// Coordinator (in-memory GCS), the rows as a restart loads them.
import { afterEach, describe, expect, it } from 'vitest';
import { pack, Packr } from 'msgpackr';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { recoverRows, type JobRows } from '../../coordinator/gcs/recovery.js';
import { functionIdOf } from '../../shared/env/declare.js';
import { childTaskId, newJobId, returnObjectId, rootTaskId, type JobId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';

const made: Coordinator[] = [];
afterEach(() => {
  for (const co of made.splice(0)) co.close();
});

const cls = { kind: 'class' as const, name: 'Tally', source: 'class Tally { n = 0; add(k) { return (this.n += k); } }' };
const fnId = functionIdOf(cls);
const rows = new Packr({ useRecords: false, mapsAsObjects: true });

function spec(job: JobId, i: number, actor?: TaskSpec['actor']): TaskSpec {
  const taskId = childTaskId(rootTaskId(job), i);
  return {
    taskId,
    jobId: job,
    parentId: rootTaskId(job),
    fnId,
    name: 'Tally',
    args: [{ v: pack(i) }],
    nested: [],
    numReturns: 1,
    resources: { cpu: 1 },
    maxRetries: 0,
    attempt: 0,
    timeoutMs: 0,
    scheduling: undefined,
    actor: actor && { ...actor, id: taskId },
  };
}

/** An ended job (namespace 'ns') that left a live detached actor and, stale, one finished plain task's row. */
function endedJobRows(job: JobId): { rows: JobRows; actor: TaskSpec; plain: TaskSpec } {
  const actor = spec(job, 0, { kind: 'create', id: '' as never, name: 'kept', detached: true });
  const plain = spec(job, 1);
  const object = (t: TaskSpec): [string, Uint8Array] => {
    const id = returnObjectId(t.taskId, 0);
    return [id, rows.pack({ id, job, state: 'ready', size: 1, hash: '', v: pack(null), failure: null, contains: [] })];
  };
  const counts = { submitted: 2, finished: 2, failed: 0, cancelled: 0 };
  return {
    actor,
    plain,
    rows: {
      jobs: [[job, rows.pack({ id: job, state: 'finished', startedAt: 1, endedAt: 2, counts, secret: 'x', namespace: 'ns' })]],
      tasks: [actor, plain].map((t) => [t.taskId, rows.pack({ spec: t, state: 'finished', submittedAt: 1 })]),
      objects: [object(actor), object(plain)],
      actors: [[actor.taskId, rows.pack({ id: actor.taskId, job, hostKey: 'h', restarts: 0 })]],
    },
  };
}

function coordinator(): Coordinator {
  const co = new Coordinator({ storage: new MemoryStorage() });
  made.push(co);
  co.gcs.addFunction({ ...cls, fnId });
  return co;
}

describe("recovery of an ended job's detached actor", () => {
  it('a restart reads it back under its ended job, in its namespace, its name holding it; the rest of the job goes', () => {
    const co = coordinator();
    const job = newJobId();
    const { rows: r, actor, plain } = endedJobRows(job);
    recoverRows(co, r, 60_000, true);
    expect(co.gcs.jobs.get(job)?.state).toBe('finished');
    expect(co.actors.lookup('kept', 'ns')?.id).toBe(actor.taskId); // waiting for its host to join again
    // The recovery hold and the name's: the name's stays when the grace ends.
    expect(co.dir.get(returnObjectId(actor.taskId, 0))?.refs).toBe(2);
    expect(co.gcs.tasks.has(plain.taskId)).toBe(false);
    expect(co.dir.get(returnObjectId(plain.taskId, 0))).toBeUndefined();
  });

  it("a mesh's takeover of the job reads none of it: the actor is the coordinator's that ran the job", () => {
    const co = coordinator();
    const job = newJobId();
    const { rows: r, actor } = endedJobRows(job);
    recoverRows(co, r, 60_000);
    expect(co.actors.has(actor.taskId)).toBe(false);
    expect(co.dir.get(returnObjectId(actor.taskId, 0))).toBeUndefined();
  });
});
