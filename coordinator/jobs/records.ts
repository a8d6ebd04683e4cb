// Durable records of submitted jobs (issue 11): the job runner owns the GCS's
// `submitted` table. A record holds the program (so that a job running when
// the coordinator stopped can run again from its source) and, once the job
// ends, everything GET /api/jobs/:id shows: status, result or error, counts,
// times and the log (its most recent lines, bounded).
import { Packr } from 'msgpackr';
import type { JobId } from '../../shared/ids.js';
import type { GcsStorage } from '../gcs/storage.js';
import type { JobRecord } from '../gcs/tables.js';
import type { JobStatus, LogLine, SubmittedJob } from './types.js';

const rowPackr = new Packr({ useRecords: false, mapsAsObjects: true });

/** Log text kept per record; the oldest lines go first. */
export const PERSISTED_LOG_BYTES = 256 * 1024;
/** While a job runs, its record (and log) is written at most this often. */
export const RUNNING_SAVE_MS = 2000;

export type JobCounts = JobRecord['counts'];

/** What a record holds: a SubmittedJob without its worker. */
export type JobRow = Omit<SubmittedJob, 'worker'>;

const STATUSES: ReadonlySet<string> = new Set<JobStatus>(['starting', 'running', 'succeeded', 'failed', 'cancelled', 'timeout']);
const LEVELS: ReadonlySet<string> = new Set(['log', 'warn', 'error']);
const JOB_ID = /^[0-9a-f]{16}$/;

/** The most recent lines whose text fits `bytes`. */
export function logTail(log: readonly LogLine[], bytes = PERSISTED_LOG_BYTES): LogLine[] {
  let used = 0;
  let i = log.length;
  while (i > 0 && used + log[i - 1].text.length <= bytes) used += log[--i].text.length;
  return log.slice(i);
}

export function encodeJobRow(j: SubmittedJob): Uint8Array {
  const row: JobRow = {
    id: j.id,
    name: j.name,
    source: j.source,
    status: j.status,
    submittedAt: j.submittedAt,
    endedAt: j.endedAt,
    result: j.result,
    error: j.error,
    log: logTail(j.log),
    logSeq: j.logSeq,
    timeoutMs: j.timeoutMs,
    counts: j.counts,
    runs: j.runs,
    runtimeEnv: j.runtimeEnv,
  };
  return rowPackr.pack(row);
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Reads a record back; a row that is not one (a damaged file, an older layout) is an Error saying why. */
export function decodeJobRow(bytes: Uint8Array): JobRow | Error {
  let r: unknown;
  try {
    r = rowPackr.unpack(bytes);
  } catch (e) {
    return new Error(`undecodable row: ${(e as Error).message}`);
  }
  if (!isObj(r)) return new Error('not a record');
  if (typeof r.id !== 'string' || !JOB_ID.test(r.id)) return new Error(`bad id ${String(r.id)}`);
  if (typeof r.name !== 'string' || typeof r.source !== 'string') return new Error(`job ${r.id}: name and source must be strings`);
  if (typeof r.status !== 'string' || !STATUSES.has(r.status)) return new Error(`job ${r.id}: bad status ${String(r.status)}`);
  if (!isNum(r.submittedAt) || !isNum(r.endedAt) || !isNum(r.logSeq) || !isNum(r.timeoutMs) || !isNum(r.runs)) {
    return new Error(`job ${r.id}: times and counters must be numbers`);
  }
  const e = r.error;
  if (e !== null && !(isObj(e) && typeof e.name === 'string' && typeof e.message === 'string' && typeof e.stack === 'string')) {
    return new Error(`job ${r.id}: bad error`);
  }
  const k = r.counts;
  if (k !== null && !(isObj(k) && isNum(k.submitted) && isNum(k.finished) && isNum(k.failed) && isNum(k.cancelled))) {
    return new Error(`job ${r.id}: bad counts`);
  }
  if (!Array.isArray(r.log) || !r.log.every((l) => isObj(l) && isNum(l.seq) && isNum(l.ts) && LEVELS.has(l.level as string) && typeof l.text === 'string')) {
    return new Error(`job ${r.id}: bad log`);
  }
  if (r.runtimeEnv !== undefined && r.runtimeEnv !== null && !isObj(r.runtimeEnv)) return new Error(`job ${r.id}: bad runtime env`);
  if (r.runtimeEnv === null) delete r.runtimeEnv;
  return r as unknown as JobRow;
}

/**
 * The `submitted` table. Writes go through the GCS storage's grouped flushes;
 * with a non-durable storage nothing is written (the jobs live in memory only).
 */
export class JobRecords {
  private readonly dirty = new Map<JobId, SubmittedJob>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly storage: GcsStorage) {}

  get durable(): boolean {
    return this.storage.durable;
  }

  /** Every stored record, oldest first; rows that do not decode are dropped and reported. */
  load(report: (key: string, why: Error) => void): JobRow[] {
    if (!this.durable) return [];
    const rows: JobRow[] = [];
    for (const [key, bytes] of this.storage.load('submitted')) {
      const r = decodeJobRow(bytes);
      if (r instanceof Error) {
        report(key, r);
        this.storage.delete('submitted', key);
      } else rows.push(r);
    }
    return rows.sort((a, b) => a.submittedAt - b.submittedAt);
  }

  /** Writes the record now (a job started or ended). */
  save(j: SubmittedJob): void {
    if (!this.durable) return;
    this.dirty.delete(j.id);
    this.storage.put('submitted', j.id, encodeJobRow(j));
  }

  /** Writes the record soon (a running job's log grew): at most every RUNNING_SAVE_MS. */
  saveSoon(j: SubmittedJob): void {
    if (!this.durable) return;
    this.dirty.set(j.id, j);
    this.timer ??= setTimeout(() => this.flushDirty(), RUNNING_SAVE_MS);
    this.timer.unref?.();
  }

  drop(id: JobId): void {
    this.dirty.delete(id);
    if (this.durable) this.storage.delete('submitted', id);
  }

  /** Writes what is pending (before the storage closes). */
  flushDirty(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const j of this.dirty.values()) this.storage.put('submitted', j.id, encodeJobRow(j));
    this.dirty.clear();
  }
}
