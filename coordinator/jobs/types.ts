// What a submitted job is (issue 11): its record, states, limits and the
// errors a submission meets. The runner (runner.ts) owns the jobs; their
// processes are started by process.ts.
import type { JobId } from '../../shared/ids.js';
import type { JobRecord } from '../gcs/tables.js';
import type { JobRuntimeEnv } from './env.js';
import type { JobProcess } from './launcher.js';

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
  worker: JobProcess | null;
  /** The job's task counts once its GCS job ended (they outlive the GCS's summary rows). */
  counts: JobCounts | null;
  /** How many times it was started: more than 1 when the coordinator restarted while it ran. */
  runs: number;
  /** The runtime env it declared (issue 16), as submitted: resolved again when it runs again. */
  runtimeEnv?: JobRuntimeEnv;
}

/** A job that was running across this many coordinator starts is failed rather than run again. */
export const MAX_RUNS = 3;

export interface JobLimits {
  /** Wall-clock limit of a job. Default 10 minutes. */
  timeoutMs: number;
  /** V8 old-generation limit of a job's process. Default 256 MB. */
  memoryMb: number;
  /** Jobs running at once; more are refused (429). Default 8. */
  maxRunning: number;
  /** Log lines kept per job (the oldest go first). */
  maxLogLines: number;
  /** Ended jobs kept (the oldest go first). */
  maxKept: number;
}

export const DEFAULT_LIMITS: JobLimits = { timeoutMs: 10 * 60_000, memoryMb: 256, maxRunning: 8, maxLogLines: 5000, maxKept: 200 };

export { JobError } from './job-error.js';
