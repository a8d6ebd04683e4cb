// Jobs submitted over HTTP (POST /api/jobs, `tabmesh submit`, the dashboard's
// editor) run on the coordinator's side as detached drivers, each in its own
// child process with memory and time limits; they outlive whoever submitted
// them, and (with the durable GCS) a coordinator restart (issue 11).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fork, type ChildProcess } from 'node:child_process';
import type { JobId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import type { FromJobWorker, JobWorkerData, ToJobWorker } from './protocol.js';
import { JobRecords } from './records.js';
import { JobError } from './job-error.js';
import { ENDED, type JobStatus, type LogLine, type SubmittedJob } from './submitted.js';

export { JobError } from './job-error.js';
export { ENDED, type JobStatus, type LogLine, type SubmittedJob } from './submitted.js';
import { resolveJobEnv, type JobRuntimeEnv } from './env.js';
import type { ResolvedEnv } from '../../shared/env/env.js';

/** A job's process must connect within this long (a process starts in ~0.2 s, seconds on a loaded machine; its driver waits as long for the welcome). */
const CONNECT_MS = 120_000;

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

  /** Durable records (the GCS's `submitted` table): history and programs to run again. */
  readonly records: JobRecords;
  /** Jobs that were running when the coordinator stopped: run again once it listens. */
  private recovered: SubmittedJob[] = [];

  constructor(
    private readonly c: Coordinator,
    limits: Partial<JobLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.records = new JobRecords(c.gcs.storage);
    c.onJobEnded = (g) => {
      const j = this.jobs.get(g.id);
      if (!j) return;
      j.counts = { ...g.counts };
      this.records.save(j);
      this.onChange(j);
    };
    this.load();
  }

  /** Reads the records back: ended jobs are history, running ones run again (see `listening`). */
  private load(): void {
    const rows = this.records.load((key, why) => this.c.gcs.event('job-record-dropped', `job record ${key} dropped: ${why.message}`));
    // Oldest first: the ended jobs past maxKept go, as trim() does while running.
    let extra = rows.filter((r) => ENDED.has(r.status)).length - this.limits.maxKept;
    for (const r of rows) {
      if (ENDED.has(r.status) && extra-- > 0) {
        this.records.drop(r.id);
        continue;
      }
      const j: SubmittedJob = { ...r, worker: null };
      this.jobs.set(j.id, j);
      if (!ENDED.has(j.status)) this.recovered.push(j);
    }
  }

  get running(): number {
    let n = 0;
    for (const j of this.jobs.values()) if (!ENDED.has(j.status)) n++;
    return n;
  }

  /** The server listens: jobs connect back to `url`; jobs cut short by a restart run again. */
  listening(url: string): void {
    this.url = url;
    const again = this.recovered;
    this.recovered = [];
    for (const j of again) this.runAgain(j);
  }

  /**
   * A job that was running when the coordinator stopped runs again from its
   * source under the same id (a detached driver has nobody to come back for it).
   */
  private runAgain(j: SubmittedJob): void {
    const mesh = this.c.mesh;
    if (mesh) {
      // Several coordinators on one Redis: only the one that holds the job's lease runs it (not a second one starting).
      void mesh.claim(j.id).then((ours) => {
        if (ours) this.runAgainHere(j);
        else this.jobs.delete(j.id);
      });
      return;
    }
    this.runAgainHere(j);
  }

  private runAgainHere(j: SubmittedJob): void {
    if (j.runs >= MAX_RUNS) {
      this.end(j, 'failed', { name: 'JobRestartError', message: `the coordinator stopped ${j.runs} times while this job ran; it is not run again`, stack: '' });
      return;
    }
    if (!j.source.trim()) {
      this.end(j, 'failed', { name: 'JobRestartError', message: 'the coordinator stopped while this job ran, and its source was not kept', stack: '' });
      return;
    }
    j.runs++;
    j.status = 'starting';
    j.counts = null;
    this.log(j, 'warn', `the coordinator restarted while this job ran: running it again from its source (run ${j.runs} of at most ${MAX_RUNS})`);
    this.c.gcs.event('job-rerun', `job ${j.id} (${j.name}) runs again from its source after a coordinator restart`, { job: j.id });
    this.launch(j, j.id).then(
      () => this.onChange(j),
      (e: Error) =>
        this.end(j, 'failed', { name: 'JobRestartError', message: `the job could not run again after a coordinator restart: ${e.message}`, stack: '' }),
    );
  }

  /** Starts a job; resolves once its driver has connected (its id is the GCS job id). */
  async submit(input: { source: string; name?: string; timeoutMs?: number; runtimeEnv?: JobRuntimeEnv }): Promise<SubmittedJob> {
    if (!this.url) throw new JobError('JOB_START_FAILED', 503, 'the coordinator is not listening yet');
    if (this.running >= this.limits.maxRunning) {
      throw new JobError('JOB_LIMIT', 429, `${this.running} jobs are running; the limit is ${this.limits.maxRunning}`);
    }
    const job: SubmittedJob = {
      id: '' as JobId,
      name: (input.name ?? '').trim().slice(0, 120) || 'job',
      source: input.source,
      status: 'starting',
      submittedAt: Date.now(),
      endedAt: 0,
      result: null,
      error: null,
      log: [],
      logSeq: 0,
      timeoutMs: Math.min(input.timeoutMs ?? this.limits.timeoutMs, this.limits.timeoutMs),
      worker: null,
      counts: null,
      runs: 1,
      runtimeEnv: input.runtimeEnv,
    };
    // A bad runtime env is a 400 before any process starts.
    const env = await resolveJobEnv(job.runtimeEnv);
    // Logged as its driver connects, before the coordinator logs `job-started`.
    const announce = (id: JobId) => this.c.gcs.event('job-submitted', `job ${id} (${job.name}) submitted`, { job: id });
    await this.launch(job, undefined, env, announce);
    this.jobs.set(job.id, job);
    this.trim();
    this.records.save(job);
    this.onChange(job);
    return job;
  }

  /** Starts the job's worker and waits for its driver to connect (as job `adopt` when given). */
  private async launch(job: SubmittedJob, adopt?: JobId, resolved?: ResolvedEnv, announce?: (id: JobId) => void): Promise<void> {
    const env = resolved ?? (await resolveJobEnv(job.runtimeEnv));
    const credential = randomBytes(32).toString('base64url');
    const data: JobWorkerData = { url: this.url, credential, name: job.name, source: job.source, runtimeEnv: env };
    const connected = new Promise<JobId>((resolve) =>
      this.c.jobCredentials.set(credential, {
        jobId: adopt,
        connected: (id) => {
          announce?.(id);
          resolve(id);
        },
      }),
    );
    // A process of its own: nothing a program does (a native module, one
    // allocation past the heap limit, which aborts a whole process even from a
    // worker thread) can take the coordinator down. No env, no inherited flags.
    const worker = fork(workerFile(), [], {
      env: {},
      execArgv: [`--max-old-space-size=${this.limits.memoryMb}`],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const start: ToJobWorker = { k: 'start', data };
    worker.send(start);
    worker.unref();
    worker.channel?.unref();
    // Messages before the job is set up are kept and replayed.
    const early: FromJobWorker[] = [];
    let sink: { message(m: FromJobWorker): void; error(e: Error): void; exit(code: number | null, signal: string | null): void } | null = null;
    let oom = false;
    const failedEarly = new Promise<never>((_, reject) => {
      const fail = (why: string) => reject(new JobError('JOB_START_FAILED', 500, why));
      worker.on('message', (m: FromJobWorker) => (sink ? sink.message(m) : early.push(m)));
      worker.on('error', (e) => (sink ? sink.error(e) : fail(e.message)));
      worker.stderr!.on('data', (d: Buffer) => (oom ||= String(d).includes('heap out of memory')));
      // 'close': after the last message and output, unlike 'exit'.
      worker.on('close', (code, signal) => {
        if (sink) return sink.exit(oom ? null : code, oom ? 'OOM' : signal);
        const err = early.find((m) => m.k === 'error');
        fail(err?.k === 'error' ? `${err.name}: ${err.message}` : `the job's process exited (${signal ?? `code ${code}`}) before connecting`);
      });
    });
    const timer = setTimeout(() => this.c.jobCredentials.delete(credential), CONNECT_MS);
    let id: JobId;
    try {
      id = await Promise.race([connected, failedEarly, timeout(CONNECT_MS, `the job's process did not connect within ${CONNECT_MS / 1000} s`)]);
    } catch (e) {
      this.c.jobCredentials.delete(credential);
      worker.kill('SIGKILL');
      throw e;
    } finally {
      clearTimeout(timer);
    }
    if (ENDED.has(job.status)) {
      // Cancelled while it was starting again.
      this.c.endJob(id);
      worker.kill('SIGKILL');
      return;
    }
    job.id = id;
    job.status = 'running';
    job.worker = worker;
    sink = this.watch(job, worker, early);
  }

  private watch(job: SubmittedJob, worker: ChildProcess, early: FromJobWorker[]) {
    const stream = (level: LogLine['level']) => (d: Buffer) => {
      for (const text of String(d).split('\n')) if (text) this.log(job, level, text);
    };
    worker.stdout!.on('data', stream('log'));
    worker.stderr!.on('data', stream('error'));
    const limit = setTimeout(
      () => this.end(job, 'timeout', { name: 'JobTimeoutError', message: `the job ran longer than ${job.timeoutMs} ms`, stack: '' }),
      job.timeoutMs,
    );
    limit.unref();
    const sink = {
      message: (m: FromJobWorker) => {
        if (m.k === 'log') this.log(job, m.level, m.text);
        else if (m.k === 'result') {
          job.result = JSON.parse(m.json);
          this.end(job, 'succeeded', null);
        } else if (m.k === 'error') this.end(job, 'failed', { name: m.name, message: m.message, stack: m.stack });
      },
      error: (e: Error) => this.end(job, 'failed', { name: e.name, message: e.message, stack: e.stack ?? '' }),
      exit: (code: number | null, signal: string | null) => {
        clearTimeout(limit);
        if (signal === 'OOM') this.end(job, 'failed', { name: 'JobMemoryError', message: `the job used more than ${this.limits.memoryMb} MB`, stack: '' });
        else this.end(job, 'failed', { name: 'JobExitError', message: `the job's process exited (${signal ?? `code ${code}`}) without a result`, stack: '' });
      },
    };
    for (const m of early) sink.message(m);
    return sink;
  }

  log(job: SubmittedJob, level: LogLine['level'], text: string): void {
    job.log.push({ seq: ++job.logSeq, ts: Date.now(), level, text });
    if (job.log.length > this.limits.maxLogLines) job.log.splice(0, job.log.length - this.limits.maxLogLines);
    if (!ENDED.has(job.status) && job.id) this.records.saveSoon(job);
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
      // A job that succeeded closes its driver and exits; the others are stopped now.
      if (status === 'succeeded') setTimeout(() => w.kill('SIGKILL'), 2000).unref();
      else w.kill('SIGKILL');
    }
    this.c.gcs.event(`job-${status}`, `job ${job.id} (${job.name}) ${status}${error ? `: ${error.message}` : ''}`, { job: job.id });
    this.records.save(job);
    this.onChange(job);
  }

  private trim(): void {
    if (this.jobs.size <= this.limits.maxKept) return;
    for (const [id, j] of this.jobs) {
      if (this.jobs.size <= this.limits.maxKept) break;
      if (!ENDED.has(j.status)) continue;
      this.jobs.delete(id);
      this.records.drop(id);
    }
  }

  /** Stops every worker; running jobs keep their records and run again at the next start. */
  close(): void {
    this.records.flushDirty();
    for (const j of this.jobs.values()) {
      j.worker?.removeAllListeners();
      j.worker?.kill('SIGKILL');
    }
  }
}

function timeout(ms: number, why: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new JobError('JOB_START_FAILED', 500, why)), ms).unref());
}
