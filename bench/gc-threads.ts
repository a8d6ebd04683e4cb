// V8's GC threads against cores that other processes take (issue 14, session 26): bench:scale's coordinator lost
// some 10 ms ticks to GC pauses whose loop thread, its own part done, was parked while V8's helper threads waited
// for a core (docs/decisions.md, session 25). bench:scale runs in ~1.5 min and sees a few scavenges a job; this
// runs a coordinator-shaped heap (an old generation of long-lived records, a young one whose records live 250 ms,
// as a job's task records do) in one child process per node flag set, beside `GC_HOGS` busy processes (the
// simulated nodes' share of the 2 cores), and counts hundreds of pauses a run. Baseline: no flag (V8's own), in
// the same round. Each child: its 10 ms ticks' gaps over 50 ms by cause (bench/scale-slow-turns.ts; `parked_gaps`:
// "gc (parked for its helpers)" and "off cpu"), its scavenges' pauses, the records it made a second (throughput,
// lower when starved) and its CPU a record. Measured in session 26: docs/decisions.md "The coordinator's GC
// threads stay V8's own".
//
// GC_FLAGS: flag sets, `;` between sets, spaces inside one (default `--v8-pool-size=1;--single-threaded-gc`).
// GC_ROUNDS (3), GC_SECONDS a child (15), GC_HOGS (2), GC_RATE records a second (30,000), GC_LIFE_MS a record
// lives (250: ~6 MB survive a scavenge, as at 10,000 nodes), GC_OLD_MB (70).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { emit, log, ownChild, pairedFigure, percentile, round, runBench } from './harness.js';
import { SlowTurns, slowTurnLine } from './scale-slow-turns.js';
import { gcKind } from './scale-gc.js';
import { setHeapGrowth, setYoungGrowth, DEFAULT_HEAP_GROWTH_PERCENT } from '../cli/heap-flags.js';

