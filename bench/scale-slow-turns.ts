// What each long event-loop delay of bench:scale's coordinator was (issue 14, session 25): per gap of its 10 ms
// tick longer than SLOW_TURN_MS past the interval, the loop thread's time on a core, in the run queue (runnable,
// no core free: the simulated nodes share 2 cores) and off both (idle in poll, a blocking call, or parked while
// GC helper threads work), the other threads' CPU and run-queue wait (V8's GC helpers mostly), and the GC
// pauses that began in it, with what each moved. From Linux's /proc/<pid>/task/<tid>/schedstat ("<on-cpu ns>
// <run-queue ns> <slices>"), read through descriptors kept open; without /proc the times read 0.
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { GCProfiler, type GCProfilerResult } from 'node:v8';
import type { GcKind } from './scale-gc.js';

/**
 * A gap between two ticks longer than this is a slow turn (ms). A gap counts as monitorEventLoopDelay counts a
 * delay (bench:scale's worst loop delay): the time between two firings of its timer, its interval included.
 * The target is 50.
 */
export const SLOW_TURN_MS = 40;
/** Slow turns reported with their detail, the longest first. */
const KEPT = 8;
/** Slow turns kept between two reports (beyond it they are counted only, with no cause). */
const TURNS_KEPT = 4096;
/** GC pauses kept between two reports (a 100,000-task job makes a few hundred). */
const GC_KEPT = 8192;

/** Scheduler times of a thread, or summed over threads (ns). */
export interface ThreadTimes {
  cpuNs: number;
  waitNs: number;
}

/** The loop thread's times and the other threads' summed. */
export interface ProcessTimes {
  main: ThreadTimes;
  others: ThreadTimes;
}

/** "<on-cpu ns> <run-queue ns> <slices>" (schedstat) as numbers; a line it cannot read is zeros. */
export function parseSchedstat(buf: Uint8Array, n: number): ThreadTimes {
  const v = [0, 0];
  let field = 0;
  let digits = 0;
  for (let i = 0; i < n && field < 2; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) {
      v[field] = v[field] * 10 + (c - 48);
      digits++;
    } else if (digits > 0) {
      field++;
      digits = 0;
    } else return { cpuNs: 0, waitNs: 0 };
  }
  if (field < 1 || (field === 1 && digits === 0)) return { cpuNs: 0, waitNs: 0 };
  return { cpuNs: v[0], waitNs: v[1] };
}

/** Reads this process's threads' schedstat: the main thread's apart; the thread list is read again once a second. */
export function procTimes(): () => ProcessTimes {
  const buf = Buffer.alloc(96);
  const self = process.pid;
  const fds = new Map<number, number>();
  let listedAt = -Infinity;
  const list = (): void => {
    let tids: number[];
    try {
      tids = readdirSync('/proc/self/task').map(Number);
    } catch {
      return;
    }
    for (const [tid, fd] of fds)
      if (!tids.includes(tid)) {
        closeSync(fd);
        fds.delete(tid);
      }
    for (const tid of tids)
      if (!fds.has(tid))
        try {
          fds.set(tid, openSync(`/proc/self/task/${tid}/schedstat`, 'r'));
        } catch {
          // A thread that ended meanwhile.
        }
  };
  return () => {
    const now = performance.now();
    if (now - listedAt > 1000) {
      listedAt = now;
      list();
    }
    const out: ProcessTimes = { main: { cpuNs: 0, waitNs: 0 }, others: { cpuNs: 0, waitNs: 0 } };
    for (const [tid, fd] of fds) {
      let n = 0;
      try {
        n = readSync(fd, buf, 0, buf.length, 0);
      } catch {
        continue; // The thread ended; the next listing drops it.
      }
      const t = parseSchedstat(buf, n);
      const into = tid === self ? out.main : out.others;
      into.cpuNs += t.cpuNs;
      into.waitNs += t.waitNs;
    }
    return out;
  };
}

