// A running job's counts that outlive its records (issue 14, session 28; docs/decisions.md "A job's counts survive
// a restart"). After a restart a job counts the task rows read back and the groups its owner sends again; what
// left the records before it (tasks freed: rows deleted; groups whose every member ended: never sent again) is
// `gone`, kept in the job's row. That row is written once per durable batch that changed it, just before the
// batch leaves (GcsStorage.beforeFlush), so the deletes and the counts they move land in one transaction (SQLite)
// or one MULTI of the job's group (Redis): no write a task, and a crash loses both or neither.
import { Packr } from 'msgpackr';
import type { JobId, TaskId } from '../../shared/ids.js';
import type { GcsStorage } from './storage.js';
import type { JobRecord, TaskRecord } from './tables.js';
import { countGone, countGroupGone, takeGoneGroups, uncountGroupGone } from '../jobs/job-tasks.js';

const rowPackr = new Packr({ useRecords: false, mapsAsObjects: true });

export type JobCounts = JobRecord['counts'];

/** What a task group whose every member ended left in its job's counts (its row in table 'groups', keyed by group id). */
export interface GroupGone {
  submitted: number;
  finished: number;
  failed: number;
  /** Its members made tasks whose records are gone (each counted in `gone` as a task): not counted again if it is sent again. */
  out?: readonly number[];
}

export function noCounts(): JobCounts {
  return { submitted: 0, finished: 0, failed: 0, cancelled: 0 };
}

/** A stored count: a whole number from 0 to 2^40 (a row is another process's word; anything else reads as 0). */
function count(v: unknown): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 40 ? v : 0;
}

/** A job row's `gone` as read back (undefined: a row written before session 28, whose counts are its start's). */
export function readGone(v: unknown): JobCounts | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const k = v as Record<string, unknown>;
  return { submitted: count(k.submitted), finished: count(k.finished), failed: count(k.failed), cancelled: count(k.cancelled) };
}

/** A group row read back: its job and what it left in the job's counts; undefined when malformed. */
export function readGroupRow(row: Uint8Array): { job: JobId; k: GroupGone } | undefined {
  let r: unknown;
  try {
    r = rowPackr.unpack(row);
  } catch {
    return undefined;
  }
  if (typeof r !== 'object' || r === null) return undefined;
  const o = r as Record<string, unknown>;
  if (typeof o.job !== 'string') return undefined;
  const k: GroupGone = { submitted: count(o.s), finished: count(o.f), failed: count(o.x) };
  if (Array.isArray(o.m)) k.out = o.m.filter((i): i is number => Number.isInteger(i) && (i as number) >= 0 && (i as number) < 2 ** 31);
  return { job: o.job as JobId, k };
}

export class GoneCounts {
  /** Jobs whose `gone` changed since the last batch left. */
  private readonly dirty = new Set<JobRecord>();

  /** A task left the records (task()): a member made a task of a group on record is noted there (group-table.ts). */
  memberGone: ((job: JobRecord, t: TaskRecord) => void) | undefined;

  constructor(
    private readonly storage: GcsStorage,
    /** Writes a job's row (Gcs.persistJob). */
    private readonly writeJob: (j: JobRecord) => void,
  ) {
    if (storage.durable) storage.beforeFlush = () => this.flush();
  }

  /** Whether `job`'s counts are to keep: a running job of this coordinator on a durable GCS. */
  private kept(job: JobRecord | undefined): job is JobRecord {
    return job !== undefined && this.storage.durable && job.state === 'running' && !job.guest;
  }

  /** Task `t` of `job` left its table (its row is deleted in this batch): what it counted moves to `gone`. */
  task(job: JobRecord | undefined, t: TaskRecord): void {
    if (!this.kept(job)) return;
    countGone(job, t.state);
    this.dirty.add(job);
    this.memberGone?.(job, t);
  }

  /**
   * Every member of group `g` ended or became a task (its owner does not send it again): it counts `k` in `gone`
   * (less what it counted there before: a member made a task since), with a row naming it for a restart. Also (`k`
   * all 0 while members run) when a member made a task left the records: `k.out` names those members (session 29:
   * the group sent again after a restart counted and ran them once more).
   */
  group(job: JobRecord, g: TaskId, k: GroupGone): void {
    if (!this.kept(job)) return;
    countGroupGone(job, g, k);
    const row = { job: job.id, s: k.submitted, f: k.finished, x: k.failed, ...(k.out?.length ? { m: k.out } : {}) };
    this.storage.put('groups', g, rowPackr.pack(row), job.id);
    this.dirty.add(job);
  }

  /**
   * Group `g` came again from its owner after a restart although it counted in `gone` (the owner missed the news of
   * its last members' ends): it counts afresh as it runs again, so it leaves `gone` and the job's counts.
   */
  groupBack(job: JobRecord, g: TaskId): void {
    if (!this.kept(job) || !uncountGroupGone(job, g)) return;
    this.storage.delete('groups', g, job.id);
    this.dirty.add(job);
  }

  /** The job ended (its row now holds its final counts) or left this coordinator: its group rows go when it ended. */
  ended(job: JobRecord): void {
    this.dirty.delete(job);
    if (!this.storage.durable || job.guest || job.state === 'running') return;
    for (const g of takeGoneGroups(job)) this.storage.delete('groups', g, job.id);
  }

  /** Before a batch leaves: the rows of jobs whose `gone` changed join it. */
  flush(): void {
    if (this.dirty.size === 0) return;
    const jobs = [...this.dirty];
    this.dirty.clear();
    for (const j of jobs) if (this.kept(j)) this.writeJob(j);
  }
}
