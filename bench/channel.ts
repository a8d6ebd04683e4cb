// Why is a data channel between two tabs slow? (issue 17.) A plain
// RTCPeerConnection pair (bench/channel-peer.ts, no simple-peer), varying one
// thing at a time from a base case: message size, timer polling vs
// 'bufferedamountlow', ordered or not, one Chromium process or two, the
// sender's page hidden, Chromium's timer throttling; then a Node peer
// (@roamhq/wrtc) to a tab both ways.
//
//   npm run build && sh scripts/in-netns.sh node dist/bench/channel.js [--mib=16]
//
// stdout: one JSON line per case (MiB/s, ratio to the base); stderr: the table.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { emit, figure, log, round, runBench } from './harness.js';
import { CHROMIUM_FLAGS } from './tabs.js';
import { chromiumCpuMs, chromiumPids, threadsCpu } from './cpu.js';
import { connectPair, nodeEnd, pageEnd, type ChannelCase, type End } from './channel-peer.js';
import { wsThroughput } from './channel-ws.js';

const MIB = Number(process.argv.find((a) => a.startsWith('--mib='))?.slice(6) ?? 16);
const ROUNDS = 2;
/** `--only=word`: only the cases whose name holds it (diagnosis). */
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
const BASE: ChannelCase = { msg: 64 << 10, pacing: 'timer', ordered: true, highWater: 2 << 20, low: 512 << 10 };

/** MiB/s from `a` to `b` (b asks, a sends), best of ROUNDS; closes both. */
async function measure(a: End, b: End, c: ChannelCase): Promise<{ mibps: number; info: string }> {
  const info = await connectPair(a, b, c.ordered, c.video);
  let best = { ms: Infinity, stalls: 0, stalledMs: 0 };
  const pids = chromiumPids();
  const idle0 = chromiumCpuMs(pids);
  await new Promise((r) => setTimeout(r, 3000));
  const idle = (chromiumCpuMs(pids) - idle0) / 3;
  const cpu0 = chromiumCpuMs(pids);
  const th0 = PROFILE ? threadsCpu(pids) : null;
  for (let r = 0; r < ROUNDS; r++) {
    const got = (await b.run(`__ch.read(${MIB * 1048576}, ${JSON.stringify(c)})`)) as typeof best;
    if (got.ms < best.ms) best = got;
  }
  const cpuPerMib = (chromiumCpuMs(pids) - cpu0) / (MIB * ROUNDS);
  if (th0) {
    const th = [...threadsCpu(pids)].map(([k, v]) => [k, (v - (th0.get(k) ?? 0)) / (MIB * ROUNDS)] as const).filter(([, v]) => v >= 5);
    log(
      `  CPU ms/MiB by thread: ${th
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => `${k} ${round(v, 1)}`)
        .join(', ')}`,
    );
  }
  const rtt = (await b.run('__ch.rtt()')) as number | null;
  const missed = ((await a.run('__ch.info()')) as { missedLow: number }).missedLow;
  for (const e of [a, b]) await e.run('__ch.pc.close()');
  // Gaps of 100 ms or more between two messages at the reader: the channel waiting on a lost packet's retransmission timer.
  return {
    mibps: (MIB / best.ms) * 1000,
    info: `${info}; ${best.stalls} gaps >= 100 ms, ${round(best.stalledMs)} ms of ${round(best.ms)}; ICE RTT after ${rtt} ms; Chromium CPU ${round(cpuPerMib, 1)} ms/MiB, idle ${round(idle)} ms/s${missed ? `; sender waited out 'bufferedamountlow' ${missed} times (1 s each)` : ''}`,
  };
}

const PROFILE = process.argv.includes('--threads');

/** Aggregate MiB/s of `n` connections between the same two ends at once, each carrying MIB / n. */
async function measureMany(a: End, b: End, c: ChannelCase, n: number): Promise<{ mibps: number; info: string }> {
  const names = Array.from({ length: n }, (_, i) => `__ch${i}`);
  for (const ch of names) await connectPair(a, b, c.ordered, false, ch);
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t = Date.now();
    await Promise.all(names.map((ch) => b.run(`${ch}.read(${Math.floor((MIB * 1048576) / n)}, ${JSON.stringify(c)})`)));
    best = Math.min(best, Date.now() - t);
  }
  for (const ch of names) for (const e of [a, b]) await e.run(`${ch}.pc.close()`);
  return { mibps: (MIB / best) * 1000, info: `${n} peer connections` };
}

