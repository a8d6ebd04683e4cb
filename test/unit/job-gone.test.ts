// A running job's counts that outlive its records (coordinator/gcs/job-gone.ts): freed tasks' counts ride in the
// job's row, written once per batch and in the batch that deletes their rows; a restart counts them plus the rows
// read back; a group counted there that its owner sends again counts once. White-box: a real Coordinator on a
// durable in-memory storage that keeps each flush as one batch, the rows as a restart loads them.
import { afterEach, describe, expect, it } from 'vitest';
import { pack, Packr } from 'msgpackr';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { recoverRows } from '../../coordinator/gcs/recovery.js';
import { newJobId, returnObjectId, type JobId } from '../../shared/ids.js';
import type { MsgOf, TaskSpec } from '../../shared/protocol/messages.js';
import { batchCoordinatorIn, type Change } from '../helpers/batch-storage.js';
import { handSession, plainSpec } from '../helpers/white-box.js';

const rows = new Packr({ useRecords: false, mapsAsObjects: true });

const made: Coordinator[] = [];
afterEach(() => {
  for (const co of made.splice(0)) co.close();
});

const coordinator = () => batchCoordinatorIn(made);

const counts = (submitted: number, finished: number, failed: number) => ({ submitted, finished, failed, cancelled: 0 });

function jobRow(job: JobId, now: ReturnType<typeof counts>, gone?: ReturnType<typeof counts>): [string, Uint8Array] {
  return [job, rows.pack({ id: job, state: 'running', startedAt: 1, endedAt: 0, counts: now, gone, secret: 'x' })];
}

function finishedRows(job: JobId, specs: TaskSpec[]): { tasks: [string, Uint8Array][]; objects: [string, Uint8Array][] } {
  return {
    tasks: specs.map((t) => [t.taskId, rows.pack({ spec: t, state: 'queued', submittedAt: 1 })]),
    objects: specs.map((t) => {
      const id = returnObjectId(t.taskId, 0);
      return [id, rows.pack({ id, job, state: 'ready', size: 1, hash: '', v: pack(7), failure: null, contains: [] })];
    }),
  };
}

/** The job row in a batch, decoded. */
function jobIn(batch: Change[], job: JobId): { counts: unknown; gone: unknown } | undefined {
  const c = batch.find(([t, k]) => t === 'jobs' && k === job);
  return c?.[2] ? (rows.unpack(c[2]) as { counts: unknown; gone: unknown }) : undefined;
}

