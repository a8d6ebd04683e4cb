// A child process of many real nodes (bench/scale-nodes.ts: real NodeRuntimes over real WebSockets, executors in
// its thread), for tests that stop or kill a host's worth of nodes at once (test/fault/held-*.test.ts).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NodesReport } from '../../bench/scale-nodes.js';
import type { ServerOptions } from '../../coordinator/server.js';
import { Cluster } from './cluster.js';
import { countLostRuns } from './lost-runs.js';

const NODES = fileURLToPath(new URL('../../dist/bench/scale-nodes.js', import.meta.url));

/** Started processes: the test's afterEach kills what is left (killNodeProcesses). */
const procs: ChildProcess[] = [];

/** A child process of `count` real nodes joined to `url`, their names `<pid>-<tag>-<i>`-like (bench/scale-nodes.ts). */
async function nodesProcess(url: string, count: number, tag: string): Promise<ChildProcess> {
  const p = fork(NODES, [], { env: { ...process.env, SCALE_URL: url, SCALE_TAG: tag }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  procs.push(p);
  const next = () => new Promise<NodesReport | { k: 'up' }>((r) => p.once('message', r as (m: unknown) => void));
  await next();
  p.send({ k: 'join', count, concurrency: 8 });
  const r = (await next()) as NodesReport;
  if (r.joined !== count) throw new Error(`${tag}: ${r.joined} of ${count} nodes joined: ${r.errors.join('; ')}`);
  return p;
}

/** Kills every node process still running (a stopped one too: SIGKILL ends it). */
export async function killNodeProcesses(): Promise<void> {
  for (const p of procs.splice(0)) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }
}

/**
 * A cluster with no nodes of its own joined by two hosts: a process of `held` nodes (the one a test stops or kills,
 * tagged 'held') and one of `other`. `keep` gets the cluster at once, so the test's afterEach stops it even if a join
 * fails. Also counts the runs the coordinator takes for lost (a task's run on a node declared lost).
 */
export async function twoHosts(
  o: ServerOptions,
  held: number,
  other: number,
  keep: (cl: Cluster) => void,
): Promise<{ cl: Cluster; stopped: ChildProcess; lostRuns: () => number }> {
  const cl = await Cluster.start({ nodes: 0, ...o });
  keep(cl);
  const c = cl.c.coordinator;
  const stopped = await nodesProcess(cl.url, held, 'held');
  await nodesProcess(cl.url, other, 'other');
  const n = held + other;
  await cl.until(
    () => c.gcs.nodes.size === n,
    60_000,
    () => `${n} nodes (${c.gcs.nodes.size})`,
  );
  return { cl, stopped, lostRuns: countLostRuns(c) };
}
