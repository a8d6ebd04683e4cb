// Simulated nodes for bench:scale: many real NodeRuntimes in one process,
// each with its own WebSocket to the coordinator and the real protocol, whose
// executors run in this thread (the same ExecutorCore a worker runs, without
// the worker), so that thousands fit on a small machine. Driven over IPC.
import { JobProfiler, type ProfileRequest } from './scale-profile.js';
import WebSocket from 'ws';
import { NodeRuntime } from '../shared/node/runtime.js';
import { everyOnGrid } from '../shared/node/heartbeat.js';
import type { WebSocketCtor } from '../shared/api/socket.js';
import { installNodeHasher } from '../edge/node-hash.js';
import { endWithParent } from './processes.js';
import { inThreadExecutors } from './bench-nodes.js';
import { BACKOFF, rejoinDelay, retryHint } from '../shared/backoff.js';
import { CoordinatorUrls, sendOnHint } from '../shared/coordinator-urls.js';

export type NodesRequest = { k: 'join'; count: number; concurrency: number } | { k: 'leave'; count: number } | { k: 'count' };

export interface NodesReport {
  k: 'report';
  joined: number;
  failed: number;
  /** Nodes whose connection closed without being asked to leave. */
  dropped: number;
  alive: number;
  errors: string[];
  /** Join attempts that failed (then tried again, or given up after JOIN_ATTEMPTS), by why, since the process started. */
  refusals: Record<string, number>;
  /** Joins sent on by a full coordinator to another of the mesh (COORDINATOR_FULL next=), since the process started. */
  sentOn: number;
  /** Nodes connected, by the coordinator they joined (SCALE_URL may list several). */
  byCoordinator: Record<string, number>;
  ms: number;
}

/** One coordinator, or several of one mesh separated by commas (SCALE_COORDINATORS): each node tries them in order. */
const urls = process.env.SCALE_URL!.split(',');
/**
 * SCALE_SPREAD=1: the i-th node joining lists the coordinators from the (i mod K)-th on, so the nodes spread over
 * them; by default every node lists them in one order, so the first fills to its bound and sends the rest on
 * (COORDINATOR_FULL next=, shared/coordinator-urls.ts).
 */
const SPREAD = process.env.SCALE_SPREAD === '1';
/**
 * SCALE_SPREAD_BY=process (with SCALE_SPREAD=1): the rotation goes by this process's number (SCALE_TAG p<k>), not
 * node by node: every node of process k lists the coordinators from the (k mod K)-th on, so that a job on one
 * coordinator's nodes keeps as many simulator processes busy as it would on one coordinator (an A/B of the
 * simulator's own cost: four busy processes on two cores cost more a task than two).
 */
const BY_PROCESS = process.env.SCALE_SPREAD_BY === 'process';
const processNumber = Number(/^p(\d+)$/.exec(process.env.SCALE_TAG ?? '')?.[1] ?? 0);
let joins = 0;
const rotated = (i: number) => [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)];
const cpus = Number(process.env.SCALE_CPUS ?? 1);
const tag = process.env.SCALE_TAG ?? String(process.pid);
const alive = new Set<NodeRuntime>();
const joinedAt = new Map<NodeRuntime, string>();
let sentOn = 0;
const leaving = new WeakSet<NodeRuntime>();
let seq = 0;
let dropped = 0;
const refusals: Record<string, number> = {};
const spawn = inThreadExecutors();

/** Joins one node; a refused or dropped attempt is tried again after a jittered backoff, like a volunteer's tab. */
async function joinOne(errors: string[]): Promise<boolean> {
  let why = '';
  // Where it joins, as an edge node (shared/coordinator-urls.ts): the list in order, a full coordinator's `next` at once.
  const where = new CoordinatorUrls(SPREAD ? rotated(BY_PROCESS ? processNumber : joins++) : urls);
  try {
    for (let attempt = 0, hinted = 0, sent = 0; attempt < JOIN_ATTEMPTS; attempt++) {
      // The edge node's wait (edge/node.ts): none when sent on, the coordinator's retry hint when refused with one, else the backoff.
      if (why !== '' && !where.moveOn(why)) await new Promise((r) => setTimeout(r, rejoinDelay(BACKOFF.nodeRejoin, attempt, why)));
      const r = await tryJoin(where.current, attempt === JOIN_ATTEMPTS - 1 ? errors : []);
      if (r === true) return true;
      why = r;
      retries++;
      // A refusal that gave a slot does not use up an attempt (a storm past the burst waits its turn), up to a bound.
      if (retryHint(why) !== undefined && ++hinted < HINTED_ATTEMPTS) attempt--;
      // Nor one that sent it on to another coordinator (bounded there too).
      else if (sendOnHint(why) !== undefined && ++sent < HINTED_ATTEMPTS) attempt--;
    }
    return false;
  } finally {
    sentOn += where.followed;
  }
}

