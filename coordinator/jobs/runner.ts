// Jobs submitted over HTTP (POST /api/jobs, `tabmesh submit`, the dashboard's
// editor) run on the coordinator's side as detached drivers, each in its own
// worker thread with memory and time limits; they outlive whoever submitted them.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { JobId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import type { FromJobWorker, JobWorkerData } from './protocol.js';
import { resolveJobEnv, type JobRuntimeEnv } from './env.js';

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
  worker: Worker | null;
}

export interface JobLimits {
  /** Wall-clock limit of a job. Default 10 minutes. */
  timeoutMs: number;
  /** V8 old-generation limit of a job's worker. Default 256 MB. */
  memoryMb: number;
  /** Jobs running at once; more are refused (429). Default 8. */
  maxRunning: number;
  /** Log lines kept per job (the oldest go first). */
  maxLogLines: number;
  /** Ended jobs kept (the oldest go first). */
  maxKept: number;
}

export const DEFAULT_LIMITS: JobLimits = { timeoutMs: 10 * 60_000, memoryMb: 256, maxRunning: 8, maxLogLines: 5000, maxKept: 200 };

export class JobError extends Error {
  constructor(
    readonly code: 'BAD_JOB' | 'JOB_LIMIT' | 'JOB_START_FAILED',
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function workerFile(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(here)) return here;
  // Running from sources (vitest): use the built worker.
  const built = fileURLToPath(new URL('../../dist/coordinator/jobs/worker.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new Error('coordinator/jobs/worker.js not found: run `npm run build` first');
}

export class JobRunner {
  readonly jobs = new Map<JobId, SubmittedJob>();
  readonly limits: JobLimits;
  /** Set by the server once it listens. */
  url = '';
  /** Called on every change a dashboard shows (status, log line). */
  onChange: (j: SubmittedJob) => void = () => {};

  constructor(
    private readonly c: Coordinator,
    limits: Partial<JobLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  get running(): number {
    let n = 0;
    for (const j of this.jobs.values()) if (!ENDED.has(j.status)) n++;
    return n;
  }

  /** Starts a job; resolves once its driver has connected (its id is the GCS job id). */
  async submit(input: { source: string; name?: string; timeoutMs?: number; runtimeEnv?: JobRuntimeEnv }): Promise<SubmittedJob> {
    if (!this.url) throw new JobError('JOB_START_FAILED', 503, 'the coordinator is not listening yet');
    if (this.running >= this.limits.maxRunning) {
      throw new JobError('JOB_LIMIT', 429, `${this.running} jobs are running; the limit is ${this.limits.maxRunning}`);
    }
    const timeoutMs = Math.min(input.timeoutMs ?? this.limits.timeoutMs, this.limits.timeoutMs);
    const credential = randomBytes(32).toString('base64url');
    const name = (input.name ?? '').trim().slice(0, 120) || 'job';
    const data: JobWorkerData = { url: this.url, credential, name, source: input.source, runtimeEnv: resolveJobEnv(input.runtimeEnv) };
    const connected = new Promise<JobId>((resolve) => this.c.jobCredentials.set(credential, resolve));
    const worker = new Worker(workerFile(), {
      name: `tabmesh-job ${name}`,
      workerData: data,
      env: {},
      argv: [],
      execArgv: [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: this.limits.memoryMb, maxYoungGenerationSizeMb: 32 },
    });
    worker.unref();
    // One set of listeners for the worker's life (removing a Worker's last 'message'
    // listener stops its port); before the job is set up, messages are kept and replayed.
    const early: FromJobWorker[] = [];
    let sink: { message(m: FromJobWorker): void; error(e: Error): void; exit(code: number): void } | null = null;
    const failedEarly = new Promise<never>((_, reject) => {
      const fail = (why: string) => reject(new JobError('JOB_START_FAILED', 500, why));
      worker.on('message', (m: FromJobWorker) => (sink ? sink.message(m) : early.push(m)));
      worker.on('error', (e) => (sink ? sink.error(e) : fail(e.message)));
      worker.on('exit', (code) => {
        if (sink) return sink.exit(code);
        const err = early.find((m) => m.k === 'error');
        fail(err?.k === 'error' ? `${err.name}: ${err.message}` : `the job's worker exited (code ${code}) before connecting`);
      });
    });
    const timer = setTimeout(() => this.c.jobCredentials.delete(credential), 15_000);
    let id: JobId;
    try {
      id = await Promise.race([connected, failedEarly, timeout(15_000, 'the job did not connect within 15 s')]);
    } catch (e) {
      this.c.jobCredentials.delete(credential);
      void worker.terminate();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    const job: SubmittedJob = {
      id,
      name,
      source: input.source,
      status: 'running',
      submittedAt: Date.now(),
      endedAt: 0,
      result: null,
      error: null,
      log: [],
      logSeq: 0,
      timeoutMs,
      worker,
    };
    this.jobs.set(id, job);
    this.trim();
    sink = this.watch(job, worker, early);
    this.c.gcs.event('job-submitted', `job ${id} (${name}) submitted`, { job: id });
    this.onChange(job);
    return job;
  }

  private watch(job: SubmittedJob, worker: Worker, early: FromJobWorker[]) {
    const stream = (level: LogLine['level']) => (d: Buffer) => {
      for (const text of String(d).split('\n')) if (text) this.log(job, level, text);
    };
    worker.stdout.on('data', stream('log'));
    worker.stderr.on('data', stream('error'));
    const limit = setTimeout(() => this.end(job, 'timeout', { name: 'JobTimeoutError', message: `the job ran longer than ${job.timeoutMs} ms`, stack: '' }), job.timeoutMs);
    limit.unref();
    const sink = {
      message: (m: FromJobWorker) => {
        if (m.k === 'log') this.log(job, m.level, m.text);
        else if (m.k === 'result') {
          job.result = JSON.parse(m.json);
          this.end(job, 'succeeded', null);
        } else if (m.k === 'error') this.end(job, 'failed', { name: m.name, message: m.message, stack: m.stack });
      },
      error: (e: Error) => {
        const oom = (e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
        this.end(job, 'failed', { name: oom ? 'JobMemoryError' : e.name, message: oom ? `the job used more than ${this.limits.memoryMb} MB` : e.message, stack: e.stack ?? '' });
      },
      exit: (code: number) => {
        clearTimeout(limit);
        this.end(job, 'failed', { name: 'JobExitError', message: `the job's worker exited (code ${code}) without a result`, stack: '' });
      },
    };
    for (const m of early) sink.message(m);
    return sink;
  }

  log(job: SubmittedJob, level: LogLine['level'], text: string): void {
    job.log.push({ seq: ++job.logSeq, ts: Date.now(), level, text });
    if (job.log.length > this.limits.maxLogLines) job.log.splice(0, job.log.length - this.limits.maxLogLines);
    this.onChange(job);
  }

  /** Stops the job: its worker goes, its driver session closes, its tasks are cancelled. */
  cancel(id: JobId): SubmittedJob | null {
    const job = this.jobs.get(id);
    if (!job) return null;
    this.end(job, 'cancelled', { name: 'JobCancelledError', message: 'the job was cancelled', stack: '' });
    return job;
  }

  private end(job: SubmittedJob, status: JobStatus, error: SubmittedJob['error']): void {
    if (ENDED.has(job.status)) return;
    job.status = status;
    job.error = error;
    job.endedAt = Date.now();
    const w = job.worker;
    job.worker = null;
    // A succeeded job closes its own driver; any other end closes it here, at once.
    if (status !== 'succeeded') this.c.endJob(job.id);
    if (w) {
      if (status === 'succeeded') setTimeout(() => void w.terminate(), 2000).unref();
      else void w.terminate();
    }
    this.c.gcs.event(`job-${status}`, `job ${job.id} (${job.name}) ${status}${error ? `: ${error.message}` : ''}`, { job: job.id });
    this.onChange(job);
  }

  private trim(): void {
    if (this.jobs.size <= this.limits.maxKept) return;
    for (const [id, j] of this.jobs) {
      if (this.jobs.size <= this.limits.maxKept) break;
      if (ENDED.has(j.status)) this.jobs.delete(id);
    }
  }

  close(): void {
    for (const j of this.jobs.values()) {
      j.worker?.removeAllListeners();
      void j.worker?.terminate();
    }
  }
}

function timeout(ms: number, why: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new JobError('JOB_START_FAILED', 500, why)), ms).unref());
}
