// Where a parameter-server round on tabs goes (issue 17, session 11): the
// workload of objects-paramserver.ts on two tabs (WebSocket links to the Node
// driver, or `--query=&wslinks=0` for WebRTC), with CPU ms per round of the
// driver, the coordinator and every Chromium thread (grouped by process type
// and thread name), the object bytes each tab moved, and the tabs' main-thread
// JavaScript by self time (CDP profiler). CPU holds under load where round
// times do not. `--bare`: the tabs in Chromium processes no DevTools client is
// attached to (Playwright's own Network domain reports every WebSocket frame,
// base64, to its client): CPU only. `--work=N`: each gradient computed N times
// (a task whose run time weighs against moving the weights: issue 17's spillback).
// Run: node dist/bench/objects-paramserver-trace.js [--rounds=N] [--query=...] [--work=N] [--bare | --no-profile]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type CDPSession } from 'playwright-core';
import { connect, type Mesh } from '../edge/index.js';
import { log, percentile, round, startCluster, type BenchCluster } from './harness.js';
import { lastEventSeq, paramServerRounds, placedSince } from './objects-paramserver.js';
import { CHROMIUM_FLAGS, openBareTabs, openTab, selfTimes, startProfiler } from './tabs.js';
import { chromiumPids, cpuMsOf, threadsCpu } from './cpu.js';

const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);

/** Round times and CPU per round with the tabs in Chromium processes under no DevTools client (but the profiler's). */
async function bare(rounds: number, query: string, work: number): Promise<void> {
  const cl = await startCluster({ nodes: 0 });
  let tabs: { close(): Promise<void> } | null = null;
  let mesh: Mesh | null = null;
  try {
    const t = await openBareTabs(
      cl,
      [0, 1].map((i) => `cpus=2&cpuShare=1&name=ps${i}${query}`),
      { debugPort: true },
    );
    tabs = t;
    mesh = await connect({ url: cl.url, token: cl.token });
    await paramServerRounds(mesh, 1, work);
    // The CPU profiler only (no Network domain), over a DevTools socket of this process's own.
    const profilers = await Promise.all(t.profiles.map((d) => startProfiler(d)));
    const since = await lastEventSeq(cl);
    const pids = chromiumPids();
    const t0 = threadsCpu(pids);
    const coord0 = cpuMsOf(cl.coordinator.proc.pid);
    const self0 = process.cpuUsage();
    const ms = await paramServerRounds(mesh, rounds, work);
    report(rounds, `${query} (bare, work ${work})`, ms, process.cpuUsage(self0), cpuMsOf(cl.coordinator.proc.pid) - coord0, t0, threadsCpu(pids));
    await logPlaced(cl, since);
    for (let i = 0; i < profilers.length; i++) {
      log(`tab ${i} main thread, self ms per round:`);
      for (const [k, v] of selfTimes(await profilers[i](), 14)) log(`  ${round(v / rounds, 1)}  ${k}`);
    }
  } finally {
    await mesh?.close().catch(() => {});
    await tabs?.close();
    await cl.stop();
  }
}

/** Which tab ran the rounds' gradient tasks (issue 17: all on the actor's tab before spillback). */
async function logPlaced(cl: BenchCluster, since: number): Promise<void> {
  const p = await placedSince(cl, since);
  log(`gradient tasks by node ${JSON.stringify(p.byNode)}, ${p.moved} moved off their argument's holder`);
}

