// Messages between the coordinator and a detached job's process (IPC).
import type { ResolvedEnv } from '../../shared/env/env.js';
export interface JobWorkerData {
  /** The coordinator's own URL (the job connects like any driver). */
  url: string;
  /** One-time credential for exactly one driver session: never the driver token. */
  credential: string;
  name: string;
  source: string;
  /** The job's runtime env (issue 16), resolved by the runner at submit time. */
  runtimeEnv?: ResolvedEnv;
}

export type FromJobWorker =
  | { k: 'connected'; jobId: string }
  | { k: 'log'; level: 'log' | 'warn' | 'error'; text: string }
  | { k: 'result'; json: string }
  | { k: 'error'; name: string; message: string; stack: string };

/** The first and only message to a job's process. */
export interface ToJobWorker {
  k: 'start';
  data: JobWorkerData;
}