/** One slow turn: a gap between two ticks (delayMs, its interval included), its times (ms). cpu + wait + off = the gap. */
export interface SlowTurn {
  /** performance.now() of the tick that ended it. */
  at: number;
  delayMs: number;
  cpuMs: number;
  waitMs: number;
  offMs: number;
  othersCpuMs: number;
  othersWaitMs: number;
  /** GC pauses that began in it: their total and each ("minor 31.2 ms, 2.6 MB survived"). */
  gcMs: number;
  gc: string[];
  /**
   * What it was: `run queue` (the loop thread waited for a core half the gap or more; `(in gc)` when GC pauses
   * were half of it too), `gc` (pauses half the gap or more; `(parked for its helpers)` when the loop thread
   * was off its core more than on it), else the largest of `work` (on a core), `run queue`, `off cpu`.
   */
  cause: string;
}

export interface SlowTurnReport {
  /** Gaps over SLOW_TURN_MS since the last reset, by cause. */
  over: number;
  byCause: Record<string, number>;
  /** The longest, longest first. */
  top: SlowTurn[];
}

interface GcPause {
  start: number;
  ms: number;
  kind: GcKind;
  /** What it moved (MB): a scavenge's survivors (copied and promoted), a mark-compact's heap before and after. */
  size?: string;
}

type GcStat = GCProfilerResult['statistics'][number];
const PROFILER_KIND: Record<string, GcKind> = {
  Scavenge: 'minor',
  MarkSweepCompact: 'major',
  IncrementalMarking: 'incremental',
  ProcessWeakCallbacks: 'weakcb',
};
const MB = 1 << 20;
const used = (side: GcStat['beforeGC'], name: string): number => side.heapSpaceStatistics.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0;

/** What a GC moved, for a slow turn's line. */
export function gcSize(s: GcStat): string | undefined {
  if (s.gcType === 'Scavenge') {
    const survived = used(s.afterGC, 'new_space') + Math.max(0, used(s.afterGC, 'old_space') - used(s.beforeGC, 'old_space'));
    return `${(survived / MB).toFixed(1)} MB survived`;
  }
  if (s.gcType === 'MarkSweepCompact')
    return `heap ${(s.beforeGC.heapStatistics.usedHeapSize / MB).toFixed(0)} -> ${(s.afterGC.heapStatistics.usedHeapSize / MB).toFixed(0)} MB`;
  return undefined;
}

/**
 * Pairs pauses (perf_hooks entries, in order) with a GCProfiler's statistics (in order, from the same GCs) to
 * give each its size: from the first pair whose kinds agree, while they agree (entries of GCs before the
 * profiler started, or statistics whose entry has not come yet, are left without).
 */
export function pairSizes(pauses: GcPause[], stats: readonly GcStat[]): void {
  let j = 0;
  for (let i = 0; i < pauses.length && j < stats.length; i++) {
    let k = j;
    while (k < stats.length && PROFILER_KIND[stats[k].gcType] !== pauses[i].kind) k++;
    if (k === stats.length) continue;
    if (k > j && i > 0) break; // A statistic with no entry in the middle: the rest cannot be paired by order.
    pauses[i].size = gcSize(stats[k]);
    j = k + 1;
  }
}

export function causeOf(t: Pick<SlowTurn, 'delayMs' | 'cpuMs' | 'waitMs' | 'offMs' | 'gcMs'>): string {
  const half = t.delayMs / 2;
  const inGc = t.gcMs >= half;
  // Waiting for a core first: a pause whose thread stood in the run queue was as long because of it.
  if (t.waitMs >= half) return inGc ? 'run queue (in gc)' : 'run queue';
  // Off a core in a pause (no I/O in it): parked until the GC's helper threads were done.
  if (inGc) return t.offMs >= t.cpuMs ? 'gc (parked for its helpers)' : 'gc';
  if (t.cpuMs >= t.waitMs && t.cpuMs >= t.offMs) return 'work';
  return t.waitMs >= t.offMs ? 'run queue' : 'off cpu';
}

/** "88 ms: cpu 12, run queue 61, off 25 (others' cpu 30, run queue 40); gc minor 31.2 ms (2.6 MB survived) -> run queue". */
export function slowTurnLine(t: SlowTurn): string {
  const r = (x: number) => Math.round(x);
  return `${r(t.delayMs)} ms: loop thread on a core ${r(t.cpuMs)}, in the run queue ${r(t.waitMs)}, off cpu ${r(t.offMs)}; other threads cpu ${r(t.othersCpuMs)}, run queue ${r(t.othersWaitMs)}; gc ${t.gc.length ? t.gc.join(', ') : 'none'} => ${t.cause}`;
}

