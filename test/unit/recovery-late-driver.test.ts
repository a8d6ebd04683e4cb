// A driver that comes back after the recovery grace (coordinator/gcs/recovery.ts; job-manager.ts parkRecoveryHold):
// the holds recovery took on its job's objects wait for it, as a dropped driver's handles do. Released at the grace,
// its finished tasks were freed while it was away (their counts moved to the job's `gone`), and the driver, back,
// sent them again as unfinished: new tasks, each counted twice (test/fault/restart-drain under load, s32: submitted
// 640 of 601). White-box: a real Coordinator on a durable in-memory storage, the rows as a restart loads them.
import { afterEach, describe, expect, it } from 'vitest';
import { pack, Packr } from 'msgpackr';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { recoverRows, type JobRows } from '../../coordinator/gcs/recovery.js';
import { newJobId, returnObjectId, type JobId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import { batchCoordinatorIn } from '../helpers/batch-storage.js';
import { sleep, until } from '../helpers/poll.js';
import { handSession, plainSpec } from '../helpers/white-box.js';

const made: Coordinator[] = [];
afterEach(() => {
  for (const co of made.splice(0)) co.close();
});

const rows = new Packr({ useRecords: false, mapsAsObjects: true });
const secret = 's'.repeat(48);
const GRACE = 20;
const counts = (submitted: number, finished: number) => ({ submitted, finished, failed: 0, cancelled: 0 });

/** A running job's rows: task `done` finished (its small value stored), task `open` unfinished. */
function jobRows(job: JobId, done: TaskSpec, open: TaskSpec): JobRows {
  const out = returnObjectId(done.taskId, 0);
  return {
    jobs: [[job, rows.pack({ id: job, state: 'running', startedAt: 1, endedAt: 0, counts: counts(0, 0), gone: counts(0, 0), secret })]],
    tasks: [done, open].map((t) => [t.taskId, rows.pack({ spec: t, state: 'queued', submittedAt: 1 })]),
    objects: [[out, rows.pack({ id: out, job, state: 'ready', size: 1, hash: '', v: pack(7), failure: null, contains: [] })]],
  };
}

describe('a driver back after the recovery grace', () => {
  it('its objects waited for it: the tasks it sends again are on record and count once', async () => {
    const { co } = batchCoordinatorIn(made);
    const job = newJobId();
    const [done, open] = [plainSpec(job, 0), plainSpec(job, 1)];
    const outs = [done, open].map((t) => returnObjectId(t.taskId, 0));
    recoverRows(co, jobRows(job, done, open), GRACE);
    const j = co.gcs.jobs.get(job)!;
    expect(j.counts).toEqual(counts(2, 1));
    await sleep(GRACE * 5); // the grace's timer, due first, has run
    // Nothing freed while the driver is away (without the parking: `done` freed, in `gone`).
    expect(co.gcs.tasks.has(done.taskId)).toBe(true);
    expect(j.gone).toEqual(counts(0, 0));

    // The driver resumes with both handles and sends again what it has no value of: both (it read none before).
    const driver = handSession('driver');
    co.sessions.add(driver);
    expect('code' in co.jobs.resume(driver, { jobId: job, secret, held: outs })).toBe(false);
    for (const t of [done, open]) expect(co.tasks.submit({ ...t }, driver, null)).toBeNull();
    expect(j.counts).toEqual(counts(2, 1)); // without the parking: 3 submitted, `done` twice
    expect(j.parked).toBeNull();
    // The driver's handles hold them now, once each (the recovery's hold went at the resume).
    for (const id of outs) expect([co.dir.get(id)?.refs, driver.held.get(id)]).toEqual([1, 1]);
    expect(co.dir.get(outs[0])?.state).toBe('ready');
  });

  it('what the driver no longer holds goes at its resume; a job whose driver never comes back frees everything at its end', async () => {
    const { co } = batchCoordinatorIn(made, { jobGraceMs: GRACE * 10 });
    const job = newJobId();
    const [done, open] = [plainSpec(job, 0), plainSpec(job, 1)];
    recoverRows(co, jobRows(job, done, open), GRACE);
    const j = co.gcs.jobs.get(job)!;
    await sleep(GRACE * 5);
    expect(j.parked?.size).toBe(2);
    // Back holding only `open`'s output: `done`'s goes, its counts to `gone`.
    const driver = handSession('driver');
    co.sessions.add(driver);
    expect('code' in co.jobs.resume(driver, { jobId: job, secret, held: [returnObjectId(open.taskId, 0)] })).toBe(false);
    expect(co.gcs.tasks.has(done.taskId)).toBe(false);
    expect([j.counts, j.gone]).toEqual([counts(2, 1), counts(1, 1)]);

    // Another job, whose driver never comes back: its parked holds go with it at its end.
    const other = newJobId();
    const [a, b] = [plainSpec(other, 0), plainSpec(other, 1)];
    recoverRows(co, jobRows(other, a, b), GRACE);
    await until(() => co.gcs.jobs.get(other)?.state === 'finished', { what: 'the job to end without its driver' });
    expect(co.gcs.jobs.get(other)?.parked).toBeNull();
    for (const t of [a, b]) expect(co.dir.get(returnObjectId(t.taskId, 0))).toBeUndefined();
  });
});
