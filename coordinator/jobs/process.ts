// A submitted job's process (issue 11): forked with its limits, given a
// one-time credential, and watched until its driver connects back; then its
// output, messages and exit go to the runner.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fork, type ChildProcess } from 'node:child_process';
import type { JobId } from '../../shared/ids.js';
import type { ResolvedEnv } from '../../shared/env/env.js';
import type { Coordinator } from '../coordinator.js';
import type { FromJobWorker, JobWorkerData, ToJobWorker } from './protocol.js';
import { resolveJobEnv } from './env.js';
import { ENDED, JobError, type JobLimits, type JobStatus, type LogLine, type SubmittedJob } from './types.js';

/** A job's process must connect within this long (a process starts in ~0.2 s, seconds on a loaded machine; its driver waits as long for the welcome). */
const CONNECT_MS = 120_000;

/** What a job's process reports to: the runner. */
export interface JobHost {
  readonly c: Coordinator;
  readonly url: string;
  readonly limits: JobLimits;
  log(job: SubmittedJob, level: LogLine['level'], text: string): void;
  end(job: SubmittedJob, status: JobStatus, error: SubmittedJob['error']): void;
}

function workerFile(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(here)) return here;
  // Running from sources (vitest): use the built worker.
  const built = fileURLToPath(new URL('../../dist/coordinator/jobs/worker.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new Error('coordinator/jobs/worker.js not found: run `npm run build` first');
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
  const worker = fork(workerFile(), [], {
    env: {},
    execArgv: [`--max-old-space-size=${host.limits.memoryMb}`],
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
  sink = watch(host, job, worker, early);
}

function watch(host: JobHost, job: SubmittedJob, worker: ChildProcess, early: FromJobWorker[]) {
  const stream = (level: LogLine['level']) => (d: Buffer) => {
    for (const text of String(d).split('\n')) if (text) host.log(job, level, text);
  };
  worker.stdout!.on('data', stream('log'));
  worker.stderr!.on('data', stream('error'));
  const limit = setTimeout(
    () => host.end(job, 'timeout', { name: 'JobTimeoutError', message: `the job ran longer than ${job.timeoutMs} ms`, stack: '' }),
    job.timeoutMs,
  );
  limit.unref();
  const sink = {
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
  for (const m of early) sink.message(m);
  return sink;
}

function timeout(ms: number, why: string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new JobError('JOB_START_FAILED', 500, why)), ms).unref());
}
