// bench:objects, tab -> tab against a raw data channel (issue 17, session 13):
// a tab resolves an object another tab holds (locate, peer link, leaf checks,
// store), and the same bytes go over a plain data channel between the same two
// tabs (bench/channel-peer.ts), alternated round by round so both see the same
// load. Only the move is measured: the object is made and ready before the
// clocks start (making and hashing it is the holder's put, not the transfer).
// Each side's CPU is its own Chromium process tree (a bare tab is one browser),
// per MiB; `TABTAB_THREADS=1` also prints where it goes, thread by thread,
// and `TABTAB_PROFILE=1` each page's main-thread JavaScript in tabmesh's moves
// by self time (CDP profiler).
// Figures are medians of the rounds; the ratio is the median of each round's
// pair (adjacent in time, so under about the same load).
import { loadavg } from 'node:os';
import type { Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { log, MB, percentile, round } from './harness.js';
import { connectPair, type ChannelCase, type End } from './channel-peer.js';
import { chromiumCpuMs, threadsCpu } from './cpu.js';
import { resolveInTab } from './objects-tabnode.js';
import { selfTimes, startProfiler, type Profile } from './tabs.js';

/** A raw channel as tabmesh's sender was until session 15: 64 KiB messages, a 2 MiB queue refilled on 'bufferedamountlow' below 512 KiB (tabmesh's now stops at 1.5 MiB: raw-peer.ts CHANNEL_HIGH_WATER). */
export const RAW_CASE: ChannelCase = { msg: 64 << 10, pacing: 'event', ordered: true, highWater: 2 << 20, low: 512 << 10 };

/** A bare tab (bench/tabs.ts), its node id, its Chromium processes, and its profile folder (for a profiler). */
export interface TabSide {
  id: string;
  end: End;
  pids: number[];
  dir: string;
}

/** One move's time and CPU ms per MiB of each side. */
interface Move {
  ms: number;
  holder: number;
  reader: number;
  /** Requests to the reader's hasher worker (tabmesh's moves). */
  checks?: number;
}

/** Requests the tab's hasher worker got so far (hash-worker.ts). */
const hasherRequests = async (t: TabSide) => (await t.end.run('window.tabmeshVolunteer.hasher.requests')) as number;

export interface TabTab {
  /** Medians over the rounds: MiB/s, CPU ms per MiB of the holder's and the reader's processes. */
  ours: { mibps: number; holder: number; reader: number };
  raw: { mibps: number; holder: number; reader: number };
  /** Median of the rounds' ratios ours/raw: time (MiB/s), and CPU of both sides together. */
  ratio: number;
  cpuRatio: number;
  /** Every round's ratio (MiB/s), for the log. */
  ratios: number[];
}

const median = (xs: number[]) => percentile(xs, 50);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

/** CPU ms of every thread of both sides so far, keyed "holder|reader renderer/thread". */
function threads(a: TabSide, b: TabSide): Map<string, number> {
  const out = new Map<string, number>();
  for (const [side, s] of [
    ['holder', a],
    ['reader', b],
  ] as const)
    for (const [k, v] of threadsCpu(s.pids)) out.set(`${side} ${k}`, v);
  return out;
}

/** Per-MiB CPU of `move` on each side (and its thread breakdown added into `th`). */
async function measured(a: TabSide, b: TabSide, mib: number, th: Map<string, number> | null, move: () => Promise<number>): Promise<Move> {
  const t0 = th ? threads(a, b) : null;
  const h0 = chromiumCpuMs(a.pids);
  const r0 = chromiumCpuMs(b.pids);
  const ms = await move();
  const out = { ms, holder: (chromiumCpuMs(a.pids) - h0) / mib, reader: (chromiumCpuMs(b.pids) - r0) / mib };
  if (th && t0) for (const [k, v] of threads(a, b)) th.set(k, (th.get(k) ?? 0) + (v - (t0.get(k) ?? 0)) / mib);
  return out;
}

/**
 * `rounds` moves of `mib` MiB from tab `a` to tab `b`, each a tabmesh
 * transfer then a raw data channel's, after one unmeasured round of each
 * (the link and the channel opened, the code warm).
 */
export async function tabToTab(mesh: Mesh, a: TabSide, b: TabSide, mib: number, rounds: number): Promise<TabTab> {
  const make = mesh.remote((n: number, k: number) => new Uint8Array(n).fill(k), { scheduling: { node: a.id as NodeId, soft: false } });
  const ours = async (k: number) => {
    const ref = make.remote(mib * MB, k);
    await mesh.wait([ref]);
    const ms = await resolveInTab(b.end, ref.id, mib * MB);
    mesh.free([ref]);
    return ms;
  };
  log(`  raw channel: ${await connectPair(a.end, b.end, true, false, '__raw')}`);
  const raw = async () => ((await b.end.run(`__raw.read(${mib * MB}, ${JSON.stringify(RAW_CASE)})`)) as { ms: number }).ms;
  const perThread = process.env.TABTAB_THREADS === '1';
  const th = { ours: perThread ? new Map<string, number>() : null, raw: perThread ? new Map<string, number>() : null };
  const got: { ours: Move[]; raw: Move[] } = { ours: [], raw: [] };
  try {
    await ours(100);
    await raw();
    const profiled: Profile[][] = [];
    for (let r = 0; r < rounds; r++) {
      // The object is made and ready before the clocks start.
      const ref = make.remote(mib * MB, r + 1);
      await mesh.wait([ref]);
      const stops = process.env.TABTAB_PROFILE === '1' ? await Promise.all([a.dir, b.dir].map((d) => startProfiler(d))) : [];
      const asked = await hasherRequests(b);
      got.ours.push(await measured(a, b, mib, th.ours, () => resolveInTab(b.end, ref.id, mib * MB)));
      got.ours[r].checks = (await hasherRequests(b)) - asked;
      if (stops.length) profiled.push(await Promise.all(stops.map((s) => s())));
      mesh.free([ref]);
      got.raw.push(await measured(a, b, mib, th.raw, raw));
      const [o, w] = [got.ours[r], got.raw[r]];
      log(
        `  ${mib} MiB round ${r + 1}: tabmesh ${round(o.ms)} ms (CPU ms/MiB holder ${round(o.holder, 1)}, reader ${round(o.reader, 1)}; reader's hasher requests ${o.checks}), raw ${round(w.ms)} ms (${round(w.holder, 1)}, ${round(w.reader, 1)}); load ${load()}`,
      );
    }
    for (const [i, side] of ['holder', 'reader'].entries()) {
      if (!profiled.length) break;
      const by = new Map<string, number>();
      for (const p of profiled) for (const [k, ms] of selfTimes(p[i], 40)) by.set(k, (by.get(k) ?? 0) + ms / (mib * profiled.length));
      const top = [...by].sort((x, y) => y[1] - x[1]).slice(0, 14);
      log(`  ${side} main thread JS, ms/MiB by self time: ${top.map(([k, ms]) => `${k} ${round(ms, 2)}`).join(', ')}`);
    }
  } finally {
    for (const e of [a.end, b.end]) await e.run('__raw.pc.close()').catch(() => {});
  }
  if (th.ours && th.raw) {
    // Where tabmesh spends beyond the raw channel, thread by thread (ms per MiB, summed over the rounds, then averaged).
    const keys = new Set([...th.ours.keys(), ...th.raw.keys()]);
    const rows = [...keys]
      .map((k) => [k, (th.ours!.get(k) ?? 0) / rounds, (th.raw!.get(k) ?? 0) / rounds] as const)
      .filter(([, o, w]) => o >= 1 || w >= 1)
      .sort((x, y) => y[1] - y[2] - (x[1] - x[2]));
    log(`  CPU ms/MiB by thread (tabmesh / raw): ${rows.map(([k, o, w]) => `${k} ${round(o, 1)}/${round(w, 1)}`).join(', ')}`);
  }
  const side = (ms: Move[]) => ({
    mibps: (mib / median(ms.map((m) => m.ms))) * 1000,
    holder: median(ms.map((m) => m.holder)),
    reader: median(ms.map((m) => m.reader)),
  });
  const ratios = got.ours.map((o, i) => got.raw[i].ms / o.ms);
  return {
    ours: side(got.ours),
    raw: side(got.raw),
    ratio: median(ratios),
    cpuRatio: median(got.ours.map((o, i) => (o.holder + o.reader) / (got.raw[i].holder + got.raw[i].reader))),
    ratios,
  };
}
