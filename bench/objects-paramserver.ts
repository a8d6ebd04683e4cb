// bench:objects, parameter-server section (issue 17): the workload of
// test/integration/actors.test.ts (shared/examples/paramserver.ts: an actor holds 1 MiB of weights; each round
// 8 tasks pull them and the driver pushes their 8 gradients back: 16 MiB of
// peer bytes a round, none relayed) on two volunteer tabs (a Chromium process
// each, no DevTools client), against the same on two edge nodes (the baseline), each on its own
// cluster, in the same run. Figures: the median round (ms), and the worst.
// The tabs reach the Node driver over WebSocket links (issue 17, tenth
// session); a third run with `?wslinks=0` (WebRTC) is their baseline.
import { connect, type Mesh } from '../edge/index.js';
import { emit, figure, log, percentile, round, startCluster } from './harness.js';
import { runParamServer } from '../shared/examples/paramserver.js';
import { openBareTabs } from './tabs.js';

const ROUNDS = 12;

/** Round times (ms) of the parameter server on whatever nodes `mesh`'s cluster has. */
export async function paramServerRounds(mesh: Mesh, rounds = ROUNDS): Promise<number[]> {
  return (await runParamServer(mesh, rounds)).roundMs;
}

async function onEdges(): Promise<number[]> {
  const cl = await startCluster({ nodes: 2, cpus: 2 });
  const mesh = await connect({ url: cl.url, token: cl.token });
  try {
    return await paramServerRounds(mesh);
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
    return await paramServerRounds(mesh);
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