function report(rounds: number, query: string, ms: number[], self: NodeJS.CpuUsage, coord: number, t0: Map<string, number>, t1: Map<string, number>): void {
  const per = (x: number) => round(x / rounds, 1);
  log(
    `load ${readFileSync('/proc/loadavg', 'latin1').trim()}; query "${query}"; ${rounds} rounds, median ${round(percentile(ms, 50), 0)} ms: ${ms.map((x) => round(x, 0)).join(' ')}`,
  );
  log(`CPU ms per round: driver ${per((self.user + self.system) / 1000)}, coordinator ${per(coord)}`);
  let chromiumTotal = 0;
  const rows = [...t1].map(([k, v]) => [k, v - (t0.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
  for (const [, v] of rows) chromiumTotal += v;
  log(`Chromium ${per(chromiumTotal)} CPU ms per round; by thread:`);
  for (const [k, v] of rows.sort((a, b) => b[1] - a[1]).slice(0, 16)) log(`  ${k}: ${per(v)}`);
}

async function main(): Promise<void> {
  const rounds = Number(arg('rounds') ?? 12);
  const query = arg('query') ?? '';
  const work = Number(arg('work') ?? 1);
  if (process.argv.includes('--bare')) return bare(rounds, query, work);
  const cl = await startCluster({ nodes: 0 });
  const profile = mkdtempSync(join(tmpdir(), 'tabmesh-bench-chromium-'));
  let ctx: BrowserContext | null = null;
  let mesh: Mesh | null = null;
  try {
    ctx = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS, bypassCSP: true });
    // What Playwright's DevTools client is sent of the tabs' WebSocket frames (its Network domain is always on).
    let framed = 0;
    ctx.on('page', (page) =>
      page.on('websocket', (w) => {
        w.on('framereceived', (f) => (framed += f.payload.length));
        w.on('framesent', (f) => (framed += f.payload.length));
      }),
    );
    const tabs: Awaited<ReturnType<typeof openTab>>[] = [];
    for (let i = 0; i < 2; i++) tabs.push(await openTab(ctx, cl, `cpus=2&cpuShare=1&name=ps${i}${query}`));
    mesh = await connect({ url: cl.url, token: cl.token });
    // One warm-up round: links open, functions load.
    await paramServerRounds(mesh, 1, work);
    const counters = () =>
      Promise.all(
        tabs.map((t) => t.page.evaluate('({ ...window.tabmeshVolunteer.node.links.counters, opened: window.tabmeshVolunteer.node.links.opened })')),
      ) as Promise<{ bytesIn: number; bytesOut: number; opened: Record<string, number> }[]>;
    const cdp: CDPSession[] = [];
    for (const t of process.argv.includes('--no-profile') ? [] : tabs) {
      const s = await ctx.newCDPSession(t.page);
      await s.send('Profiler.enable');
      await s.send('Profiler.setSamplingInterval', { interval: 500 });
      await s.send('Profiler.start');
      cdp.push(s);
    }
    const since = await lastEventSeq(cl);
    const pids = chromiumPids();
    const c0 = await counters();
    const t0 = threadsCpu(pids);
    const coord0 = cpuMsOf(cl.coordinator.proc.pid);
    const self0 = process.cpuUsage();
    const framed0 = framed;
    const ms = await paramServerRounds(mesh, rounds, work);
    const self = process.cpuUsage(self0);
    const coord = cpuMsOf(cl.coordinator.proc.pid) - coord0;
    const t1 = threadsCpu(pids);
    const c1 = await counters();
    report(rounds, query, ms, self, coord, t0, t1);
    await logPlaced(cl, since);
    const per = (x: number) => round(x / rounds, 1);
    log(`Playwright got ${round((framed - framed0) / rounds / 2 ** 20, 2)} MiB of WebSocket frame payloads per round`);
    c1.forEach((c, i) =>
      log(
        `tab ${i}: in ${round((c.bytesIn - c0[i].bytesIn) / rounds / 2 ** 20, 2)} MiB, out ${round((c.bytesOut - c0[i].bytesOut) / rounds / 2 ** 20, 2)} MiB per round; links opened ${JSON.stringify(c.opened)}`,
      ),
    );
    for (let i = 0; i < cdp.length; i++) {
      const { profile: p } = (await cdp[i].send('Profiler.stop')) as { profile: Parameters<typeof selfTimes>[0] };
      log(`tab ${i} main thread, self ms per round:`);
      for (const [k, v] of selfTimes(p, 14)) log(`  ${per(v)}  ${k}`);
    }
  } finally {
    await mesh?.close().catch(() => {});
    await ctx?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await cl.stop();
  }
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
