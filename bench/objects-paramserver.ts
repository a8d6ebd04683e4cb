// bench:objects, parameter-server section (issue 17): the workload of
// test/integration/actors.test.ts (shared/examples/paramserver.ts: an actor holds 1 MiB of weights; each round
// 8 tasks pull them and the driver pushes their 8 gradients back: 16 MiB of
// peer bytes a round, none relayed) on two volunteer tabs (a Chromium process
// each, no DevTools client), against the same on two edge nodes (the baseline), each on its own
// cluster, in the same run. Figures: the median round (ms), and the worst.
// The tabs reach the Node driver over WebSocket links (issue 17, tenth
// session); a third run with `?wslinks=0` (WebRTC) is their baseline. Each run
// also says which node ran the gradient tasks (issue 17, session 12: all on the
// actor's node before spillback).
import { connect, type Mesh } from '../edge/index.js';
import { emit, fetchApi, figure, log, percentile, round, startCluster, type BenchCluster } from './harness.js';
import { runParamServer } from '../shared/examples/paramserver.js';
import { openBareTabs } from './tabs.js';

const ROUNDS = 12;

/** Round times (ms) of the parameter server on whatever nodes `mesh`'s cluster has (`work`: runParamServer's). */
export async function paramServerRounds(mesh: Mesh, rounds = ROUNDS, work = 1): Promise<number[]> {
  return (await runParamServer(mesh, rounds, undefined, work)).roundMs;
}

/**
 * Where tasks with large arguments (the gradients: 1 MiB of weights) ran since event `since`, from the event
 * log's placed-local / placed-remote: tasks by node name, and how many left a busy or saturated holder.
 */
export async function placedSince(cl: BenchCluster, since: number): Promise<{ byNode: Record<string, number>; moved: number }> {
  const nodes = await fetchApi<{ id: string; name: string }[]>(cl.url, cl.token, '/api/nodes');
  const name = new Map(nodes.map((n) => [n.id, n.name]));
  const byNode: Record<string, number> = {};
  let moved = 0;
  for (const kind of ['placed-local', 'placed-remote']) {
    for (const e of await fetchApi<{ node?: string }[]>(cl.url, cl.token, `/api/events?kind=${kind}&since=${since}`)) {
      const k = name.get(e.node ?? '') ?? e.node ?? '?';
      byNode[k] = (byNode[k] ?? 0) + 1;
      if (kind === 'placed-remote') moved++;
    }
  }
  return { byNode, moved };
}

/** The event log's last sequence number (placedSince counts from there). */
export async function lastEventSeq(cl: BenchCluster): Promise<number> {
  return (await fetchApi<{ seq: number }[]>(cl.url, cl.token, '/api/events?limit=1')).at(-1)?.seq ?? 0;
}

/** `rounds` on `cl` through `mesh`, then logs where their gradient tasks ran. */
async function roundsPlaced(cl: BenchCluster, mesh: Mesh, what: string): Promise<number[]> {
  const since = await lastEventSeq(cl);
  const ms = await paramServerRounds(mesh);
  const p = await placedSince(cl, since);
  log(`parameter server on ${what}: gradient tasks by node ${JSON.stringify(p.byNode)}, ${p.moved} moved off their argument's holder`);
  return ms;
}

async function onEdges(): Promise<number[]> {
  const cl = await startCluster({ nodes: 2, cpus: 2 });
  const mesh = await connect({ url: cl.url, token: cl.token });
  try {
    return await roundsPlaced(cl, mesh, 'edge nodes');
  } finally {
    await mesh.close().catch(() => {});
    await cl.stop();
  }
}

/**
 * `query`: more of the volunteer page's URL (`&wslinks=0`: WebRTC links to the driver). The tabs run in
 * Chromium processes under no DevTools client (openBareTabs: Playwright's reports every WebSocket frame).
 */
async function onTabs(query = ''): Promise<number[]> {
  const cl = await startCluster({ nodes: 0 });
  let tabs: { close(): Promise<void> } | null = null;
  let mesh: Mesh | null = null;
  try {
    tabs = await openBareTabs(
      cl,
      [0, 1].map((i) => `cpus=2&cpuShare=1&name=ps${i}${query}`),
    );
    mesh = await connect({ url: cl.url, token: cl.token });
    return await roundsPlaced(cl, mesh, `tabs${query}`);
  } finally {
    await mesh?.close().catch(() => {});
    await tabs?.close();
    await cl.stop();
  }
}

/** Both runs, one after the other; prints the rounds and emits median and worst (tabs against edge nodes). */
export async function paramServerParts(): Promise<void> {
  const edge = await onEdges();
  const tabs = await onTabs();
  const rtc = await onTabs('&wslinks=0');
  const show = (xs: number[]) => xs.map((x) => round(x, 0)).join(' ');
  log(`parameter server rounds (ms): tabs ${show(tabs)}; tabs over WebRTC ${show(rtc)}; edge nodes ${show(edge)}`);
  emit(figure('objects.paramServer.round.median', percentile(tabs, 50), 'ms', percentile(edge, 50)));
  emit(figure('objects.paramServer.round.worst', Math.max(...tabs), 'ms', Math.max(...edge)));
  emit(figure('objects.paramServer.tabs.median.wsVsWebrtc', percentile(tabs, 50), 'ms', percentile(rtc, 50)));
}
