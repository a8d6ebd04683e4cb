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
// new link and over an open one. Last, broadcast (objects-broadcast.ts): one
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
//   ... -- --only=webrtc [--pairs=4]   (80 MiB Node -> Node over a WebRTC link alone: 1.5 MiB high water against 2 MiB)
//
// stdout: one JSON line per figure; stderr: diagnostics.
import { loadavg } from 'node:os';
import { connect, type Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { emit, figure, log, MB, nowMs, round, startCluster, type BenchCluster, runBench } from './harness.js';
import { cdpSession, evaluateIn, nodesOf, openBareTabs, type CdpSession } from './tabs.js';
import { edgeNodeIds, executorRead, nodeTransfer, putFigures } from './objects-node.js';
import { rawTcp, rawTcpCpu } from './raw-tcp.js';
import { linkPair, linkPairCpu } from './link-pair.js';
import { median } from './figures.js';
import { CHANNEL_HIGH_WATER } from '../shared/transfer/raw-peer.js';
import { BROADCAST_MIB, allReaderSources, broadcastOnce, type Broadcast, type TabOrigin } from './objects-broadcast.js';
import { paramServerParts } from './objects-paramserver.js';
import { resolveInTab, tabNodeParts } from './objects-tabnode.js';
import type { End } from './channel-peer.js';
import { chromiumPids, cpuMsOf, threadCpuByName, topSpent } from './cpu.js';
import { fetchApi } from './cluster.js';
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
/** `--links=webrtc` with --only=broadcast-ab: the tabs reach Node peers over WebRTC (default WebSocket). */
const abLinks = process.argv.find((a) => a.startsWith('--links='))?.slice(8) ?? 'ws';
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
    const { mibps: raw, cpu: rawCpu } = await rawTcpCpu(80, 3);
    const rawFresh = await rawTcp(80, 3, { fresh: true });
    const link = await linkPair(80, 3);
    const { mibps: linkReused, cpu } = await linkPairCpu(80, 3, true);
    // CPU per MiB holds under load where wall time does not (rounds after the first, on both).
    log(
      `CPU ms per MiB, rounds 2-3: raw TCP sender ${round(rawCpu.sender, 2)}, sink ${round(rawCpu.sink, 2)}; fast link into reused memory: holder main thread ${round(cpu.holder.main, 2)}, other threads ${round(cpu.holder.others, 2)}; reader main thread ${round(cpu.reader.main, 2)}, other threads (leaf checks, warmer) ${round(cpu.reader.others, 2)}`,
    );
    emit(figure('objects.fastLink.80MiB.readerCpuPerMiB', cpu.reader.main + cpu.reader.others, 'ms', rawCpu.sink));
    emit(figure('objects.fastLink.80MiB.holderCpuPerMiB', cpu.holder.main + cpu.holder.others, 'ms', rawCpu.sender));
    log(
      `80 MiB over a fast link alone (two processes, leaves checked, no task): ${round(link, 1)} MiB/s into new memory (ratio ${round(link / rawFresh, 2)} to raw TCP into fresh memory), ${round(linkReused, 1)} MiB/s into reused memory (ratio ${round(linkReused / raw, 2)} to raw TCP into a reused buffer)`,
    );
    emit(figure('objects.fastLink.80MiB', link, 'MiB/s', rawFresh));
    emit(figure('objects.fastLink.80MiB.reused', linkReused, 'MiB/s', raw));
    const ee = await nodeTransfer(mesh, a, b, 80);
    const de = await nodeTransfer(mesh, 'driver', b, 80);
    log(
      `80 MiB edge -> edge ${round(ee, 1)} MiB/s, driver -> edge ${round(de, 1)} MiB/s; raw TCP to a child process ${round(raw, 1)} MiB/s into a reused buffer (ratios ${round(ee / raw, 2)}, ${round(de / raw, 2)}), ${round(rawFresh, 1)} MiB/s into fresh memory`,
    );
    emit(figure('objects.rawTcpFresh.80MiB', rawFresh, 'MiB/s', raw));
    emit(figure('objects.edgeToEdge.80MiB', ee, 'MiB/s', raw));
    emit(figure('objects.driverToEdge.80MiB', de, 'MiB/s', raw));
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

/**
 * One 64 MiB broadcast to 4 tabs and 4 edge nodes, on a fresh cluster; `swarm` off: all from the origin; `wsLinks`
 * off: the tabs reach Node peers over WebRTC (`?wslinks=0`). The tabs run bare (openBareTabs: a Chromium process
 * each, no DevTools client; under Playwright, until session 11, two processes of two tabs, every WebSocket frame
 * copied to the client); the tasks pinned to them read the object.
 */
async function broadcastPart(swarm: boolean, wsLinks = true, tabOrigin = false): Promise<Broadcast> {
  const how = `${swarm ? 'swarm' : 'all from the origin (--no-swarm)'}, tabs on ${wsLinks ? 'WebSocket' : 'WebRTC'} links to Node peers${tabOrigin ? ', a tab the origin' : ''}`;
  phase(`broadcast of ${BROADCAST_MIB} MiB to 8 readers, ${how}`);
  // Starting 4-5 Chromium processes at load 27-40 kept an edge node silent past the default 5 s (session 13: "no
  // heartbeat for 5083 ms", then its pinned task "not in the mesh"): this bench's nodes get 30 s.
  const cl = await startCluster({ nodes: 4, cpus: 1, coordinatorArgs: ['--dead-after-ms', '30000', ...(swarm ? [] : ['--no-swarm'])] });
  let bare: { close(): Promise<void> } | null = null;
  let originTab: { close(): Promise<void> } | null = null;
  let session: CdpSession | null = null;
  const readerSessions: CdpSession[] = [];
  let mesh: Mesh | null = null;
  try {
    const edges = await edgeNodeIds(cl.url, cl.token);
    let tab: TabOrigin | undefined;
    if (tabOrigin) {
      // A fifth bare tab, with a DevTools client of our own (Runtime only) to read its bytes sent.
      const known = new Set((await nodesOf(cl)).map((n) => n.id));
      const t = await openBareTabs(cl, [`name=origin${wsLinks ? '' : '&wslinks=0'}`], { debugPort: true });
      originTab = t;
      session = await cdpSession(t.profiles[0]);
      const s = session;
      const node = (await nodesOf(cl)).find((n) => !known.has(n.id))!.id;
      tab = { node, bytesOut: async () => (await evaluateIn(s, 'window.tabmeshVolunteer.node.links.counters.bytesOut')) as number };
    }
    const before = new Set((await nodesOf(cl)).map((n) => n.id));
    // DevTools ports of our own (Runtime only, no Network domain): each tab's swarm stats after the broadcast.
    const readerTabs = await openBareTabs(
      cl,
      [0, 1, 2, 3].map((i) => `name=r${i}${wsLinks ? '' : '&wslinks=0'}`),
      { debugPort: true },
    );
    bare = readerTabs;
    for (const dir of readerTabs.profiles) readerSessions.push(await cdpSession(dir));
    const tabs = (await nodesOf(cl)).filter((n) => !before.has(n.id));
    mesh = await connect({ url: cl.url, token: cl.token });
    log(`readers: tabs ${tabs.map((t) => t.id).join(' ')}, edge nodes ${edges.join(' ')}`);
    // Chromium by process: one that ends during the broadcast (NaN after) is left out, not counted as a negative.
    const chromiumProcs = chromiumPids();
    // Chromium's CPU by process kind and thread name at each reading (issue 17, session 16: where the swarm's goes).
    const threads: Map<string, number>[] = [];
    const cpuMs = () => {
      threads.push(threadCpuByName(chromiumProcs));
      return {
        ...Object.fromEntries(chromiumProcs.map((p) => [`chromium ${p}`, cpuMsOf(p)])),
        edges: cl.nodes.reduce((a, n) => a + (cpuMsOf(n.proc.pid) || 0), 0),
        coordinator: cpuMsOf(cl.coordinator.proc.pid),
        driver: ((u) => (u.user + u.system) / 1000)(process.cpuUsage()),
      };
    };
    const readers = [...tabs.map((t) => t.id), ...edges];
    await stillInMesh(cl, readers, 'before the broadcast');
    const r = await broadcastOnce(mesh, readers, swarm ? 3 : 5, cpuMs, tab).catch(async (e: Error) => {
      await stillInMesh(cl, readers, `after "${e.message.slice(0, 200)}"`);
      throw e;
    });
    const perProc = Object.entries(r.cpu).filter(([k]) => k.startsWith('chromium '));
    const gone = perProc.filter(([, v]) => !Number.isFinite(v)).length;
    for (const [k] of perProc) delete r.cpu[k];
    r.cpu = { chromium: perProc.reduce((a, [, v]) => a + (Number.isFinite(v) ? v : 0), 0), ...r.cpu };
    if (gone > 0) log(`${gone} Chromium process(es) ended during the broadcast: their CPU is not counted`);
    if (threads.length >= 2)
      log(
        `Chromium CPU ms by process kind/thread: ${topSpent(threads[0], threads[threads.length - 1], 10)
          .map(([k, v]) => `${k} ${round(v)}`)
          .join(', ')}`,
      );
    // Which tabs kept to the Node origin, which turned to the swarm (swarm-policy.ts), what came from other readers, and
    // the links they opened by kind (a tab whose link to the origin is WebRTC does not see it as a Node source).
    const stats = await Promise.all(
      readerSessions.map((s) =>
        evaluateIn(
          s,
          // With the tab's swarm events (a source dropped, a fetch that fell back to the relay): why a reader never asked the origin.
          `JSON.stringify({ ...window.tabmeshVolunteer.node.fetcher.swarm?.stats, opened: window.tabmeshVolunteer.node.links?.opened,
            events: window.tabmeshVolunteer.events.filter((e) => e.text.startsWith('swarm fetch') && !e.text.includes('bytes by source')).slice(-4).map((e) => e.text.slice(0, 200)) })`,
        ).catch((e: Error) => `(${e.message})`),
      ),
    );
    log(`tabs' swarm stats: ${stats.join(' ')}`);
    // Per reader, MiB from the origin, from edge nodes, from tabs (tabs' from their stats, edges' from their logs).
    const sources = allReaderSources(
      stats,
      tabs.map((t) => t.id),
      cl.nodes.map((n) => n.output),
      tab ? tab.node : mesh.jobId,
      edges,
    );
    const said = (mesh.core as unknown as { links: { fan: { said: unknown } } | null }).links?.fan.said;
    log(
      `per reader, MiB from origin/edges/tabs: ${sources.map((r) => `${r.reader.slice(0, 8)} ${round(r.origin, 1)}/${round(r.edges, 1)}/${round(r.tabs, 1)}`).join(', ')}${tab ? '' : `; the driver's words ${JSON.stringify(said)}`}`,
    );
    const cpu = Object.entries(r.cpu).map(([k, v]) => `${k} ${round(v)}`);
    log(
      `broadcast (${how}): ${round(r.ms)} ms, origin uploaded ${round(r.originCopies, 2)} copies; CPU ms ${cpu.join(', ')}; load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    return r;
  } finally {
    session?.close();
    for (const s of readerSessions) s.close();
    await mesh?.close().catch(() => {});
    await bare?.close();
    await originTab?.close();
    await cl.stop();
  }
}

/**
 * Session 12 lost a tab before its tasks were pinned ("not in the mesh", load 27): a tab counts as joined once the
 * coordinator lists it (openBareTabs), with its record made at its hello, so the count has no race; it left later.
 * Why (its socket closed: the process ended; or it missed heartbeats) is in the coordinator's event log: printed
 * when a reader is missing. Session 13 saw both: an edge node "lost: no heartbeat for 5083 ms" (twice, load 30-40)
 * and one that ended on SIGSEGV (tabs on WebRTC links to it).
 */
async function stillInMesh(cl: BenchCluster, readers: string[], when: string): Promise<void> {
  const live = new Set((await nodesOf(cl)).map((n) => n.id));
  const gone = readers.filter((r) => !live.has(r));
  if (gone.length === 0) return;
  const events = await fetchApi<{ kind: string; message: string }[]>(cl.url, cl.token, '/api/events?kind=node-lost').catch(() => []);
  log(`${when}: reader(s) ${gone.join(' ')} no longer in the mesh; node-lost events: ${JSON.stringify(events.map((e) => e.message))}`);
}

/** CPU ms of a broadcast, all processes. */
const cpuTotal = (b: Broadcast): number => Object.values(b.cpu).reduce((a, v) => a + v, 0);

async function broadcastParts(): Promise<void> {
  // --only=broadcast-swarm: the swarm over WebSocket links alone (runs alternated with another build's, issue 17);
  // --only=broadcast-tab: a tab the origin, without the swarm and with it (session 13).
  if (only === 'broadcast-swarm') return void (await broadcastPart(true));
  if (only === 'broadcast-tab') return void (await broadcastTabParts());
  if (only === 'broadcast-ab') return broadcastAb();
  const base = await broadcastPart(false);
  const ours = await broadcastPart(true);
  const rtc = await broadcastPart(true, false);
  emit(figure(`objects.broadcast.${BROADCAST_MIB}MiB.8readers`, ours.ms, 'ms', base.ms));
  emit(figure('objects.broadcast.originCopies', ours.originCopies, 'copies', base.originCopies));
  emit(figure('objects.broadcast.cpu', cpuTotal(ours), 'ms', cpuTotal(base)));
  // The tabs' WebSocket links to Node peers against WebRTC ones (issue 17, session 11).
  emit(figure(`objects.broadcast.${BROADCAST_MIB}MiB.8readers.wsVsWebrtc`, ours.ms, 'ms', rtc.ms));
  emit(figure('objects.broadcast.originCopies.wsVsWebrtc', ours.originCopies, 'copies', rtc.originCopies));
  emit(figure('objects.broadcast.cpu.wsVsWebrtc', cpuTotal(ours), 'ms', cpuTotal(rtc)));
  await broadcastTabParts();
}

/**
 * All from the origin against the swarm, alternated A B B A over `--rounds` pairs (issue 17, session 16), with the
 * tabs on `--links` to Node peers: what the holder's two copies cost in time, each pair's ratio printed with its load.
 */
async function broadcastAb(): Promise<void> {
  const ws = abLinks !== 'webrtc';
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 2);
  for (let i = 0; i < rounds; i++) {
    const first = i % 2 === 0;
    const a = await broadcastPart(!first, ws);
    const b = await broadcastPart(first, ws);
    const [base, ours] = first ? [a, b] : [b, a];
    log(
      `pair ${i + 1} (${first ? 'origin alone first' : 'swarm first'}, ${ws ? 'WebSocket' : 'WebRTC'} links): swarm ${round(ours.ms)} ms, ${round(ours.originCopies, 2)} copies; alone ${round(base.ms)} ms; time ratio ${round(ours.ms / base.ms, 2)}, Chromium CPU ${round(ours.cpu.chromium)} vs ${round(base.cpu.chromium)} ms; load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    const tag = ws ? '' : '.webrtc';
    emit(figure(`objects.broadcast${tag}.${BROADCAST_MIB}MiB.8readers.ab`, ours.ms, 'ms', base.ms));
    emit(figure(`objects.broadcast${tag}.originCopies.ab`, ours.originCopies, 'copies', base.originCopies));
    emit(figure(`objects.broadcast${tag}.chromiumCpu.ab`, ours.cpu.chromium, 'ms', base.cpu.chromium));
  }
}

/** A tab the origin (session 13): its upload is the limit; the swarm against all from the origin. */
async function broadcastTabParts(): Promise<void> {
  const base = await broadcastPart(false, true, true);
  const ours = await broadcastPart(true, true, true);
  emit(figure(`objects.broadcast.tabOrigin.${BROADCAST_MIB}MiB.8readers`, ours.ms, 'ms', base.ms));
  emit(figure('objects.broadcast.tabOrigin.originCopies', ours.originCopies, 'copies', base.originCopies));
  emit(figure('objects.broadcast.tabOrigin.cpu', cpuTotal(ours), 'ms', cpuTotal(base)));
}

async function main(): Promise<void> {
  if (only === 'broadcast' || only === 'broadcast-swarm' || only === 'broadcast-tab' || only === 'broadcast-ab') return broadcastParts();
  if (only === 'paramserver') return paramServerParts();
  if (only === 'tabnode') return tabNodeParts();
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
  if (only !== 'tabs') await broadcastParts();
  if (only !== 'tabs') await paramServerParts();
  if (only !== 'tabs') {
    phase('edge -> tab and tab -> edge: WebSocket link against WebRTC');
    await tabNodeParts();
  }
  phase('done');
}

runBench(main);
