// Coordinators and edge nodes as a user runs them: `tabmesh coordinator` and
// `tabmesh node` processes (the Redis tests SIGKILL them for real).
// cleanupProcesses() in afterEach kills what is left and removes temp folders.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './cluster.js';
import { until } from './poll.js';

/**
 * The cap of the rejoin and reconnect waits of a restart test's nodes (FAST_REJOIN: `--rejoin-max-ms`) and drivers
 * (connect's `reconnectMaxMs`): after a coordinator restart a node or driver waits up to the cap between tries
 * (5 s by default: ~2.5 s on average once the restarted coordinator listens, up to 5 s, per restart). Short, not 0:
 * the tries still back off. Opt-in: a file whose case is about the wait keeps the default.
 */
export const TEST_REJOIN_MAX_MS = 500;
/** `tabmesh node` flags: the tests' rejoin cap. */
export const FAST_REJOIN = ['--rejoin-max-ms', String(TEST_REJOIN_MAX_MS)];

/** `tabmesh node` on `coordinator` with `cpus` CPUs and its own spill folder; `more` flags after (e.g. FAST_REJOIN). */
export function runNode(coordinator: string, cpus: number, more: string[] = []): { proc: ChildProcess; out: string[] } {
  return run(['node', '--coordinator', coordinator, '--cpus', String(cpus), '--spill-dir', tempDir('tabmesh-node-'), ...more]);
}