describe("a running job's counts across a restart", () => {
  it("a restart counts its row's `gone` plus the task rows read back, not the row's counts of the moment", () => {
    const { co } = coordinator();
    const job = newJobId();
    const kept = [0, 1, 2].map((i) => plainSpec(job, i));
    // Written mid-job: 603 submitted, 600 of them finished and freed (gone), 3 finished and on record.
    recoverRows(co, { jobs: [jobRow(job, counts(603, 603, 0), counts(600, 590, 10))], ...finishedRows(job, kept) }, 60_000);
    expect(co.gcs.jobs.get(job)?.counts).toEqual(counts(603, 593, 10));
  });

  it("freed tasks' counts go to `gone`, in the job's row written once in the batch that deletes their rows", () => {
    const { co, storage } = coordinator();
    const job = newJobId();
    const specs = Array.from({ length: 50 }, (_, i) => plainSpec(job, i));
    recoverRows(co, { jobs: [jobRow(job, counts(0, 0, 0), counts(0, 0, 0))], ...finishedRows(job, specs) }, 60_000);
    storage.flush();
    storage.batches.length = 0;
    const j = co.gcs.jobs.get(job)!;
    // Their outputs' last holds (the recovery's) go: the outputs are freed, and with them the tasks' lineage.
    for (const t of specs) co.dir.decRef(returnObjectId(t.taskId, 0));
    expect(co.gcs.tasks.size).toBe(0);
    storage.flush();
    expect(storage.batches).toHaveLength(1);
    const batch = storage.batches[0];
    expect(batch.filter(([t, , v]) => t === 'tasks' && v === null)).toHaveLength(50);
    expect(batch.filter(([t]) => t === 'jobs')).toHaveLength(1); // not one write a task
    expect(jobIn(batch, job)?.gone).toEqual(counts(50, 50, 0));
    expect(j.counts).toEqual(counts(50, 50, 0));
    // Read back from that row alone (the rows it deleted are gone): the same counts.
    const { co: again } = coordinator();
    recoverRows(again, { jobs: [[job, batch.find(([t]) => t === 'jobs')![2]!]], tasks: [], objects: [] }, 60_000);
    expect(again.gcs.jobs.get(job)?.counts).toEqual(counts(50, 50, 0));
  });

  it('a group counted in `gone` that its owner sends again after the restart counts once, and its row goes', () => {
    const { co, storage } = coordinator();
    const job = newJobId();
    const template: TaskSpec = { ...plainSpec(job, 0), args: [] };
    const g = template.taskId;
    const groupRow: [string, Uint8Array] = [g, rows.pack({ job, s: 8, f: 7, x: 1 })];
    // 2 plain tasks freed and the 8 members of group g ended (7 finished, 1 failed) before the restart.
    recoverRows(co, { jobs: [jobRow(job, counts(10, 9, 1), counts(10, 9, 1))], tasks: [], objects: [], groups: [groupRow] }, 60_000);
    const j = co.gcs.jobs.get(job)!;
    expect(j.counts).toEqual(counts(10, 9, 1));
    // Its owner had not heard of its last members' ends: it sends the group again.
    const s = handSession('driver');
    s.jobId = job;
    const m: MsgOf<'submitGroup'> = { t: 'submitGroup', spec: template, first: 0, args: Array.from({ length: 8 }, (_, i) => [pack(i)]) };
    expect(co.groups!.submit(s, j, m)).toBeNull();
    expect(j.counts).toEqual(counts(10, 2, 0)); // its 8 members count as submitted again, not ended yet
    expect(j.gone).toEqual(counts(2, 2, 0));
    storage.flush();
    const batch = storage.batches.at(-1)!;
    expect(batch).toContainEqual(['groups', g, null]);
    expect(jobIn(batch, job)?.gone).toEqual(counts(2, 2, 0));
  });

  it('a group whose members made tasks and freed are named in its row: sent again, they leave it, counted once', () => {
    const { co, storage } = coordinator();
    const job = newJobId();
    const template: TaskSpec = { ...plainSpec(job, 0), args: [] };
    const g = template.taskId;
    // Members 0 and 2 of the open group of 6 became tasks (they called out), ended and were freed: in `gone` as tasks;
    // the group counts nothing there yet (members run). A bad index is left out.
    const groupRow: [string, Uint8Array] = [g, rows.pack({ job, s: 0, f: 0, x: 0, m: [0, 2, -1, 'x'] })];
    recoverRows(co, { jobs: [jobRow(job, counts(2, 2, 0), counts(2, 2, 0))], tasks: [], objects: [], groups: [groupRow] }, 60_000);
    const j = co.gcs.jobs.get(job)!;
    const s = handSession('driver');
    s.jobId = job;
    const m: MsgOf<'submitGroup'> = { t: 'submitGroup', spec: template, first: 0, args: Array.from({ length: 6 }, (_, i) => [pack(i)]) };
    expect(co.groups!.submit(s, j, m)).toBeNull();
    // 2 tasks before the restart plus the 4 members still open: each member once (without the row's `m`: 8 submitted).
    expect(j.counts).toEqual(counts(6, 2, 0));
    const grp = co.groups!.table.groups.get(g)!;
    expect([grp.out, grp.queued]).toEqual([2, 4]); // neither run again
    // Its row names them still (a second restart leaves them out again).
    storage.flush();
    const row = storage.batches.flat().find(([t, k, v]) => t === 'groups' && k === g && v !== null);
    expect(rows.unpack(row![2]!)).toMatchObject({ job, s: 0, m: [0, 2] });
  });

  it('a group row of a job no longer running is deleted at the restart; a malformed one is left alone', () => {
    const { co, storage } = coordinator();
    const job = newJobId();
    recoverRows(
      co,
      {
        jobs: [],
        tasks: [],
        objects: [],
        groups: [
          ['g1', rows.pack({ job, s: 4, f: 4, x: 0 })],
          ['g2', rows.pack('junk')],
        ],
      },
      60_000,
    );
    storage.flush();
    expect(storage.batches.flat()).toContainEqual(['groups', 'g1', null]);
    expect(storage.batches.flat().some(([, k]) => k === 'g2')).toBe(false);
  });
});
