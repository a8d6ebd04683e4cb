// The recovery grace (coordinator/gcs/recovery.ts): the holds recovery takes on
// the records it reads back go when the grace ends, on those records only. A
// job of a mesh (issue 15) can be let go of and come back here within the
// grace (taken back, or placed here by its new owner as a guest), under the
// same deterministic object ids: the old grace must not release the new
// records' holds. White-box: a real Coordinator (in-memory GCS), hand-made
// sessions, the job's rows as a coordinator of the mesh reads them back.
import { afterEach, describe, expect, it } from 'vitest';
import { pack, Packr } from 'msgpackr';
import { Coordinator } from '../../coordinator/coordinator.js';
import { recoverRows, type JobRows } from '../../coordinator/gcs/recovery.js';
import { GuestJobs } from '../../coordinator/mesh/guest-jobs.js';
import { newJobId, returnObjectId, type JobId } from '../../shared/ids.js';
import type { Msg, TaskSpec } from '../../shared/protocol/messages.js';
import { coordinatorIn, handSession, plainSpec } from '../helpers/white-box.js';

const made: Coordinator[] = [];
afterEach(() => {
  for (const co of made.splice(0)) co.close();
});

const rowPackr = new Packr({ useRecords: false, mapsAsObjects: true });
const secret = 's'.repeat(48);
const SIZE = 100_000;

const coordinator = (): Coordinator => coordinatorIn(made);

const session = handSession;

const spec = plainSpec;

/** The stored rows of a running job: task `done` finished (its output stored on a node), task `open` unfinished. */
function jobRows(job: JobId, done: TaskSpec, open: TaskSpec): JobRows {
  const out = returnObjectId(done.taskId, 0);
  return {
    jobs: [
      [job, rowPackr.pack({ id: job, state: 'running', startedAt: 1, endedAt: 0, counts: { submitted: 2, finished: 1, failed: 0, cancelled: 0 }, secret })],
    ],
    tasks: [
      [done.taskId, rowPackr.pack({ spec: done, state: 'finished', submittedAt: 1 })],
      [open.taskId, rowPackr.pack({ spec: open, state: 'queued', submittedAt: 1 })],
    ],
    objects: [[out, rowPackr.pack({ id: out, job, state: 'ready', size: SIZE, hash: 'h', v: null, failure: null, contains: [] })]],
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the recovery grace of a job let go of and back within it', () => {
  it("taken back here: the first grace does not release the second recovery's holds; the driver's handles keep both outputs", async () => {
    const co = coordinator();
    const job = newJobId();
    const [done, open] = [spec(job, 0), spec(job, 1)];
    const outs = [returnObjectId(done.taskId, 0), returnObjectId(open.taskId, 0)];
    const node = session('node');
    const resume = () => {
      const driver = session('driver');
      co.sessions.add(driver);
      expect('code' in co.jobs.resume(driver, { jobId: job, secret, held: outs })).toBe(false);
      expect(co.dir.announced(node, { id: outs[0], size: SIZE, hash: 'h' })).toBe(true);
      return driver;
    };
    recoverRows(co, jobRows(job, done, open), 20);
    resume();
    // Another coordinator took its lease; then its driver comes back here and the job is taken back, rows read again.
    co.jobs.letGo(job, 'another coordinator took its lease');
    expect(co.dir.get(outs[0])).toBeUndefined();
    recoverRows(co, jobRows(job, done, open), 100);
    const driver = resume();
    await sleep(250); // both graces have ended
    // Only the driver's handles hold them now: a recovery hold each went, once.
    for (const id of outs) expect([co.dir.get(id)?.refs, driver.held.get(id)]).toEqual([1, 1]);
    expect(co.gcs.tasks.get(open.taskId)?.state).toBe('queued'); // no node: it waits to run again
  });

  it("placed back here by its new owner as a guest: the old grace does not release the guest link's hold; the run ends done, not lost", async () => {
    const co = coordinator();
    const job = newJobId();
    const [done, open] = [spec(job, 0), spec(job, 1)];
    recoverRows(co, jobRows(job, done, open), 20);
    co.jobs.letGo(job, 'another coordinator took its lease');
    // The new owner places the unfinished task here (its next attempt), as a coordinator/mesh agent runs it.
    const sent: Msg[] = [];
    const link = session('coordinator peer-b', sent);
    const guests = new GuestJobs(co, 'peer-b', link, (m) => void sent.push(m));
    co.tasks.onEnded = (t) => guests.ended(t);
    guests.assign({ t: 'assign', spec: { ...structuredClone(open), attempt: 1 }, inline: [] });
    await sleep(60); // the old grace has ended
    const t = co.gcs.tasks.get(open.taskId)!;
    co.tasks.completeDone(t, { t: 'done', taskId: open.taskId, attempt: 1, ms: 1, results: [{ v: pack(7), refs: [] }] }, session('node'));
    const ends = sent.filter((m) => m.t === 'done' || m.t === 'failed');
    expect(ends.map((m) => [m.t, m.taskId, m.attempt])).toEqual([['done', open.taskId, 1]]);
  });
});
