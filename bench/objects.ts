// Object plane benchmark (issues 4 and 17). First between Node processes
// (bench/objects-node.ts): put of 1, 16, 80 MiB; an executor reading an 80
// MiB object on its node; 80 MiB edge -> edge and driver -> edge. Then
// between two bare Chromium tabs (a process each, scripted through a DevTools
// client of our own with no Network domain: bench/tabs.ts): tabmesh transfer throughput (a tab resolving an object another tab
// holds: locate, peer link, hash check, store) for 1, 16 and 64 MiB, against
// a raw data channel between the same two tabs sending the same bytes (the
// baseline: plain RTCPeerConnection, bench/channel-peer.ts), alternated round
// by round, medians, CPU per MiB of each side (objects-tabtab.ts); the same transfer through the coordinator's relay
// (two tabs with ?peers=0); and time to first byte of a 1 KiB object over a
// new link and over an open one. Last, broadcast (objects-broadcast-run.ts): one
// 64 MiB object to 4 tabs and 4 edge nodes at once, swarm against all from
// the origin, and with the tabs on WebRTC links to Node peers (?wslinks=0)
// against WebSocket ones, with the CPU each process spent. Then the parameter server of test/integration/actors.test.ts
// on two tabs against two edge nodes (objects-paramserver.ts). And edge ->
// tab, tab -> edge over the tab's WebSocket link against WebRTC
// (objects-tabnode.ts).
//
//   npm run build && npm run bench:objects      (inside ../shared/netns-run)
//   ... -- --only=node | tabs | broadcast | paramserver | tabnode     (one part)
//   ... -- --only=broadcast-swarm     (the broadcast with the swarm over WebSocket links alone)
//   ... -- --only=tabtab [--mib=64] [--rounds=5]     (tab -> tab against the raw channel alone: objects-tabtab.ts)
//   ... -- --only=broadcast-tab       (a tab the broadcast's origin: without the swarm, then with it)
//   ... -- --only=broadcast-ab [--links=webrtc] [--rounds=2]     (all from the origin and the swarm, alternated
//          A B B A, tabs on WebSocket or WebRTC links to Node peers: what the two-copy rule costs in time)
//   ... -- --only=tabput [--rounds=5]  (a tab's put of 80 MiB into fresh memory against plain copies: objects-tabput.ts)
//   ... -- --only=transfer [--rounds=3]   (the 80 MiB figures between two processes alone, N times: objects-node.ts)
//   ... -- --only=webrtc [--pairs=4]   (80 MiB Node -> Node over a WebRTC link alone: 1.5 MiB high water against 2 MiB)
//
// stdout: one JSON line per figure; stderr: diagnostics.
import { loadavg } from 'node:os';
import { connect, type Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { emit, figure, log, MB, nowMs, round, startCluster, type BenchCluster, runBench } from './harness.js';
import { cdpSession, evaluateIn, openBareTabs, type CdpSession } from './tabs.js';
import { edgeNodeIds, executorRead, putFigures, transferFigures, transferParts } from './objects-node.js';
import { linkPairCpu } from './link-pair.js';
import { median } from './figures.js';
import { CHANNEL_HIGH_WATER } from '../shared/transfer/raw-peer.js';
import { broadcastParts } from './objects-broadcast-run.js';
import { paramServerParts } from './objects-paramserver.js';
import { resolveInTab, tabNodeParts } from './objects-tabnode.js';
import type { End } from './channel-peer.js';
import { chromiumPids } from './cpu.js';
import { tabToTab, type TabSide } from './objects-tabtab.js';
import { tabPuts } from './objects-tabput.js';

const SIZES = [1, 16, 64];
const ROUNDS = 3;
/** As test/helpers/browser.ts: what Chromium needs on this machine. */
const v = (tab: End, expr: string) => tab.run(`(async () => { const v = window.tabmeshVolunteer; ${expr} })()`);

/** A bare tab (a Chromium process, no DevTools client but our own: bench/tabs.ts cdpSession) and its node id. */
interface Tab {
  id: string;
  end: End;
}

/** MiB/s of `reader` resolving objects of `mib` MiB made on `holder`, best of ROUNDS. */
async function objectThroughput(mesh: Mesh, holder: { id: string }, reader: Tab, mib: number): Promise<number> {
  const make = mesh.remote((n: number, k: number) => new Uint8Array(n).fill(k), { scheduling: { node: holder.id as NodeId, soft: false } });
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const ref = make.remote(mib * MB, r + 1);
    await mesh.wait([ref]);
    const ms = await resolveInTab(reader.end, ref.id, mib * MB);
    best = Math.min(best, ms);
    mesh.free([ref]);
  }
  return (mib / best) * 1000;
}

