// Shared helpers for the benchmarks in bench/: a coordinator and edge nodes as
// child processes of the bench (so their RSS is their own), /api/stats
// polling, percentiles, and the one-JSON-line-per-figure output.
//
// stdout carries only the figure lines; everything else goes to stderr.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coordinatorFetch } from '../cli/http.js';

/** The repository root (this file runs as dist/bench/harness.js, or from source in tests). */
export const ROOT = fileURLToPath(new URL(existsSync(fileURLToPath(new URL('../package.json', import.meta.url))) ? '..' : '../..', import.meta.url));
export const CLI = join(ROOT, 'bin/tabmesh.js');

// ---------------------------------------------------------------- output

export interface Figure {
  bench: string;
  value: number;
  unit: string;
  baseline: number | null;
  ratio: number | null;
}

/** Diagnostics: stderr only, so stdout stays one JSON line per figure. */
export function log(...parts: unknown[]): void {
  process.stderr.write(`[bench] ${parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ')}\n`);
}

/** Rounds to `digits` significant-ish decimals without turning big numbers into strings. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Makes a figure; ratio = value / baseline when there is a (non-zero) baseline. */
export function figure(bench: string, value: number, unit: string, baseline: number | null = null): Figure {
  const ratio = baseline === null || baseline === 0 ? null : value / baseline;
  return { bench, value: round(value), unit, baseline: baseline === null ? null : round(baseline), ratio: ratio === null ? null : round(ratio, 4) };
}

/** Prints one figure as one JSON line on stdout. */
export function emit(f: Figure): void {
  process.stdout.write(JSON.stringify(f) + '\n');
}

// ---------------------------------------------------------------- statistics

/** The p-th percentile (0..100) of `xs`, nearest-rank on a sorted copy. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** High-resolution now in ms. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `fn` and returns how long it took in ms. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = nowMs();
  await fn();
  return nowMs() - t0;
}

/**
 * Runs each contender `rounds` times, interleaved (A B A B ...), and returns
 * every contender's durations in ms. On a noisy machine, take the best.
 */
export async function interleaved<K extends string>(
  rounds: number,
  contenders: Record<K, () => Promise<unknown>>,
  opts: {
    /** Called after each timed run, untimed: cleanup, waiting for a quiet system... */
    after?: (name: K, round: number, ms: number) => Promise<void> | void;
  } = {},
): Promise<Record<K, number[]>> {
  const names = Object.keys(contenders) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      const ms = await timeMs(contenders[n]);
      out[n].push(ms);
      await opts.after?.(n, r, ms);
    }
  }
  return out;
}

// ---------------------------------------------------------------- processes

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Everything it printed (stdout and stderr), for diagnostics. */
  output: string[];
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (a crash: nothing is flushed or closed). */
  kill(): Promise<void>;
}

const children = new Set<Child>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

/** A temp directory removed by `removeTempDir` or, at the latest, when the bench exits. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Kills whatever children are left if the bench process dies or is interrupted. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    for (const d of tempDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`got ${sig}, killing children`);
      process.exit(130);
    });
  }
}

/** Starts `node bin/tabmesh.js ...args` as a child process. */
export function spawnCli(name: string, args: string[], opts: { quiet?: boolean } = {}): Child {
  installExitHook();
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    const s = String(d);
    output.push(s);
    if (output.length > 2000) output.splice(0, output.length - 1000);
    if (!opts.quiet) for (const line of s.split('\n')) if (line.trim()) process.stderr.write(`[${name}] ${line}\n`);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let stopping = false;
  const child: Child = {
    name,
    proc,
    output,
    stop: async (graceMs = 3000) => {
      stopping = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      children.delete(child);
    },
    kill: async () => {
      stopping = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      children.delete(child);
    },
  };
  children.add(child);
  proc.once('exit', (code, signal) => {
    if (!stopping) log(`UNEXPECTED: ${name} (pid ${proc.pid}) exited: code ${code} signal ${signal}; last output:\n${output.join('').slice(-4000)}`);
  });
  return child;
}

/** Resolves with the first stdout line matching `re`, rejects if the child exits or `timeoutMs` passes. */
export function waitForLine(child: Child, re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = child.output.join('');
    const check = (): boolean => {
      for (const line of buf.split('\n')) {
        const m = re.exec(line);
        if (m) {
          cleanup();
          resolve(m);
          return true;
        }
      }
      return false;
    };
    const onData = (d: Buffer) => {
      buf += String(d);
      check();
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`${child.name} exited (code ${code}, signal ${signal}) before printing ${re}:\n${child.output.join('')}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.name} did not print ${re} within ${timeoutMs} ms:\n${child.output.join('')}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.proc.stdout!.off('data', onData);
      child.proc.off('exit', onExit);
    };
    child.proc.stdout!.on('data', onData);
    child.proc.once('exit', onExit);
    check();
  });
}

// ---------------------------------------------------------------- stats

export type Stats = Record<string, number>;

/** GET /api/stats of a coordinator. */
export async function fetchStats(url: string, token: string): Promise<Stats> {
  const res = await coordinatorFetch(new URL('/api/stats', url).href, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET /api/stats: ${res.status} ${await res.text()}`);
  return (await res.json()) as Stats;
}