/**
 * SCALE_TICK_SLEEP=0: idle nodes tick every heartbeat period as before session 32 (their ticks' skips ignored), to
 * measure what sleeping through them saves (bench/scale-cluster.ts: SCALE_TICK_SLEEP=alternate, every other process).
 */
const TICK_SLEEP = process.env.SCALE_TICK_SLEEP !== '0';
const tickEverySecond = (ms: number, fn: () => void) => everyOnGrid(ms, () => fn());

const JOIN_ATTEMPTS = 8;
const HINTED_ATTEMPTS = 100;
let retries = 0;

/** True when joined, else why not. */
async function tryJoin(url: string, errors: string[]): Promise<true | string> {
  const rt = new NodeRuntime(
    { url, kind: 'edge', name: `sim-${tag}-${seq++}`, cpus, storeBytes: 16 * 1024 * 1024 },
    { WebSocket: WebSocket as unknown as WebSocketCtor, spawnExecutor: spawn, ...(TICK_SLEEP ? {} : { every: tickEverySecond }) },
  );
  try {
    await rt.ready;
  } catch (e) {
    const why = (e as Error).message;
    if (errors.length < 5) errors.push(why);
    // By why, a retry hint's number and a sent-on URL left out (one line per code, not per slot or coordinator).
    const kind = why.replace(/ retry=\d+ms/, ' retry=…').replace(/ next=\S+?(?=\))/, ' next=…');
    refusals[kind] = (refusals[kind] ?? 0) + 1;
    return why;
  }
  alive.add(rt);
  joinedAt.set(rt, url);
  void rt.closedPromise.then(() => {
    alive.delete(rt);
    joinedAt.delete(rt);
    if (!leaving.has(rt)) dropped++;
  });
  return true;
}

async function join(count: number, concurrency: number): Promise<NodesReport> {
  const t0 = performance.now();
  const errors: string[] = [];
  let next = 0;
  let joined = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++;
        if (await joinOne(errors)) joined++;
        else failed++;
      }
    }),
  );
  if (retries) errors.push(`${retries} join attempts were refused or dropped and tried again`);
  return { k: 'report', joined, failed, dropped, alive: alive.size, errors, refusals, sentOn, byCoordinator: byCoordinator(), ms: performance.now() - t0 };
}

function byCoordinator(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const u of joinedAt.values()) out[u] = (out[u] ?? 0) + 1;
  return out;
}

async function leave(count: number): Promise<NodesReport> {
  const t0 = performance.now();
  const go = [...alive].slice(0, count);
  for (const rt of go) leaving.add(rt);
  await Promise.all(go.map((rt) => rt.close()));
  return {
    k: 'report',
    joined: 0,
    failed: 0,
    dropped,
    alive: alive.size,
    errors: [],
    refusals,
    sentOn,
    byCoordinator: byCoordinator(),
    ms: performance.now() - t0,
  };
}

installNodeHasher();
// Gone with the bench, even one killed outright (its handlers never ran).
endWithParent();
// A clean exit on SIGTERM, so that --cpu-prof (SCALE_CPU_PROF) writes its profile.
process.on('SIGTERM', () => process.exit(0));
// SCALE_PROFILE=<folder>: this process's CPU and sampling heap profiles of each job alone, as the coordinator's.
const profiler = process.env.SCALE_PROFILE ? new JobProfiler(process.env.SCALE_PROFILE) : null;
process.on('message', (m: NodesRequest | ProfileRequest) => {
  if (m.k === 'profile') {
    const name = m.name === undefined ? undefined : `${m.name}-${process.env.SCALE_TAG ?? ''}`;
    const done = !profiler ? Promise.resolve([]) : name === undefined ? profiler.stop() : profiler.start(name).then(() => []);
    return void done.then((files) => process.send!({ k: 'profiled', files }));
  }
  const reply = (r: NodesReport) => process.send!(r);
  if (m.k === 'join') void join(m.count, m.concurrency).then(reply);
  else if (m.k === 'leave') void leave(m.count).then(reply);
  else reply({ k: 'report', joined: 0, failed: 0, dropped, alive: alive.size, errors: [], refusals, sentOn, byCoordinator: byCoordinator(), ms: 0 });
});
process.send!({ k: 'up' });