/** Time to first byte (ms) of a 1 KiB object over a new link, then over the open one. */
async function ttfb(a: Tab, b: Tab): Promise<{ fresh: number; open: number }> {
  const out = { fresh: Infinity, open: Infinity };
  for (let r = 0; r < ROUNDS; r++) {
    const id = (r + 1).toString(16).padStart(40, 'e');
    await v(a.end, `v.node.links.closeAll(); v.node.store.put('${id}', new Uint8Array(1024).fill(5), { hash: '', primary: true });`);
    await v(b.end, `v.node.links.closeAll();`);
    await new Promise((res) => setTimeout(res, 200));
    const [fresh, open] = (await v(
      b.end,
      `const t0 = performance.now(); await v.node.links.fetch('${a.id}', '${id}', 1024); const t1 = performance.now();
       await v.node.links.fetch('${a.id}', '${id}', 1024); return [t1 - t0, performance.now() - t1];`,
    )) as [number, number];
    out.fresh = Math.min(out.fresh, fresh);
    out.open = Math.min(out.open, open);
  }
  return out;
}

const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
/** `--rounds=N`: tab -> tab rounds per size (each a tabmesh move and a raw channel's); `--mib=N` with --only=tabtab: that size alone. */
const TABTAB_ROUNDS = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 5);
const onlyMib = only === 'tabtab' ? Number(process.argv.find((a) => a.startsWith('--mib='))?.slice(6) ?? 64) : 0;
const t0 = nowMs();
const phase = (name: string) => log(`--- ${name} (t=${round((nowMs() - t0) / 1000, 1)} s)`);

async function nodeParts(): Promise<void> {
  phase('start: coordinator and two edge nodes (2 executors each)');
  const cl = await startCluster({ nodes: 2, cpus: 2 });
  const mesh = await connect({ url: cl.url, token: cl.token });
  try {
    const [a, b] = await edgeNodeIds(cl.url, cl.token);
    phase('put of 1, 16, 80 MiB');
    await putFigures(mesh);
    phase('an executor reading an 80 MiB object on its node');
    await executorRead(mesh, a);
    phase('80 MiB between two processes on one host');
    await transferFigures(mesh, a, b, true, { a: cl.nodes[0].proc.pid!, b: cl.nodes[1].proc.pid! });
  } finally {
    await mesh.close().catch(() => {});
    await cl.stop();
  }
  await webrtcParts(1);
}

/**
 * 80 MiB between two Node processes over a WebRTC link alone (@roamhq/wrtc; issue 17, session 16): senders waiting
 * at CHANNEL_HIGH_WATER (1.5 MiB, the tabs' cap below SCTP's 2,000,000-byte send buffer) against 2 MiB (before),
 * alternated pair by pair, best of 3 rounds each; the links the watchdog or the stall net closed, per side.
 */
async function webrtcParts(pairs: number): Promise<void> {
  phase(`80 MiB Node -> Node over WebRTC: high water 1.5 MiB against 2 MiB, ${pairs} pair(s)`);
  const ours: number[] = [];
  const before: number[] = [];
  let closed = 0;
  for (let i = 0; i < pairs; i++) {
    for (const [hw, into] of [
      [CHANNEL_HIGH_WATER, ours],
      [2 << 20, before],
    ] as const) {
      const r = await linkPairCpu(80, 3, true, { webrtcHighWater: hw });
      closed += r.counters.frozen + r.counters.stuck;
      into.push(r.mibps);
      log(`  high water ${hw} B: ${round(r.mibps, 1)} MiB/s (load ${loadavg()[0].toFixed(1)})`);
    }
  }
  const a = median(ours);
  const b = median(before);
  log(
    `80 MiB Node -> Node over WebRTC: ${round(a, 1)} MiB/s at 1.5 MiB, ${round(b, 1)} at 2 MiB (ratio ${round(a / b, 2)}); reader links closed frozen or stuck: ${closed}`,
  );
  emit(figure('objects.webrtcNodeLink.80MiB', a, 'MiB/s', b));
}