const procs: ChildProcess[] = [];
const dirs: string[] = [];

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Kills every process started here that still runs; removes the temp folders. */
export function cleanupProcesses(): void {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function run(args: string[]): { proc: ChildProcess; out: string[] } {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  proc.stdout.on('data', (d) => out.push(String(d)));
  proc.stderr.on('data', (d) => out.push(String(d)));
  procs.push(proc);
  return { proc, out };
}

export interface Coord {
  proc: ChildProcess;
  url: string;
  out: string[];
}

/** `tabmesh coordinator --data D` (the durable SQLite GCS) on a free port (or `port`), with `more` flags; resolves once it listens. */
export async function dataCoordinator(data: string, token: string, port = 0, more: string[] = []): Promise<Coord> {
  const c = run(['coordinator', '--data', data, '--port', String(port), '--token', token, ...more]);
  // 60 s, as redisCoordinator's: a wait on a condition costs a fast start nothing, and at load 45+ (session 32's
  // fault runs, shared and isolated alike) a coordinator had printed nothing 20 s after its spawn.
  const url = await until(() => /listening on (http:\/\/\S+)/.exec(c.out.join(''))?.[1], {
    timeoutMs: 60_000,
    what: () => `the coordinator to listen: ${c.out.join('')}`,
  });
  return { ...c, url };
}

/**
 * `tabmesh coordinator --redis URL --redis-prefix P` on a free port (or `port`), with `more` flags (e.g. `--job-grace-ms`,
 * so that a case waits a short grace); resolves once it listens on Redis.
 */
export async function redisCoordinator(redisUrl: string, prefix: string, token: string, port = 0, more: string[] = []): Promise<Coord> {
  // The data folder only holds tokens here: the GCS is in Redis.
  const c = run([
    'coordinator',
    '--redis',
    redisUrl,
    '--redis-prefix',
    prefix,
    '--data',
    tempDir('tabmesh-redis-data-'),
    '--port',
    String(port),
    '--token',
    token,
    ...more,
  ]);
  // 60 s: at load 21-25 (session 20) the first of two coordinators started at once in test/redis/fence had printed
  // nothing 30 s after its spawn.
  const url = await until(() => /listening on (http:\/\/\S+)/.exec(c.out.join(''))?.[1], {
    timeoutMs: 60_000,
    what: () => `the coordinator to listen: ${c.out.join('')}`,
  });
  await until(() => /GCS: Redis redis:\/\//.test(c.out.join('')), { timeoutMs: 10_000, what: () => `the coordinator to print its GCS: ${c.out.join('')}` });
  return { ...c, url };
}

export async function kill(c: { proc: ChildProcess }): Promise<void> {
  c.proc.kill('SIGKILL');
  if (c.proc.exitCode === null && c.proc.signalCode === null) await new Promise((r) => c.proc.once('exit', r));
}

/** GET path with the token, as JSON; undefined while the coordinator does not answer. */
export async function getJson<T>(url: string, path: string, token: string): Promise<T | undefined> {
  try {
    const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return r.ok ? ((await r.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

export function stats(url: string, token: string): Promise<Record<string, number> | undefined> {
  return getJson<Record<string, number>>(url, '/api/stats', token);
}

/**
 * The coordinator's counters once `key` has reached `atLeast` (or as they are after `timeoutMs`). A count of what a job
 * did lags the driver's `get` by a moment: a node sends a direct task's report up to LATER_MS after the driver
 * has the result from it, so a test reads the counters this way before asserting exact figures.
 */
export async function statsWhen(url: string, token: string, key: string, atLeast: number, timeoutMs = 10_000): Promise<Record<string, number>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await stats(url, token);
    if (s && ((s[key] ?? 0) >= atLeast || Date.now() > end)) return s;
    if (Date.now() > end) throw new Error(`no /api/stats from ${url} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Until coordinator `c` sees its link to another coordinator of the mesh offer at least `cpus` CPUs: a link that said
 * hello before its coordinator's node joined offers 0 until its `capacity` comes, and a task pinned to it meanwhile
 * is infeasible there (a soft pin runs elsewhere at once).
 */
export async function linkOffers(c: Coord, token: string, cpus: number): Promise<void> {
  const offered = async () =>
    ((await getJson<{ name: string; resources: { cpu?: number } }[]>(c.url, '/api/nodes?after=0&limit=100', token)) ?? []).find((n) =>
      n.name.startsWith('coordinator '),
    )?.resources.cpu ?? 0;
  await until(async () => (await offered()) >= cpus, { timeoutMs: 15_000, what: `${c.url}'s link to offer ${cpus} CPUs` });
}

/** Prints what coordinators `cs` know (their events but tasks starting and ending, their tasks, their stats): a failing mesh test says where it stood. */
export async function printCoordinators(cs: Coord[], token: string): Promise<void> {
  for (const c of cs) {
    const ev = (await getJson<{ kind: string; message: string }[]>(c.url, '/api/events?limit=300', token)) ?? [];
    console.log(c.url, JSON.stringify(ev.filter((x) => !/^task-(started|finished)$/.test(x.kind)).map((x) => [x.kind, x.message])).slice(-5000));
    console.log(c.url, JSON.stringify(await getJson(c.url, '/api/tasks?limit=50', token)).slice(0, 5000));
    console.log(c.url, 'stats', JSON.stringify(await stats(c.url, token)));
  }
}

/** Starts `n` edge nodes of 2 CPUs on `coordinator` (a URL, or several of one mesh separated by commas), with `more` flags (e.g. FAST_REJOIN); waits until `c` counts `total` nodes. */
export async function edgeNodes(
  c: Coord,
  token: string,
  n: number,
  coordinator = c.url,
  total = n,
  more: string[] = [],
): Promise<{ proc: ChildProcess; out: string[] }[]> {
  const started = Array.from({ length: n }, () => runNode(coordinator, 2, more));
  // 60 s, as the coordinators' waits: at load 37-41 (session 34, test/redis/restart-counts) a node process had not joined 30 s after its spawn.
  await until(async () => ((await stats(c.url, token))?.nodes ?? 0) >= total, { timeoutMs: 60_000, what: `${total} node(s)` });
  return started;
}

/**
 * A free port on 127.0.0.1 for a server started again on the port it had (a restarted coordinator, one started
 * later at a URL given out before, a port nothing may answer on): taken from [10000, 20000), below Linux's
 * ephemeral range (32768-60999, where port 0 binds land) and the Redis helper's ports (20000-32767, redis.ts),
 * so a test file running beside cannot be handed it while it is free.
 */
export async function restartablePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 10000 + Math.floor(Math.random() * 10000);
    const s = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise((r) => s.close(r));
      return port;
    }
  }
  throw new Error('no free port in [10000, 20000)');
}
