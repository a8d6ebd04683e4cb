// The soak workload (issue 11): `tabmesh start` as a child process and jobs
// of every kind a new user submits, through `POST /api/jobs` and `tabmesh
// submit`: jobs that succeed, throw, fail in a task, do not parse, are
// cancelled mid-run, put and read 50 MB, or leave a 50 MB put behind; plus
// Node drivers (their own processes, with WebRTC) that exit while a node
// reads their 50 MB put. Used by test/soak/soak.test.ts and bench/soak.ts.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CLI, ROOT, fetchStats, sleep, spawnCli, waitForLine, type Child } from './harness.js';
import { coordinatorFetch } from '../cli/http.js';

export const KINDS = ['ok', 'throws', 'task-throws', 'syntax', 'cancel', 'big', 'big-left', 'driver-exit'] as const;
export type Kind = (typeof KINDS)[number];

export const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'timeout']);
const MB50 = 50 * 2 ** 20;

export interface Expected {
  status: 'succeeded' | 'failed' | 'cancelled';
  /** The result of a job that succeeded. */
  result?: unknown;
  /** A text the error's `name: message` contains. */
  error?: string;
}

/** A job's program and what it must end with; `i` makes each result its own. */
export function program(kind: Exclude<Kind, 'driver-exit'>, i: number): { source: string; expect: Expected } {
  switch (kind) {
    case 'ok':
      return {
        source: `const sq = mesh.remote(function sq(x) { return x * x; });\nconsole.log('job ${i}');\nconst out = await mesh.get([${i}, ${i + 1}, ${i + 2}].map((x) => sq.remote(x)));\nreturn { i: ${i}, sum: out.reduce((a, b) => a + b, 0) };`,
        expect: { status: 'succeeded', result: { i, sum: i * i + (i + 1) ** 2 + (i + 2) ** 2 } },
      };
    case 'throws':
      return {
        source: `console.log('about to throw');\nthrow new RangeError('soak ${i} threw');`,
        expect: { status: 'failed', error: `RangeError: soak ${i} threw` },
      };
    case 'task-throws':
      return {
        source: `const bad = mesh.remote(function bad(n) { throw new TypeError('task of ' + n + ' failed'); });\nreturn await mesh.get(bad.remote(${i}));`,
        expect: { status: 'failed', error: `task of ${i} failed` },
      };
    case 'syntax':
      return { source: `const x = (1 +;\nreturn x;`, expect: { status: 'failed', error: 'SyntaxError' } };
    case 'cancel':
      // Runs until cancelled, with tasks in flight.
      return {
        source: `const step = mesh.remote(function step(x) { return x + 1; });\nlet n = 0;\nfor (;;) n = await mesh.get(step.remote(n));`,
        expect: { status: 'cancelled', error: 'JobCancelledError' },
      };
    case 'big':
      // 50 MB each way: a put a task reads, and a task's output the job reads.
      return {
        source: `const big = new Uint8Array(${MB50}); big[12345] = ${i % 200};\nconst ref = mesh.put(big);\nconst probe = mesh.remote(function probe(b) { return b.length + b[12345]; });\nconst make = mesh.remote(function make(n, v) { const a = new Uint8Array(n); a[n - 1] = v; return a; });\nconst back = await mesh.get(make.remote(${MB50}, ${(i + 1) % 200}));\nreturn [await mesh.get(probe.remote(ref)), back.length, back[back.length - 1]];`,
        expect: { status: 'succeeded', result: [MB50 + (i % 200), MB50, (i + 1) % 200] },
      };
    case 'big-left':
      // Returns at once: its driver goes while a node may be reading its 50 MB put.
      return {
        source: `const ref = mesh.put(new Uint8Array(${MB50}));\nmesh.remote(function probe(b) { return b.length; }).remote(ref);\nreturn 'left ${i}';`,
        expect: { status: 'succeeded', result: `left ${i}` },
      };
  }
}

export interface JobView {
  id: string;
  kind: string;
  name: string;
  status: string;
  progress: { total: number; done: number; failed: number; cancelled: number };
  result: unknown;
  error: { name: string; message: string } | null;
  durationMs: number;
  logLines: number;
}

/** `tabmesh start` on a free port with `data` as its data folder, or one already running (`attach`). */
export class SoakTarget {
  private constructor(
    /** null when attached to a process this one did not start. */
    readonly child: Child | null,
    readonly url: string,
    readonly token: string,
    /** The process's id: its open files are counted in /proc (where there is one). */
    readonly pid: number,
  ) {}

  /** A `tabmesh start` someone else started (its URL, driver token and process id); `stop` leaves it running. */
  static attach(url: string, token: string, pid: number): SoakTarget {
    return new SoakTarget(null, url, token, pid);
  }

