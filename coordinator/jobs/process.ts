// A submitted job's process (issue 11): forked with its limits, given a
// one-time credential, and watched until its driver connects back; then its
// output, messages and exit go to the runner.
import { randomBytes } from 'node:crypto';
import type { JobId } from '../../shared/ids.js';
import type { ResolvedEnv } from '../../shared/env/env.js';
import type { Coordinator } from '../coordinator.js';
import type { FromJobWorker, JobWorkerData, ToJobWorker } from './protocol.js';
import { resolveJobEnv } from './env.js';
import { jobsFile, type JobLauncher } from './launcher.js';
import { ENDED, JobError, type JobLimits, type JobStatus, type LogLine, type SubmittedJob } from './types.js';

/** A job's process must connect within this long (a process starts in ~0.2 s, seconds on a loaded machine; its driver waits as long for the welcome). */
const CONNECT_MS = 120_000;

/** What a job's process reports to: the runner. */
export interface JobHost {
  readonly c: Coordinator;
  readonly url: string;
  readonly limits: JobLimits;
  /** Forks the job processes off the coordinator's thread (launcher.ts). */
  readonly launcher: JobLauncher;
  log(job: SubmittedJob, level: LogLine['level'], text: string): void;
  end(job: SubmittedJob, status: JobStatus, error: SubmittedJob['error']): void;
}

/** Starts the job's worker and waits for its driver to connect (as job `adopt` when given). */
export async function launchJob(host: JobHost, job: SubmittedJob, adopt?: JobId, resolved?: ResolvedEnv, announce?: (id: JobId) => void): Promise<void> {
  const env = resolved ?? (await resolveJobEnv(job.runtimeEnv));
  const credential = randomBytes(32).toString('base64url');
  const data: JobWorkerData = { url: host.url, credential, name: job.name, source: job.source, runtimeEnv: env };
  const connected = new Promise<JobId>((resolve) =>
    host.c.jobCredentials.set(credential, {
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
  // The fork happens on the launcher thread: on this one it stopped the loop until the child exec'd (launch-worker.ts).
  const start: ToJobWorker = { k: 'start', data };
  const worker = host.launcher.start(jobsFile('worker.js'), [`--max-old-space-size=${host.limits.memoryMb}`], start);
  // Messages and output before the job is set up are kept and replayed, in order.
  const early: Early[] = [];
  let sink: Sink | null = null;
  let oom = false;
  const failedEarly = new Promise<never>((_, reject) => {
    const fail = (why: string) => reject(new JobError('JOB_START_FAILED', 500, why));
    worker.on('message', (m) => (sink ? sink.message(m as FromJobWorker) : early.push({ m: m as FromJobWorker })));
    worker.on('out', (text) => (sink ? sink.output('log', text) : early.push({ level: 'log', text })));
    worker.on('err', (text) => {
      oom ||= text.includes('heap out of memory');
      if (sink) sink.output('error', text);
      else early.push({ level: 'error', text });
    });
    worker.on('error', (e) => (sink ? sink.error(e) : fail(e.message)));
    // 'close': after the last message and output, unlike 'exit'.
    worker.on('close', (code, signal) => {
      if (sink) return sink.exit(oom ? null : code, oom ? 'OOM' : signal);
      const err = early.flatMap((e) => ('m' in e && e.m.k === 'error' ? [e.m] : []))[0];
      fail(err ? `${err.name}: ${err.message}` : `the job's process exited (${signal ?? `code ${code}`}) before connecting`);
    });
  });
  const timer = setTimeout(() => host.c.jobCredentials.delete(credential), CONNECT_MS);
  let id: JobId;
  try {
    id = await Promise.race([connected, failedEarly, timeout(CONNECT_MS, `the job's process did not connect within ${CONNECT_MS / 1000} s`)]);
  } catch (e) {
    host.c.jobCredentials.delete(credential);
    worker.kill('SIGKILL');
    throw e;
  } finally {
    clearTimeout(timer);
  }
  if (ENDED.has(job.status)) {
    // Cancelled while it was starting again.
    host.c.endJob(id);
    worker.kill('SIGKILL');
    return;
  }
  job.id = id;
  job.status = 'running';
  job.worker = worker;
  sink = watch(host, job, early);
}

/** What a job's process said before it connected: an IPC message, or output. */
type Early = { m: FromJobWorker } | { level: LogLine['level']; text: string };

interface Sink {
  message(m: FromJobWorker): void;
  output(level: LogLine['level'], text: string): void;
  error(e: Error): void;
  exit(code: number | null, signal: string | null): void;
}

function watch(host: JobHost, job: SubmittedJob, early: Early[]): Sink {
  const limit = setTimeout(
    () => host.end(job, 'timeout', { name: 'JobTimeoutError', message: `the job ran longer than ${job.timeoutMs} ms`, stack: '' }),
    job.timeoutMs,
  );
  limit.unref();
  const sink: Sink = {
    output: (level, d) => {
      for (const text of d.split('\n')) if (text) host.log(job, level, text);
    },
    message: (m: FromJobWorker) => {
      if (m.k === 'log') host.log(job, m.level, m.text);
      else if (m.k === 'result') {
        job.result = JSON.parse(m.json);
        host.end(job, 'succeeded', null);
      } else if (m.k === 'error') host.end(job, 'failed', { name: m.name, message: m.message, stack: m.stack });
    },
    error: (e: Error) => host.end(job, 'failed', { name: e.name, message: e.message, stack: e.stack ?? '' }),
    exit: (code: number | null, signal: string | null) => {
      clearTimeout(limit);
      if (signal === 'OOM') host.end(job, 'failed', { name: 'JobMemoryError', message: `the job used more than ${host.limits.memoryMb} MB`, stack: '' });
      else host.end(job, 'failed', { name: 'JobExitError', message: `the job's process exited (${signal ?? `code ${code}`}) without a result`, stack: '' });
    },
  };
  for (const e of early) {
    if ('m' in e) sink.message(e.m);
    else sink.output(e.level, e.text);
  }
  return sink;
}

function timeout(ms: number, why: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new JobError('JOB_START_FAILED', 500, why)), ms).unref());
}
