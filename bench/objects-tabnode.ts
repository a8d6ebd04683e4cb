// bench:objects, tab <-> Node rows (issue 17, tenth session): an edge node
// and two tabs in one Chromium process, one dialling Node peers over a
// WebSocket (the default), one with `?wslinks=0` (WebRTC, the baseline), in
// the same run. Edge -> tab: the tab resolves an object the edge node made;
// tab -> edge: a task on the edge node reads an object the tab made (the
// task's own cost is small beside 16 MiB). Each row also prints the CPU ms
// per MiB of Chromium (all its processes) and of the edge node's process:
// CPU holds under load where MiB/s do not. TABNODE_VERBOSE=1 prints the
// coordinator's and the edge node's output (link events: "open over ws").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { connect, type Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { emit, figure, log, MB, round, startCluster } from './harness.js';
import { CHROMIUM_FLAGS, openTab } from './tabs.js';
import { edgeNodeIds } from './objects-node.js';
import { chromiumCpuMs, chromiumPids, cpuMsOf } from './cpu.js';

const SIZES = [16, 64];
const ROUNDS = 3;

/** Milliseconds `page`'s volunteer node takes to resolve object `id` (at least `n` bytes). */
export async function resolveInTab(page: Page, id: string, n: number): Promise<number> {
  return (await page.evaluate(
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

export async function tabNodeParts(): Promise<void> {
  const cl = await startCluster({ nodes: 1, cpus: 1, verbose: process.env.TABNODE_VERBOSE === '1' });
  const profile = mkdtempSync(join(tmpdir(), 'tabmesh-bench-chromium-'));
  let ctx: BrowserContext | null = null;
  let mesh: Mesh | null = null;
  try {
    const [edge] = await edgeNodeIds(cl.url, cl.token);
    const edgePid = cl.nodes[0].proc.pid;
    ctx = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS, bypassCSP: true });
    const ws = await openTab(ctx, cl, 'cpus=1&cpuShare=1&memoryMb=1024&name=ws');
    const rtc = await openTab(ctx, cl, 'cpus=1&cpuShare=1&memoryMb=1024&name=rtc&wslinks=0');
    mesh = await connect({ url: cl.url, token: cl.token, peers: false });
    const on = (node: string) => ({ scheduling: { node: node as NodeId, soft: false } });
    const make = (node: string) => mesh!.remote((n: number, k: number) => new Uint8Array(n).fill(k), on(node));
    const len = mesh.remote((x: Uint8Array) => x.length, on(edge));
    const edgeToTab = (tab: { page: Page }, mib: number) =>
      measure(mib, edgePid, async (r) => {
        const ref = make(edge).remote(mib * MB, r + 1);
        await mesh!.wait([ref]);
        const ms = await resolveInTab(tab.page, ref.id, mib * MB);
        mesh!.free([ref]);
        return ms;
      });
    const tabToEdge = (tab: { page: Page; id: string }, mib: number) =>
      measure(mib, edgePid, async (r) => {
        const ref = make(tab.id).remote(mib * MB, r + 1);
        await mesh!.wait([ref]);
        const t = performance.now();
        const read = len.remote(ref);
        if ((await mesh!.get(read)) !== mib * MB) throw new Error('bad length');
        const ms = performance.now() - t;
        mesh!.free([ref, read]);
        return ms;
      });
    for (const mib of SIZES) {
      for (const [dir, run] of [
        ['edgeToTab', edgeToTab],
        ['tabToEdge', tabToEdge],
      ] as const) {
        await ws.page.bringToFront();
        const a = await run(ws, mib);
        await rtc.page.bringToFront();
        const b = await run(rtc, mib);
        const at = `${dir}.${mib}MiB`;
        log(
          `${mib} MiB ${dir}: WebSocket ${round(a.mibps, 1)} MiB/s (Chromium ${round(a.chromium, 1)}, edge ${round(a.edge, 1)} CPU ms/MiB), WebRTC ${round(b.mibps, 1)} MiB/s (Chromium ${round(b.chromium, 1)}, edge ${round(b.edge, 1)} ms/MiB)`,
        );
        emit(figure(`objects.${at}`, a.mibps, 'MiB/s', b.mibps));
        emit(figure(`objects.${at}.chromiumCpuPerMiB`, a.chromium, 'ms', b.chromium));
        emit(figure(`objects.${at}.edgeCpuPerMiB`, a.edge, 'ms', b.edge));
      }
    }
    const links = await Promise.all([ws, rtc].map((t) => t.page.evaluate('({ ...window.tabmeshVolunteer.node.links.opened })')));
    log(`links opened: tab "ws" ${JSON.stringify(links[0])}, tab "rtc" ${JSON.stringify(links[1])}`);
  } finally {
    await mesh?.close().catch(() => {});
    await ctx?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await cl.stop();
  }
}
