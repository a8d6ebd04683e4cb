// Jobs submitted over HTTP (POST /api/jobs, `tabmesh submit`, the dashboard's
// editor) run on the coordinator's side as detached drivers, each in its own
// child process with memory and time limits; they outlive whoever submitted
// them, and (with the durable GCS) a coordinator restart (issue 11).
import { keepTail } from '../../shared/fifo.js';
import type { JobId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import { JobRecords } from './records.js';
import { resolveJobEnv, type JobRuntimeEnv } from './env.js';
import { launchJob, type JobHost } from './process.js';
import { JobLauncher } from './launcher.js';
import { DEFAULT_LIMITS, ENDED, JobError, MAX_RUNS, type JobLimits, type JobStatus, type LogLine, type SubmittedJob } from './types.js';

export { DEFAULT_LIMITS, ENDED, JobError, MAX_RUNS, type JobLimits, type JobStatus, type LogLine, type SubmittedJob };

export class JobRunner implements JobHost {
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
  readonly launcher = new JobLauncher();

  constructor(
    readonly c: Coordinator,
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
    launchJob(this, j, j.id).then(
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
    await launchJob(this, job, undefined, env, announce);
    this.jobs.set(job.id, job);
    this.trim();
    this.records.save(job);
    this.onChange(job);
    return job;
  }

  log(job: SubmittedJob, level: LogLine['level'], text: string): void {
    job.log.push({ seq: ++job.logSeq, ts: Date.now(), level, text });
    keepTail(job.log, this.limits.maxLogLines);
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

  end(job: SubmittedJob, status: JobStatus, error: SubmittedJob['error']): void {
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
    this.launcher.close();
  }
}
