// A running job's counts after a coordinator restart (coordinator/scheduler/task-states.ts restore): its stored row
// holds the counts of its start (written at the start and the end only), so the task rows read back count in it:
// submitted, and finished or failed when they had ended; an unfinished one counts its end when it runs again.
// White-box: a real Coordinator (in-memory GCS), the rows as a restart loads them.
import { afterEach, describe, expect, it } from 'vitest';
import { pack, Packr } from 'msgpackr';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { recoverRows } from '../../coordinator/gcs/recovery.js';
import { newJobId, returnObjectId, type JobId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import { coordinatorIn, plainSpec } from '../helpers/white-box.js';

const made: Coordinator[] = [];
afterEach(() => {
  for (const co of made.splice(0)) co.close();
});

const rows = new Packr({ useRecords: false, mapsAsObjects: true });

function objectRow(job: JobId, t: TaskSpec, state: 'ready' | 'failed'): [string, Uint8Array] {
  const id = returnObjectId(t.taskId, 0);
  const failure = state === 'failed' ? { name: 'Error', message: 'boom', stack: '' } : null;
  return [id, rows.pack({ id, job, state, size: 1, hash: '', v: state === 'ready' ? pack(7) : null, failure, contains: [] })];
}

describe("a running job's counts after a restart", () => {
  it('its task rows count: submitted, finished or failed as they ended; the unfinished one runs again and is not ended yet', () => {
    const co = coordinatorIn(made);
    const job = newJobId();
    const [finished, failed, open] = [0, 1, 2].map((i) => plainSpec(job, i));
    const start = { submitted: 0, finished: 0, failed: 0, cancelled: 0 }; // the row as the job's start wrote it
    const report = recoverRows(
      co,
      {
        jobs: [[job, rows.pack({ id: job, state: 'running', startedAt: 1, endedAt: 0, counts: start, secret: 'x' })]],
        tasks: [finished, failed, open].map((t) => [t.taskId, rows.pack({ spec: t, state: 'queued', submittedAt: 1 })]),
        objects: [objectRow(job, finished, 'ready'), objectRow(job, failed, 'failed')],
      },
      60_000,
    );
    expect(report).toMatchObject({ jobs: 1, tasksRequeued: 1, tasksFinished: 2 });
    expect(co.gcs.jobs.get(job)?.counts).toEqual({ submitted: 3, finished: 1, failed: 1, cancelled: 0 });
  });
});