export class SlowTurns {
  private last = -1;
  private lastTimes: ProcessTimes = { main: { cpuNs: 0, waitNs: 0 }, others: { cpuNs: 0, waitNs: 0 } };
  private turns: SlowTurn[] = [];
  private over = 0;
  private pauses: GcPause[] = [];
  private prof: GCProfiler | null = null;
  private profFrom = 0;

  constructor(
    private readonly times: () => ProcessTimes = procTimes(),
    private readonly now: () => number = () => performance.now(),
    readonly overMs = SLOW_TURN_MS,
    /** Sizes of GC pauses from a GCProfiler (off in tests of the arithmetic). */
    sizes = true,
  ) {
    if (sizes) this.startProfiler();
  }

  private startProfiler(): void {
    this.prof = new GCProfiler();
    this.prof.start();
    this.profFrom = this.now();
  }

  /** The tick's timer fired; `restart`: the first after a pause of the tick (its gap is no delay). */
  tick(restart = false): void {
    const now = this.now();
    const times = this.times();
    const gap = now - this.last;
    if (!restart && this.last >= 0 && gap > this.overMs) {
      const ms = (ns: number) => ns / 1e6;
      const cpuMs = ms(times.main.cpuNs - this.lastTimes.main.cpuNs);
      const waitMs = ms(times.main.waitNs - this.lastTimes.main.waitNs);
      this.record({
        at: now,
        delayMs: gap,
        cpuMs,
        waitMs,
        offMs: Math.max(0, gap - cpuMs - waitMs),
        othersCpuMs: ms(times.others.cpuNs - this.lastTimes.others.cpuNs),
        othersWaitMs: ms(times.others.waitNs - this.lastTimes.others.waitNs),
        gcMs: 0,
        gc: [],
        cause: '',
      });
    }
    this.last = now;
    this.lastTimes = times;
  }

  private record(t: SlowTurn): void {
    this.over++;
    // Their causes are known only once the GC pauses in them are (perf_hooks hands them over later): at the report.
    if (this.turns.length < TURNS_KEPT) this.turns.push(t);
  }

  /** A GC pause (perf_hooks 'gc' entry: its startTime and duration, on performance.now()'s clock). */
  gc(start: number, ms: number, kind: GcKind): void {
    if (this.pauses.length < GC_KEPT) this.pauses.push({ start, ms, kind });
  }

  /** The slow turns since the last reset, their GC pauses and causes; `reset` starts a new count. */
  report(reset: boolean): SlowTurnReport {
    const pauses = this.pauses.filter((p) => p.start >= this.profFrom);
    if (this.prof) {
      pairSizes(pauses, this.prof.stop().statistics);
      this.startProfiler();
    }
    const byCause: Record<string, number> = {};
    const all = this.turns.map((t) => {
      const from = t.at - t.delayMs;
      const inIt = this.pauses.filter((p) => p.start >= from && p.start < t.at);
      const gcMs = Math.min(
        t.delayMs,
        inIt.reduce((a, p) => a + p.ms, 0),
      );
      const done = { ...t, gcMs, gc: inIt.map((p) => `${p.kind} ${p.ms.toFixed(1)} ms${p.size ? ` (${p.size})` : ''}`) };
      return { ...done, cause: causeOf(done) };
    });
    for (const t of all) byCause[t.cause] = (byCause[t.cause] ?? 0) + 1;
    all.sort((a, b) => b.delayMs - a.delayMs);
    const out: SlowTurnReport = { over: this.over, byCause, top: all.slice(0, KEPT) };
    if (reset) {
      this.turns = [];
      this.over = 0;
      this.pauses = [];
    }
    return out;
  }
}

/** "12 over 40 ms (gc 3, run queue 8, work 1); the longest: ..." for the bench's log, one line a turn after the first. */
export function slowTurnLines(r: SlowTurnReport): string[] {
  const causes = Object.entries(r.byCause)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  if (r.over === 0) return [`no loop delay over ${SLOW_TURN_MS} ms`];
  return [`${r.over} loop delays over ${SLOW_TURN_MS} ms (by the largest part: ${causes}); the longest:`, ...r.top.map((t) => `  ${slowTurnLine(t)}`)];
}