  static async start(data: string, name = 'tabmesh-start'): Promise<SoakTarget> {
    const child = spawnCli(name, ['start', '--port', '0', '--data', data, '--cpus', '1'], { quiet: true });
    const url = (await waitForLine(child, /^tabmesh coordinator listening on (\S+)/, 60_000))[1];
    const token = (await waitForLine(child, /driver token: (\S+)/))[1];
    await waitForLine(child, /local edge node \S+ with/, 60_000);
    return new SoakTarget(child, url, token, child.proc.pid ?? 0);
  }

  get alive(): boolean {
    if (this.child) return this.child.proc.exitCode === null && this.child.proc.signalCode === null;
    try {
      process.kill(this.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** The process's open file descriptors (sockets, files, pipes), or null without /proc. */
  openFds(): number | null {
    try {
      return readdirSync(`/proc/${this.pid}/fd`).length;
    } catch {
      return null;
    }
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await coordinatorFetch(this.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as T };
  }

  /** POST /api/jobs; retries while the running-jobs limit refuses it. */
  async submitHttp(source: string, name: string): Promise<string> {
    for (;;) {
      const r = await this.call<{ id?: string; error?: string; message?: string }>('POST', '/api/jobs', { source, name });
      if (r.status === 201 && r.json.id) return r.json.id;
      if (r.status !== 429) throw new Error(`POST /api/jobs: ${r.status} ${r.json.error}: ${r.json.message}`);
      await sleep(200);
    }
  }

  /** `tabmesh submit FILE`: resolves with the job id it printed and its exit code. */
  submitCli(source: string, name: string, opts: { cancelAfterProgress?: boolean } = {}): { id: Promise<string>; exit: Promise<number | null> } {
    const dir = mkdtempSync(join(tmpdir(), 'tabmesh-soak-job-'));
    const file = join(dir, `${name}.js`);
    writeFileSync(file, source);
    const args = ['submit', file, '--coordinator', this.url, `--token=${this.token}`, '--name', name];
    if (opts.cancelAfterProgress) args.push('--cancel-on-exit');
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const id = new Promise<string>((resolve, reject) => {
      p.stderr.on('data', (d) => {
        err += d;
        const m = /job ([0-9a-f]{16}) submitted/.exec(err);
        if (m) resolve(m[1]);
        // A job that loops shows progress: then Ctrl+C (SIGINT) cancels it.
        if (m && opts.cancelAfterProgress && /\] +\d+% [1-9]\d*\/\d+ tasks/.test(err)) p.kill('SIGINT');
      });
      p.once('exit', (code) => reject(new Error(`tabmesh submit exited (${code}) before printing a job id:\n${err}`)));
    });
    p.stdout.resume();
    // Never wait forever: a CLI that has not exited after 3 minutes is a problem to report.
    const limit = setTimeout(() => p.kill('SIGKILL'), 180_000);
    const exit = new Promise<number | null>((resolve) =>
      p.once('exit', (code, signal) => {
        clearTimeout(limit);
        rmSync(dir, { recursive: true, force: true }); // one folder per CLI job: thousands after a long soak
        resolve(signal === 'SIGKILL' ? -9 : code);
      }),
    );
    id.catch(() => {});
    return { id, exit };
  }

  async job(id: string): Promise<JobView> {
    const r = await this.call<JobView>('GET', `/api/jobs/${id}`);
    if (r.status !== 200) throw new Error(`GET /api/jobs/${id}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }

  async waitEnded(id: string, timeoutMs = 120_000): Promise<JobView> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const j = await this.job(id);
      if (ENDED.has(j.status)) return j;
      if (Date.now() > end || !this.alive) throw new Error(`job ${id} did not end (status ${j.status}; process alive: ${this.alive})`);
      await sleep(100);
    }
  }

  /** Waits until the job has finished `n` tasks, then DELETE /api/jobs/:id. */
  async cancelAfter(id: string, n = 3): Promise<void> {
    for (let k = 0; k < 600; k++) {
      const j = await this.job(id);
      if (j.progress.done >= n || ENDED.has(j.status)) break;
      await sleep(50);
    }
    const r = await this.call('DELETE', `/api/jobs/${id}`);
    if (r.status !== 200) throw new Error(`DELETE /api/jobs/${id}: ${r.status}`);
  }

  /** A Node driver process (its own WebRTC stack) that puts 50 MB, has a node read it, and exits mid-read. */
  driverExit(): Promise<number | null> {
    const built = join(ROOT, 'dist/bench/soak-driver.js');
    const p = spawn(process.execPath, [built, this.url, this.token], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    return new Promise((resolve, reject) => {
      p.once('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`soak driver exited ${code}:\n${err}`))));
    });
  }

  async rssBytes(): Promise<number> {
    return (await fetchStats(this.url, this.token)).rssBytes;
  }

  async stop(): Promise<void> {
    await this.child?.stop(15_000);
  }

  /** SIGKILL: the process dies as in a crash or an OOM kill. */
  async kill(): Promise<void> {
    if (!this.child) throw new Error('an attached tabmesh start is not killed by the soak');
    await this.child.kill();
  }
}

/** Whether a job ended as expected; the reason when it did not. */
export function mismatch(j: JobView, e: Expected): string | null {
  if (j.kind !== 'submitted') return `job ${j.id} is listed as ${j.kind}`;
  if (j.status !== e.status) return `job ${j.id} (${j.name}) ${j.status}, expected ${e.status}: ${JSON.stringify(j.error)}`;
  if (e.result !== undefined && JSON.stringify(j.result) !== JSON.stringify(e.result))
    return `job ${j.id} (${j.name}) returned ${JSON.stringify(j.result)}, expected ${JSON.stringify(e.result)}`;
  if (e.error && !`${j.error?.name}: ${j.error?.message}`.includes(e.error))
    return `job ${j.id} (${j.name}) failed with ${JSON.stringify(j.error)}, expected ${e.error}`;
  return null;
}

/** A job the soak ran, with what it must read back as. */
export interface Ran {
  id: string;
  kind: Kind;
  expect: Expected;
  via: 'http' | 'cli';
}

/** The kind of the soak's i-th job: every kind in each 20, the 50 MB ones once each. */
export function kindOf(i: number): Kind {
  const cycle: Kind[] = [
    'ok',
    'throws',
    'cancel',
    'ok',
    'task-throws',
    'big',
    'syntax',
    'ok',
    'cancel',
    'ok',
    'driver-exit',
    'throws',
    'ok',
    'task-throws',
    'big-left',
    'ok',
    'syntax',
    'cancel',
    'ok',
    'ok',
  ];
  return cycle[i % cycle.length];
}

/**
 * Runs `n` jobs, `parallel` at a time; every `cliEvery`-th one goes through
 * `tabmesh submit` (a cancel among them through Ctrl+C), the rest through
 * POST /api/jobs. Returns the submitted jobs (driver-exit runs are not jobs)
 * and the mismatches found as each one ended.
 */
export async function runSoak(
  t: SoakTarget,
  n: number,
  opts: { parallel?: number; cliEvery?: number; kind?: (i: number) => Kind; onEnded?: (done: number) => void } = {},
): Promise<{ ran: Ran[]; problems: string[]; ms: Partial<Record<Kind, number[]>> }> {
  const ran: Ran[] = [];
  const problems: string[] = [];
  const ms: Partial<Record<Kind, number[]>> = {};
  let next = 0;
  let done = 0;
  const kindAt = opts.kind ?? kindOf;
  const one = async (i: number): Promise<void> => {
    const kind = kindAt(i);
    if (kind === 'driver-exit') {
      await t.driverExit();
      return;
    }
    const { source, expect } = program(kind, i);
    const name = `soak-${i}-${kind}`;
    const viaCli = opts.cliEvery !== undefined && i % opts.cliEvery === 0;
    let id: string;
    if (viaCli) {
      const sub = t.submitCli(source, name, { cancelAfterProgress: kind === 'cancel' });
      id = await sub.id;
      const code = await sub.exit;
      const want = kind === 'cancel' ? 130 : expect.status === 'succeeded' ? 0 : 1;
      if (code !== want) problems.push(`tabmesh submit of ${name} exited ${code}, expected ${want}`);
    } else {
      id = await t.submitHttp(source, name);
      if (kind === 'cancel') await t.cancelAfter(id);
    }
    ran.push({ id, kind, expect, via: viaCli ? 'cli' : 'http' });
    const j = await t.waitEnded(id);
    const bad = mismatch(j, expect);
    if (bad) problems.push(bad);
  };
  const lane = async (): Promise<void> => {
    while (next < n && t.alive) {
      const i = next++;
      const t0 = Date.now();
      try {
        await one(i);
        (ms[kindAt(i)] ??= []).push(Date.now() - t0);
      } catch (e) {
        problems.push(`job ${i} (${kindAt(i)}): ${(e as Error).message}`);
      }
      opts.onEnded?.(++done);
    }
  };
  await Promise.all(Array.from({ length: opts.parallel ?? 3 }, lane));
  return { ran, problems, ms };
}