async function main(): Promise<void> {
  if (only === 'broadcast' || only === 'broadcast-swarm' || only === 'broadcast-tab' || only === 'broadcast-ab') return broadcastParts(only, phase);
  if (only === 'paramserver') return paramServerParts();
  if (only === 'tabnode') return tabNodeParts();
  if (only === 'transfer') return transferParts(Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 3));
  if (only === 'webrtc') return webrtcParts(Number(process.argv.find((a) => a.startsWith('--pairs='))?.slice(8) ?? 4));
  if (only !== 'tabs' && only !== 'tabtab' && only !== 'tabput') await nodeParts();
  if (only === 'node') return;
  let cl: BenchCluster | null = null;
  let mesh: Mesh | null = null;
  let bare: { close(): Promise<void> } | null = null;
  const sessions: CdpSession[] = [];
  try {
    // Bare tabs (a Chromium process each, scripted through a DevTools client of our own with no Network domain; under
    // Playwright until session 11: two processes of two tabs), one pair with peer links, one without.
    phase('start: coordinator, four bare tabs (one pair with peer links, one without)');
    cl = await startCluster({ nodes: 0 });
    const t = await openBareTabs(
      cl,
      (only === 'tabtab' || only === 'tabput' ? ['a', 'b'] : ['a', 'b', 'c&peers=0', 'd&peers=0']).map((n) => `cpus=1&cpuShare=1&memoryMb=1024&name=${n}`),
      { debugPort: true },
    );
    bare = t;
    for (const dir of t.profiles) sessions.push(await cdpSession(dir));
    const [a, b, c, d] = await Promise.all(
      sessions.map(async (s, i): Promise<TabSide> => {
        const end: End = { run: (expr) => evaluateIn(s, expr) };
        return { id: (await end.run('document.body.dataset.nodeId')) as string, end, pids: chromiumPids(t.profiles[i]), dir: t.profiles[i] };
      }),
    );
    mesh = await connect({ url: cl.url, token: cl.token, peers: false });
    if (only !== 'tabtab') {
      phase(`a tab's put of 80 MiB into fresh memory against plain copies (${TABTAB_ROUNDS} rounds)`);
      await tabPuts(mesh, a, 80, TABTAB_ROUNDS);
      if (only === 'tabput') return;
    }

    for (const mib of onlyMib ? [onlyMib] : SIZES) {
      phase(`${mib} MiB: tabmesh peer link against a raw data channel, alternated (${TABTAB_ROUNDS} rounds)`);
      const tt = await tabToTab(mesh, a, b, mib, TABTAB_ROUNDS);
      log(
        `${mib} MiB tab -> tab, medians: tabmesh ${round(tt.ours.mibps, 1)} MiB/s (CPU ms/MiB holder ${round(tt.ours.holder, 1)}, reader ${round(tt.ours.reader, 1)}), raw channel ${round(tt.raw.mibps, 1)} MiB/s (${round(tt.raw.holder, 1)}, ${round(tt.raw.reader, 1)}); ratio ${round(tt.ratio, 2)} (rounds ${tt.ratios.map((x) => round(x, 2)).join(' ')}), CPU ${round(tt.cpuRatio, 2)}; load ${loadavg()
          .map((x) => x.toFixed(1))
          .join(' ')}`,
      );
      emit(figure(`objects.peer.${mib}MiB`, tt.ours.mibps, 'MiB/s', tt.raw.mibps));
      emit(figure(`objects.peer.${mib}MiB.ratio`, tt.ratio, 'x', null));
      emit(figure(`objects.peer.${mib}MiB.holderCpuPerMiB`, tt.ours.holder, 'ms', tt.raw.holder));
      emit(figure(`objects.peer.${mib}MiB.readerCpuPerMiB`, tt.ours.reader, 'ms', tt.raw.reader));
      if (only === 'tabtab') continue;
      const relay = await objectThroughput(mesh, c, d, mib);
      log(`${mib} MiB relay ${round(relay, 1)} MiB/s`);
      emit(figure(`objects.relay.${mib}MiB`, relay, 'MiB/s', tt.raw.mibps));
    }
    if (only === 'tabtab') return;
    phase('time to first byte of a 1 KiB object');
    const tt = await ttfb(a, b);
    emit(figure('objects.ttfb.newLink', tt.fresh, 'ms', null));
    emit(figure('objects.ttfb.openLink', tt.open, 'ms', tt.fresh));
    const st = await fetch(new URL('/api/stats', cl.url), { headers: { authorization: `Bearer ${cl.token}` } }).then(
      (r) => r.json() as Promise<Record<string, number>>,
    );
    log(`stats: bytesPeer ${st.bytesPeer}, bytesRelayed ${st.bytesRelayed}`);
  } finally {
    for (const s of sessions) s.close();
    await mesh?.close().catch(() => {});
    await bare?.close();
    await cl?.stop();
  }
  if (only !== 'tabs') await broadcastParts(only, phase);
  if (only !== 'tabs') await paramServerParts();
  if (only !== 'tabs') {
    phase('edge -> tab and tab -> edge: WebSocket link against WebRTC');
    await tabNodeParts();
  }
  phase('done');
}

runBench(main);
