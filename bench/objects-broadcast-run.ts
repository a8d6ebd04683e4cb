// The broadcast parts of bench:objects (issue 17): one 64 MiB object to 4 tabs
// and 4 edge nodes at once, all from the origin against the swarm, the tabs on
// WebSocket links to Node peers against WebRTC ones, a tab the origin, and the
// alternated A/B (`--only=broadcast | broadcast-swarm | broadcast-tab |
// broadcast-ab`). One broadcast's mechanics are in objects-broadcast.ts.
import { loadavg } from 'node:os';
import { connect, type Mesh } from '../edge/index.js';
import { emit, figure, log, round, startCluster, type BenchCluster } from './harness.js';
import { cdpSession, evaluateIn, nodesOf, openBareTabs, type CdpSession } from './tabs.js';
import { edgeNodeIds } from './objects-node.js';
import { BROADCAST_MIB, allReaderSources, broadcastOnce, type Broadcast, type TabOrigin } from './objects-broadcast.js';
import { chromiumPids, cpuMsOf, threadCpuByName, topSpent } from './cpu.js';
import { fetchApi } from './cluster.js';

/** Logs the start of a phase of the bench (with its time since the start). */
type Phase = (name: string) => void;

/** `--links=webrtc` with --only=broadcast-ab: the tabs reach Node peers over WebRTC (default WebSocket). */
const abLinks = process.argv.find((a) => a.startsWith('--links='))?.slice(8) ?? 'ws';

/**
 * One 64 MiB broadcast to 4 tabs and 4 edge nodes, on a fresh cluster; `swarm` off: all from the origin; `wsLinks`
 * off: the tabs reach Node peers over WebRTC (`?wslinks=0`). The tabs run bare (openBareTabs: a Chromium process
 * each, no DevTools client; under Playwright, until session 11, two processes of two tabs, every WebSocket frame
 * copied to the client); the tasks pinned to them read the object.
 */
async function broadcastPart(phase: Phase, swarm: boolean, wsLinks = true, tabOrigin = false): Promise<Broadcast> {
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

export async function broadcastParts(only: string | undefined, phase: Phase): Promise<void> {
  // --only=broadcast-swarm: the swarm over WebSocket links alone (runs alternated with another build's, issue 17);
  // --only=broadcast-tab: a tab the origin, without the swarm and with it (session 13).
  if (only === 'broadcast-swarm') return void (await broadcastPart(phase, true));
  if (only === 'broadcast-tab') return void (await broadcastTabParts(phase));
  if (only === 'broadcast-ab') return broadcastAb(phase);
  const base = await broadcastPart(phase, false);
  const ours = await broadcastPart(phase, true);
  const rtc = await broadcastPart(phase, true, false);
  emit(figure(`objects.broadcast.${BROADCAST_MIB}MiB.8readers`, ours.ms, 'ms', base.ms));
  emit(figure('objects.broadcast.originCopies', ours.originCopies, 'copies', base.originCopies));
  emit(figure('objects.broadcast.cpu', cpuTotal(ours), 'ms', cpuTotal(base)));
  // The tabs' WebSocket links to Node peers against WebRTC ones (issue 17, session 11).
  emit(figure(`objects.broadcast.${BROADCAST_MIB}MiB.8readers.wsVsWebrtc`, ours.ms, 'ms', rtc.ms));
  emit(figure('objects.broadcast.originCopies.wsVsWebrtc', ours.originCopies, 'copies', rtc.originCopies));
  emit(figure('objects.broadcast.cpu.wsVsWebrtc', cpuTotal(ours), 'ms', cpuTotal(rtc)));
  await broadcastTabParts(phase);
}

/**
 * All from the origin against the swarm, alternated A B B A over `--rounds` pairs (issue 17, session 16), with the
 * tabs on `--links` to Node peers: what the holder's two copies cost in time, each pair's ratio printed with its load.
 */
async function broadcastAb(phase: Phase): Promise<void> {
  const ws = abLinks !== 'webrtc';
  const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 2);
  for (let i = 0; i < rounds; i++) {
    const first = i % 2 === 0;
    const a = await broadcastPart(phase, !first, ws);
    const b = await broadcastPart(phase, first, ws);
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
async function broadcastTabParts(phase: Phase): Promise<void> {
  const base = await broadcastPart(phase, false, true, true);
  const ours = await broadcastPart(phase, true, true, true);
  emit(figure(`objects.broadcast.tabOrigin.${BROADCAST_MIB}MiB.8readers`, ours.ms, 'ms', base.ms));
  emit(figure('objects.broadcast.tabOrigin.originCopies', ours.originCopies, 'copies', base.originCopies));
  emit(figure('objects.broadcast.tabOrigin.cpu', cpuTotal(ours), 'ms', cpuTotal(base)));
}
