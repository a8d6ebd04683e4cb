// bench:objects, tab <-> Node rows (issue 17, tenth session): an edge node
// and two tabs, one dialling Node peers over a WebSocket (the default), one
// with `?wslinks=0` (WebRTC, the baseline), in the same run. Edge -> tab: a
// task on the tab reads an object the edge node made; tab -> edge: a task on
// the edge node reads an object the tab made (the task's own cost is small
// beside 16 MiB). Each row also prints the CPU ms per MiB of Chromium (all its
// processes) and of the edge node's process: CPU holds under load where MiB/s
// do not. The tabs run in Chromium processes under no DevTools client (session
// 11, bench/tabs.ts openBareTabs): under Playwright every WebSocket frame is
// copied to its client, and data-channel messages are not. TABNODE_VERBOSE=1
// prints the coordinator's and the edge node's output (link events: "open over ws").
import type { End } from './channel-peer.js';
import { connect, type Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { emit, figure, log, MB, round, startCluster, type BenchCluster } from './harness.js';
import { nodesOf, openBareTabs } from './tabs.js';
import { edgeNodeIds } from './objects-node.js';
import { chromiumCpuMs, chromiumPids, cpuMsOf } from './cpu.js';

const SIZES = [16, 64];
const ROUNDS = 3;

/** Milliseconds the volunteer node of the tab `tab` reaches takes to resolve object `id` (at least `n` bytes). */
export async function resolveInTab(tab: End, id: string, n: number): Promise<number> {
  return (await tab.run(
    `(async () => { const v = window.tabmeshVolunteer; const t = performance.now(); const f = await v.node.access.resolve('${id}');
      if (!f.bytes || f.bytes.length < ${n}) throw new Error('bad object: ' + JSON.stringify(f.failure ?? f.bytes.length));
      return performance.now() - t; })()`,
  )) as number;
}

interface Row {
  mibps: number;
  /** CPU ms per MiB moved: Chromium (every process), the edge node. */
  chromium: number;
  edge: number;
}

/** Best MiB/s of ROUNDS moves of `mib` MiB done by `once` (which returns its ms), with CPU per MiB over all rounds. */
async function measure(mib: number, edgePid: number | undefined, once: (r: number) => Promise<number>): Promise<Row> {
  const pids = chromiumPids();
  const c0 = chromiumCpuMs(pids);
  const e0 = cpuMsOf(edgePid);
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) best = Math.min(best, await once(r));
  return { mibps: (mib / best) * 1000, chromium: (chromiumCpuMs(pids) - c0) / (mib * ROUNDS), edge: (cpuMsOf(edgePid) - e0) / (mib * ROUNDS) };
}

/** The tab (node id) a bare Chromium process opened with `query` joined as. */
async function bareTab(cl: BenchCluster, query: string): Promise<{ id: string; close(): Promise<void> }> {
  const before = new Set((await nodesOf(cl)).map((n) => n.id));
  const t = await openBareTabs(cl, [query]);
  return { id: (await nodesOf(cl)).find((n) => !before.has(n.id))!.id, close: t.close };
}

export async function tabNodeParts(): Promise<void> {
  const cl = await startCluster({ nodes: 1, cpus: 1, verbose: process.env.TABNODE_VERBOSE === '1' });
  const tabs: { id: string; close(): Promise<void> }[] = [];
  let mesh: Mesh | null = null;
  try {
    const [edge] = await edgeNodeIds(cl.url, cl.token);
    const edgePid = cl.nodes[0].proc.pid;
    // Tabs under no DevTools client (openBareTabs: Playwright's copies every WebSocket frame to itself, not data-channel messages).
    const ws = await bareTab(cl, 'cpus=1&cpuShare=1&memoryMb=1024&name=ws');
    tabs.push(ws);
    const rtc = await bareTab(cl, 'cpus=1&cpuShare=1&memoryMb=1024&name=rtc&wslinks=0');
    tabs.push(rtc);
    mesh = await connect({ url: cl.url, token: cl.token, peers: false });
    const on = (node: string) => ({ scheduling: { node: node as NodeId, soft: false } });
    const make = (node: string) => mesh!.remote((n: number, k: number) => new Uint8Array(n).fill(k), on(node));
    const lenOn = (node: string) => mesh!.remote((x: Uint8Array) => x.length, on(node));
    /** Milliseconds a task on `to` takes to read an object of `mib` MiB made on `from` (made and ready first). */
    const read = (from: string, to: string, mib: number) =>
      measure(mib, edgePid, async (r) => {
        const ref = make(from).remote(mib * MB, r + 1);
        await mesh!.wait([ref]);
        const t = performance.now();
        const got = lenOn(to).remote(ref);
        if ((await mesh!.get(got)) !== mib * MB) throw new Error('bad length');
        const ms = performance.now() - t;
        mesh!.free([ref, got]);
        return ms;
      });
    for (const mib of SIZES) {
      for (const [dir, run] of [
        ['edgeToTab', (tab: string) => read(edge, tab, mib)],
        ['tabToEdge', (tab: string) => read(tab, edge, mib)],
      ] as const) {
        const a = await run(ws.id);
        const b = await run(rtc.id);
        const at = `${dir}.${mib}MiB`;
        log(
          `${mib} MiB ${dir}: WebSocket ${round(a.mibps, 1)} MiB/s (Chromium ${round(a.chromium, 1)}, edge ${round(a.edge, 1)} CPU ms/MiB), WebRTC ${round(b.mibps, 1)} MiB/s (Chromium ${round(b.chromium, 1)}, edge ${round(b.edge, 1)} ms/MiB)`,
        );
        emit(figure(`objects.${at}`, a.mibps, 'MiB/s', b.mibps));
        emit(figure(`objects.${at}.chromiumCpuPerMiB`, a.chromium, 'ms', b.chromium));
        emit(figure(`objects.${at}.edgeCpuPerMiB`, a.edge, 'ms', b.edge));
      }
    }
  } finally {
    await mesh?.close().catch(() => {});
    for (const t of tabs) await t.close();
    await cl.stop();
  }
}