/**
 * Polls /api/stats every `everyMs` until `done(stats)` or `timeoutMs` passes.
 * Returns the last stats and whether the condition was met (never throws on timeout).
 */
export async function pollStats(
  url: string,
  token: string,
  done: (s: Stats) => boolean,
  opts: { timeoutMs?: number; everyMs?: number } = {},
): Promise<{ stats: Stats; met: boolean; waitedMs: number }> {
  const t0 = nowMs();
  const end = t0 + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const stats = await fetchStats(url, token);
    if (done(stats)) return { stats, met: true, waitedMs: nowMs() - t0 };
    if (nowMs() > end) return { stats, met: false, waitedMs: nowMs() - t0 };
    await sleep(opts.everyMs ?? 100);
  }
}

export const MB = 2 ** 20;

// ---------------------------------------------------------------- cluster

export interface BenchCluster {
  url: string;
  token: string;
  coordinator: Child;
  nodes: Child[];
  stats(): Promise<Stats>;
  /** Starts one more edge node process and waits until the coordinator counts it. */
  addNode(cpus: number): Promise<Child>;
  /** Stops every child (nodes first, then the coordinator) and removes temp dirs. */
  stop(): Promise<void>;
}

/**
 * A coordinator (`--memory`, or SQLite with `durable`; random token, port 0) as a child process, plus
 * `nodes` edge node processes with `cpus` executors each, all joined.
 */
export async function startCluster(
  opts: { nodes?: number; cpus?: number; verbose?: boolean; durable?: boolean; redis?: { url: string; prefix?: string } } = {},
): Promise<BenchCluster> {
  const token = 'bench-' + randomBytes(12).toString('hex');
  const dirs: string[] = [];
  // --memory, or (durable) the default SQLite GCS in a temp data folder, or the GCS in Redis (tokens in a temp folder).
  const gcsArgs = opts.durable || opts.redis ? ['--data', makeTempDir('tabmesh-bench-gcs-')] : ['--memory'];
  if (opts.durable || opts.redis) dirs.push(gcsArgs[1]);
  if (opts.redis) gcsArgs.push('--redis', opts.redis.url, ...(opts.redis.prefix ? ['--redis-prefix', opts.redis.prefix] : []));
  const coordinator = spawnCli('coordinator', ['coordinator', ...gcsArgs, '--port', '0', '--token', token], { quiet: !opts.verbose });
  const nodes: Child[] = [];
  let url = '';
  const cluster: BenchCluster = {
    get url() {
      return url;
    },
    token,
    coordinator,
    nodes,
    stats: () => fetchStats(url, token),
    addNode: async (cpus: number) => {
      const before = (await cluster.stats()).nodes ?? 0;
      const dir = makeTempDir('tabmesh-bench-node-');
      dirs.push(dir);
      const n = spawnCli(`node${nodes.length}`, ['node', '--coordinator', url, '--cpus', String(cpus), '--spill-dir', dir], {
        quiet: !opts.verbose,
      });
      nodes.push(n);
      let exited = false;
      n.proc.once('exit', () => (exited = true));
      const { met, stats } = await pollStats(url, token, (s) => exited || s.nodes > before, { timeoutMs: 60_000, everyMs: 50 });
      if (exited || !met) throw new Error(`edge node did not join (nodes=${stats.nodes}):\n${n.output.join('')}`);
      return n;
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await coordinator.stop();
      for (const d of dirs) removeTempDir(d);
    },
  };
  try {
    // First line: `tabmesh coordinator listening on http://127.0.0.1:PORT`
    const m = await waitForLine(coordinator, /^tabmesh coordinator listening on (\S+)/, 60_000);
    url = m[1];
    for (let i = 0; i < (opts.nodes ?? 1); i++) await cluster.addNode(opts.cpus ?? 2);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

/** Node's own RSS of this process in MB, for context in diagnostics. */
export function selfRssMb(): number {
  return process.memoryUsage().rss / MB;
}

/** Runs a benchmark's main: exit 0 when it finishes, 1 (with the stack on stderr) when it fails. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      log(`FAILED: ${(e as Error).stack ?? e}`);
      process.exit(1);
    },
  );
}
