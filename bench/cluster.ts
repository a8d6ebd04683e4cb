// A bench's cluster: a coordinator and edge nodes as child processes, and
// /api/stats polling.
import { randomBytes } from 'node:crypto';
import { coordinatorFetch } from '../cli/http.js';
import { nowMs, sleep } from './figures.js';
import { makeTempDir, removeTempDir, spawnCli, waitForLine, type Child } from './processes.js';

// ---------------------------------------------------------------- stats

export type Stats = Record<string, number>;

/** GET `path` (the state API: /api/stats, /api/events?...) of a coordinator. */
export async function fetchApi<T>(url: string, token: string, path: string): Promise<T> {
  const res = await coordinatorFetch(new URL(path, url).href, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** GET /api/stats of a coordinator. */
export function fetchStats(url: string, token: string): Promise<Stats> {
  return fetchApi<Stats>(url, token, '/api/stats');
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
  opts: { nodes?: number; cpus?: number; verbose?: boolean; durable?: boolean; redis?: { url: string; prefix?: string }; coordinatorArgs?: string[] } = {},
): Promise<BenchCluster> {
  const token = 'bench-' + randomBytes(12).toString('hex');
  const dirs: string[] = [];
  // --memory, or (durable) the default SQLite GCS in a temp data folder, or the GCS in Redis (tokens in a temp folder).
  const gcsArgs = opts.durable || opts.redis ? ['--data', makeTempDir('tabmesh-bench-gcs-')] : ['--memory'];
  if (opts.durable || opts.redis) dirs.push(gcsArgs[1]);
  if (opts.redis) gcsArgs.push('--redis', opts.redis.url, ...(opts.redis.prefix ? ['--redis-prefix', opts.redis.prefix] : []));
  const coordinator = spawnCli('coordinator', ['coordinator', ...gcsArgs, '--port', '0', '--token', token, ...(opts.coordinatorArgs ?? [])], {
    quiet: !opts.verbose,
  });
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