async function browser(extra: string[] = []): Promise<{ ctx: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'tabmesh-bench-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: [...CHROMIUM_FLAGS, ...extra] });
  return {
    ctx,
    async close() {
      await ctx.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const rows: { name: string; mibps: number; info: string }[] = [];
  let base = NaN;
  const row = async (name: string, r: () => Promise<{ mibps: number; info: string }>) => {
    if (ONLY && !name.includes(ONLY) && name !== 'base') return;
    const got = await r();
    if (rows.length === 0) base = got.mibps;
    rows.push({ name, ...got });
    log(`${name.padEnd(48)} ${round(got.mibps, 1).toString().padStart(8)} MiB/s  ${round(got.mibps / base, 2)}x  (${got.info})`);
    emit(figure(`channel.${name.replace(/[^a-z0-9]+/gi, '_')}`, got.mibps, 'MiB/s', base));
  };
  const open = async (extra: string[] = []) => {
    const [x, y] = [await browser(extra), await browser(extra)];
    const [pa, pb] = [await x.ctx.newPage(), await y.ctx.newPage()];
    return { x, y, pa, pb, close: async () => Promise.all([x.close(), y.close()]) };
  };
  log(`${MIB} MiB per round, best of ${ROUNDS}; base: two Chromium processes, 64 KiB messages, 2 MiB high water, timer poll 2 ms, ordered`);
  {
    const t = await open();
    try {
      const A = pageEnd(t.pa);
      const B = pageEnd(t.pb);
      await row('base', () => measure(A, B, BASE));
      for (const msg of [16 << 10, 256 << 10]) await row(`message ${msg >> 10} KiB`, () => measure(A, B, { ...BASE, msg }));
      await row("pacing on 'bufferedamountlow'", () => measure(A, B, { ...BASE, pacing: 'event' }));
      await row('unordered', () => measure(A, B, { ...BASE, ordered: false }));
      await row('video transceiver (bigger UDP receive buffer)', () => measure(A, B, { ...BASE, video: true }));
      await row("video transceiver, 'bufferedamountlow'", () => measure(A, B, { ...BASE, video: true, pacing: 'event' }));
      await row('two peer connections at once', () => measureMany(A, B, BASE, 2));
      await row('four peer connections at once', () => measureMany(A, B, BASE, 4));
      await row('high water 16 MiB', () => measure(A, B, { ...BASE, highWater: 16 << 20 }));
      // Another page of the sender's process brought to the front (headless Chromium still shows it 'visible').
      const cover = await t.x.ctx.newPage();
      await cover.bringToFront();
      await row('sender behind another page, timer', () => measure(A, B, BASE));
      await row("sender behind another page, 'bufferedamountlow'", () => measure(A, B, { ...BASE, pacing: 'event' }));
      await t.pa.bringToFront();
      const coverB = await t.y.ctx.newPage();
      await coverB.bringToFront();
      await row('reader behind another page, timer', () => measure(A, B, BASE));
      const w = await nodeEnd();
      await t.pb.bringToFront();
      await row('node (wrtc) -> tab, timer', () => measure(w, B, BASE));
      await row("node (wrtc) -> tab, 'bufferedamountlow'", () => measure(w, B, { ...BASE, pacing: 'event' }));
      await row('tab -> node (wrtc), timer', () => measure(B, w, BASE));
      await row("tab -> node (wrtc), 'bufferedamountlow'", () => measure(B, w, { ...BASE, pacing: 'event' }));
      // Not a data channel: the same bytes over a WebSocket on loopback, with Chromium's CPU per MiB.
      for (const dir of ['tab->node', 'node->tab'] as const) {
        await row(`${dir.replace('node', 'node (ws)')} over a WebSocket`, async () => {
          const pids = chromiumPids();
          const c0 = chromiumCpuMs(pids);
          const mibps = await wsThroughput(t.pb, MIB, dir, ROUNDS);
          return { mibps, info: `Chromium CPU ${round((chromiumCpuMs(pids) - c0) / (MIB * ROUNDS), 1)} ms/MiB` };
        });
      }
    } finally {
      await t.close();
    }
  }
  {
    const x = await browser();
    try {
      const [pa, pb] = [await x.ctx.newPage(), await x.ctx.newPage()];
      await row('one process, two pages', () => measure(pageEnd(pa), pageEnd(pb), BASE));
    } finally {
      await x.close();
    }
  }
  {
    const t = await open(['--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows']);
    try {
      const cover = await t.x.ctx.newPage();
      await cover.bringToFront();
      await row('sender behind another page, throttling off (diag.)', () => measure(pageEnd(t.pa), pageEnd(t.pb), BASE));
    } finally {
      await t.close();
    }
  }
}

runBench(main);
