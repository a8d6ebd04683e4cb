// A submitted job as the job runner keeps it (coordinator/jobs/runner.ts):
// its status, result, log and counts. Records (records.ts) store it without its process.
import type { ChildProcess } from 'node:child_process';
import type { JobId } from '../../shared/ids.js';
import type { JobRecord } from '../gcs/tables.js';
import type { JobRuntimeEnv } from './env.js';

/** A submitted job's task counts (as its GCS job counted them). */
export type JobCounts = JobRecord['counts'];

export type JobStatus = 'starting' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'timeout';
export const ENDED: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled', 'timeout']);

export interface LogLine {
  seq: number;
  ts: number;
  level: 'log' | 'warn' | 'error';
  text: string;
}

export interface SubmittedJob {
  id: JobId;
  name: string;
  source: string;
  status: JobStatus;
  submittedAt: number;
  endedAt: number;
  result: unknown;
  error: { name: string; message: string; stack: string } | null;
  log: LogLine[];
  logSeq: number;
  timeoutMs: number;
  /** The job's process while it runs. */
  worker: ChildProcess | null;
  /** The job's task counts once its GCS job ended (they outlive the GCS's summary rows). */
  counts: JobCounts | null;
  /** How many times it was started: more than 1 when the coordinator restarted while it ran. */
  runs: number;
  /** The runtime env it declared (issue 16), as submitted: resolved again when it runs again. */
  runtimeEnv?: JobRuntimeEnv;
}