const num = (name: string, dflt: number): number => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? dflt : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: a number >= 0, got ${v}`);
  return n;
};

/** What one child measured. */
export interface GcThreadsRun {
  flags: string;
  seconds: number;
  recordsPerS: number;
  cpuUsPerRecord: number;
  worstGapMs: number;
  gapsOver50: number;
  byCause: Record<string, number>;
  scavenges: number;
  scavengeP50: number;
  scavengeP90: number;
  scavengeMax: number;
  majors: number;
  majorMax: number;
  top: string[];
}

/** A record of a task as the coordinator keeps one while it runs: ids, a spec's bytes, times, a state. */
function taskRecord(i: number): object {
  return { id: `t${i.toString(16).padStart(31, '0')}`, args: new Uint8Array(64), state: 'queued', at: [i, i + 1, i + 2], owner: { n: i & 1023 } };
}

async function child(): Promise<void> {
  // As `tabmesh coordinator` sizes its heap (cli/index.ts).
  setHeapGrowth(DEFAULT_HEAP_GROWTH_PERCENT);
  setYoungGrowth();
  const seconds = num('GC_SECONDS', 15);
  const rate = num('GC_RATE', 30_000);
  const lifeMs = num('GC_LIFE_MS', 250);
  // The old generation: 10,000 nodes' sessions (72 MB live in bench:scale), records of ~1 KB.
  const ballast: object[] = [];
  for (let i = 0; i < num('GC_OLD_MB', 70) << 10; i++) ballast.push({ k: `s${i}`, v: new Array(24).fill(i), m: new Map([[i, `x${i}`]]) });
  // Gaps over the 50 ms bound, counted as bench:scale counts a loop delay (its 10 ms interval included).
  const slow = new SlowTurns(undefined, undefined, 50);
  const pauses: { kind: string; ms: number }[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      slow.gc(e.startTime, e.duration, gcKind(e));
      pauses.push({ kind: gcKind(e), ms: e.duration });
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const live: { at: number; r: object }[] = [];
  let made = 0;
  let lastWork = performance.now();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  // Work every 5 ms: the records due since the last turn (a starved process makes up for it, up to 50 ms' worth).
  const work = setInterval(() => {
    const now = performance.now();
    const due = Math.min(Math.round(((now - lastWork) * rate) / 1000), rate / 20);
    lastWork = now;
    for (let i = 0; i < due; i++) {
      // Garbage beside each record, as decoding and answering a message makes (~3.5 KB a task in bench:scale).
      const junk = JSON.stringify({ i, s: 'x'.repeat(64), a: [1, 2, 3, 4, 5, 6, 7, 8] }).repeat(20);
      live.push({ at: now, r: { ...taskRecord(made++), size: junk.length } });
    }
    let k = 0;
    while (k < live.length && now - live[k].at > lifeMs) k++;
    if (k > 0) live.splice(0, k);
  }, 5);
  slow.tick(true);
  let lastTick = performance.now();
  let worstGap = 0;
  const tick = setInterval(() => {
    slow.tick();
    const now = performance.now();
    worstGap = Math.max(worstGap, now - lastTick);
    lastTick = now;
  }, 10);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(work);
  clearInterval(tick);
  obs.disconnect();
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - t0) / 1000;
  const rep = slow.report(false);
  const minor = pauses.filter((p) => p.kind === 'minor').map((p) => p.ms);
  const major = pauses.filter((p) => p.kind === 'major').map((p) => p.ms);
  const out: GcThreadsRun = {
    flags: process.execArgv.join(' '),
    seconds: elapsed,
    recordsPerS: made / elapsed,
    cpuUsPerRecord: (cpu.user + cpu.system) / made,
    worstGapMs: worstGap,
    gapsOver50: rep.over,
    byCause: rep.byCause,
    scavenges: minor.length,
    scavengeP50: percentile(minor, 50),
    scavengeP90: percentile(minor, 90),
    scavengeMax: Math.max(0, ...minor),
    majors: major.length,
    majorMax: Math.max(0, ...major),
    top: rep.top.slice(0, 3).map(slowTurnLine),
  };
  ballast.length = 0;
  process.send?.(out);
  process.disconnect?.();
}

/** A busy process (a simulated node's share of the cores): spins until killed. */
function hog(): void {
  const parent = process.ppid;
  for (;;) {
    const until = Date.now() + 1000;
    while (Date.now() < until);
    if (process.ppid !== parent) process.exit(0);
  }
}

function runChild(flags: string[]): Promise<GcThreadsRun> {
  const p: ChildProcess = fork(fileURLToPath(import.meta.url), ['child'], { execArgv: flags, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  ownChild(p);
  return new Promise((resolve, reject) => {
    p.once('message', (m) => resolve(m as GcThreadsRun));
    p.once('exit', (code) => reject(new Error(`gc-threads child (${flags.join(' ') || 'no flags'}) exited (${code}) before it answered`)));
  });
}

async function main(): Promise<void> {
  const sets = [[], ...(process.env.GC_FLAGS ?? '--v8-pool-size=1;--single-threaded-gc').split(';').map((s) => s.split(' ').filter(Boolean))];
  const name = (s: string[]) => s.join(' ') || "V8's own";
  const rounds = num('GC_ROUNDS', 3);
  const runs: GcThreadsRun[][] = sets.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const hogs = Array.from({ length: num('GC_HOGS', 2) }, () => {
      const h = fork(fileURLToPath(import.meta.url), ['hog'], { stdio: 'ignore' });
      ownChild(h);
      return h;
    });
    // Rotated: each set runs first once in a while (the machine's load drifts).
    for (let k = 0; k < sets.length; k++) {
      const i = (k + r) % sets.length;
      const run = await runChild(sets[i]);
      runs[i].push(run);
      log(
        `round ${r + 1} ${name(sets[i])}: ${round(run.recordsPerS, 0)} records/s, ${round(run.cpuUsPerRecord, 2)} µs CPU a record, worst gap ${round(run.worstGapMs, 0)} ms (${run.gapsOver50} over 50; ${JSON.stringify(run.byCause)}), scavenges ${run.scavenges} p50 ${round(run.scavengeP50, 1)} p90 ${round(run.scavengeP90, 1)} max ${round(run.scavengeMax, 1)} ms, mark-compacts ${run.majors} max ${round(run.majorMax, 1)} ms`,
      );
      for (const t of run.top) log(`    ${t}`);
    }
    for (const h of hogs) h.kill('SIGKILL');
  }
  // Each set's medians against V8's own in the same rounds (the median of the per-round ratios).
  for (let i = 0; i < sets.length; i++) {
    const key = i === 0 ? 'v8_own' : sets[i].join('_').replace(/[^a-z0-9_=]/gi, '');
    const fig = (what: string, f: (x: GcThreadsRun) => number, unit: string) =>
      emit(pairedFigure(`gc_threads.${key}.${what}`, runs[i].map(f), runs[0].map(f), unit));
    fig('worst_gap', (x) => x.worstGapMs, 'ms');
    fig('gaps_over_50', (x) => x.gapsOver50, 'gaps');
    fig('parked_gaps', (x) => (x.byCause['gc (parked for its helpers)'] ?? 0) + (x.byCause['off cpu'] ?? 0), 'gaps');
    fig('scavenge_p90', (x) => x.scavengeP90, 'ms');
    fig('scavenge_max', (x) => x.scavengeMax, 'ms');
    fig('records_per_s', (x) => x.recordsPerS, 'records/s');
    fig('cpu_per_record', (x) => x.cpuUsPerRecord, 'µs');
  }
}

if (process.argv[2] === 'child') void child();
else if (process.argv[2] === 'hog') hog();
else runBench(main);
