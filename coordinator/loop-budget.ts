// One budget for the work of an event-loop iteration (issue 14: no stall over
// 50 ms). The coordinator's bounded parts (the input slice of the poll phase
// and the drain of waiting frames, the scheduler's passes, the outboxes'
// flush turns) were each bounded alone: 10 + 10 + 8 + 8 ms could run in one
// iteration, ~36 ms with their overshoots. Each part now also stops at the
// iteration's end (LOOP_MS after the first part began), but gets LOOP_FLOOR_MS
// whatever is left, so that every part makes progress in every iteration.
// A part shared by several callers (the input slice) is a LoopPart, reset at
// the same boundary: one 0 ms timer an iteration.
// The loop is the process's: the budget is one per process (a process may
// hold several coordinators, in tests and meshes), not one per coordinator.

import { performance as nodePerformance } from 'node:perf_hooks';

/** The work of one event-loop iteration, all bounded parts together (ms). */
export const LOOP_MS = 20;
/** What a part gets once the iteration's budget is spent (ms). */
export const LOOP_FLOOR_MS = 2;

/** The bounded parts of an iteration. */
export type LoopPartName = 'input' | 'pass' | 'flush';
const PART_NAMES = ['input', 'pass', 'flush'] as const;
/**
 * Where a long iteration's time went: its parts, from each part's start to its end; `before`, the loop's work
 * between the previous iteration's boundary and the first part (timers, socket reads and HTTP before the first
 * frame); `between`, the work after a part's end and before the next part or the boundary (socket reads and ws
 * parsing between frames, timers, immediates that are no part); `gc`, the GC pauses reported to gcPause(),
 * taken out of the column they fell in. Time the loop waited in its poll phase (idle) counts nowhere.
 */
export type LoopColumn = 'before' | LoopPartName | 'between' | 'gc';
const COLUMNS_CPU = ['before', ...PART_NAMES, 'between'] as const;
/** An iteration longer than this (its active time: `before`, then its first part to its boundary) is counted as long, with its time by column. */
export const LONG_ITERATION_MS = 50;
/** Part stamps kept for one iteration (a 10,000-node iteration reads hundreds of frames): past it, parts count as `between`. */
const MAX_SEGMENTS = 1024;
/** Long iterations kept for the GC pauses reported after them. */
const LONG_KEPT = 8;
/** Iterations are counted by length over each of these (ms): `overMs`, and `cpuOverMs` with a CPU clock (bench:scale's A/B of the budget). */
export const OVER_MS = [10, 15, 20, 25, 30, 40, 50] as const;

/** A long iteration's stamps, kept until its GC pauses are known. */
interface LongIteration {
  from: number;
  start: number;
  to: number;
  /** Part segments: [start, end] pairs, and their part (an index in PART_NAMES). */
  at: Float64Array;
  part: Uint8Array;
  n: number;
  /** A GC pause fell in it (counted once in `longWithGc`). */
  gc: boolean;
}

/** The loop's idle time so far (ms): the time it waited in the poll phase (libuv's idle-time metric). */
const loopIdle = (): number => nodePerformance.nodeTiming.idleTime;

export class LoopBudget {
  private end = 0;
  private armed = false;
  /** Iterations with a budget, and parts held to their floor because the iteration's budget was spent (for /api/stats and tests). */
  iterations = 0;
  floored = 0;
  /** Iterations over LONG_ITERATION_MS, the longest (ms, active time), and the time of those iterations by column (for bench:scale: where a long iteration went). */
  long = 0;
  longest = 0;
  readonly longByPart: Record<LoopColumn, number> = { before: 0, input: 0, pass: 0, flush: 0, between: 0, gc: 0 };
  /** Long iterations with at least one GC pause reported in them (bench:scale: how many of the stalls a GC was part of). */
  longWithGc = 0;
  private start = 0;
  private idleAtStart = 0;
  /** The previous iteration's boundary (performance.now() time, 0: none yet) and the loop's idle time then. */
  private boundary = 0;
  private idleAtBoundary = 0;
  private before = 0;
  /** This iteration's part segments; `open`: the part running now (-1: none), whose segment is the n-th. */
  private readonly at = new Float64Array(2 * MAX_SEGMENTS);
  private readonly part = new Uint8Array(MAX_SEGMENTS);
  private n = 0;
  private open = -1;
  private readonly kept: LongIteration[] = [];
  /**
   * A CPU clock (ms), when set (bench:scale's coordinator with SCALE_STALLS=1: the loop thread's): iterations are also
   * counted long by their CPU, with their CPU by column (GC in the column it ran in, idle costs none), a figure a
   * loaded machine does not inflate. Read at every part's start and end: not free.
   */
  cpuClock: (() => number) | null = null;
  cpuLong = 0;
  readonly cpuLongByPart: Record<Exclude<LoopColumn, 'gc'>, number> = { before: 0, input: 0, pass: 0, flush: 0, between: 0 };
  /** The iteration of most CPU (ms), and its CPU by column (cleared with cpuLongest = 0). */
  cpuLongest = 0;
  cpuLongestByPart: Record<Exclude<LoopColumn, 'gc'>, number> = { before: 0, input: 0, pass: 0, flush: 0, between: 0 };
  private readonly cpuAt = new Float64Array(2 * MAX_SEGMENTS);
  private cpuStart = 0;
  private cpuAtBoundary = 0;
  /** Iterations longer than OVER_MS[i] (active time), and with a CPU clock, of more loop-thread CPU than it: counts. */
  readonly overMs: number[] = OVER_MS.map(() => 0);
  readonly cpuOverMs: number[] = OVER_MS.map(() => 0);
  /** GC pauses reported while their iteration runs: [start, duration] pairs, matched at its boundary. */
  private pending: number[] = [];

  constructor(
    /** The iteration's budget (ms); bench:scale's SCALE_LOOP_MS sets another to measure it (issue 14, session 23). */
    public ms = LOOP_MS,
    readonly floor = LOOP_FLOOR_MS,
    /**
     * Runs `fn` at the start of the next iteration: a 0 ms timer fires in the next timers phase, after this
     * iteration's poll and check phases (setImmediate would run within this iteration's check phase).
     */
    private readonly later: (fn: () => void) => void = (fn) => void setTimeout(fn, 0).unref(),
    private readonly idle: () => number = loopIdle,
  ) {}

  /** The deadline (performance.now() time) of a part that may work `ms` alone: never past this iteration's end, but `floor` from now at least. */
  until(ms: number, now = performance.now(), part: LoopPartName = 'pass'): number {
    this.enter(part, now);
    if (this.end - now < this.floor && ms > this.floor) this.floored++;
    return Math.min(now + ms, Math.max(this.end, now + this.floor));
  }

  /** A part starts (or goes on) now: the iteration's first part arms the budget; another part running ends here. */
  enter(part: LoopPartName, now = performance.now()): void {
    if (!this.armed) this.arm(now);
    const k = PART_NAMES.indexOf(part);
    if (this.open === k) return;
    if (this.open >= 0) this.close(now);
    if (this.n === MAX_SEGMENTS) return;
    this.open = k;
    this.part[this.n] = k;
    this.at[2 * this.n] = now;
    if (this.cpuClock) this.cpuAt[2 * this.n] = this.cpuClock();
  }

  /** The running part ends now: what follows until the next part is `between` (socket reads, timers, GC). */
  done(now = performance.now()): void {
    if (this.open >= 0) this.close(now);
  }

  private close(now: number): void {
    this.at[2 * this.n + 1] = now;
    if (this.cpuClock) this.cpuAt[2 * this.n + 1] = this.cpuClock();
    this.n++;
    this.open = -1;
  }

  private arm(now: number): void {
    this.armed = true;
    this.iterations++;
    this.end = now + this.ms;
    this.later(this.reset);
    this.start = now;
    this.idleAtStart = this.idle();
    this.cpuStart = this.cpuClock?.() ?? 0;
    // The loop's work since the previous boundary, when it came here from there without waiting for input (else
    // the iteration began at an unknown moment of its poll phase: nothing counts before its first part).
    const fromBoundary = this.boundary > 0 && this.idleAtStart - this.idleAtBoundary < 1;
    this.before = fromBoundary ? now - this.boundary - (this.idleAtStart - this.idleAtBoundary) : 0;
    if (!fromBoundary) this.cpuAtBoundary = this.cpuStart;
    this.n = 0;
    this.open = -1;
  }

  /** A GC pause (a PerformanceObserver 'gc' entry: startTime, duration): taken out of the long iteration's column it fell in. */
  gcPause(start: number, duration: number): void {
    for (const it of this.kept) if (start >= it.from && start < it.to) return this.moveGc(it, start, duration);
    if (this.pending.length < 512) this.pending.push(start, duration);
  }

  /** Moves a pause's time from the column it began in (up to that column's stretch's end) to `gc`. */
  private moveGc(it: LongIteration, start: number, duration: number): void {
    if (!it.gc) {
      it.gc = true;
      this.longWithGc++;
    }
    let from: LoopColumn = 'between';
    let until = it.to;
    if (start < it.start) {
      from = 'before';
      until = it.start;
    } else
      for (let i = 0; i < it.n; i++) {
        if (start < it.at[2 * i]) {
          until = it.at[2 * i];
          break;
        }
        if (start < it.at[2 * i + 1]) {
          from = PART_NAMES[it.part[i]];
          until = it.at[2 * i + 1];
          break;
        }
      }
    const d = Math.max(0, Math.min(duration, until - start, this.longByPart[from]));
    this.longByPart[from] -= d;
    this.longByPart.gc += d;
  }

  /** This iteration's end, or Infinity when no part has begun in it. */
  get iterationEnd(): number {
    return this.armed ? this.end : Infinity;
  }

  /** Whether a part has begun in this iteration (its number is then `iterations`). */
  get inIteration(): boolean {
    return this.armed;
  }

  /** An iteration's CPU, from its previous boundary (when counted `before`) to this one: long past LONG_ITERATION_MS. */
  private cpuIteration(): void {
    const cpu = this.cpuClock!();
    const before = this.cpuStart - this.cpuAtBoundary;
    this.cpuAtBoundary = cpu;
    const total = before + cpu - this.cpuStart;
    countOver(this.cpuOverMs, total);
    if (total <= LONG_ITERATION_MS && total <= this.cpuLongest) return;
    const by = { before, input: 0, pass: 0, flush: 0, between: 0 };
    let parts = 0;
    for (let i = 0; i < this.n; i++) {
      const d = this.cpuAt[2 * i + 1] - this.cpuAt[2 * i];
      by[PART_NAMES[this.part[i]]] += d;
      parts += d;
    }
    by.between = Math.max(0, cpu - this.cpuStart - parts);
    if (total > this.cpuLongest) {
      this.cpuLongest = total;
      this.cpuLongestByPart = by;
    }
    if (total <= LONG_ITERATION_MS) return;
    this.cpuLong++;
    for (const k of COLUMNS_CPU) this.cpuLongByPart[k] += by[k];
  }

  private readonly reset = (): void => {
    this.armed = false;
    const now = performance.now();
    if (this.open >= 0) this.close(now);
    const idle = this.idle();
    const idleIn = idle - this.idleAtStart;
    const from = this.start - this.before;
    this.boundary = now;
    this.idleAtBoundary = idle;
    if (this.cpuClock) this.cpuIteration();
    const length = this.before + now - this.start - idleIn;
    if (length > this.longest) this.longest = length;
    countOver(this.overMs, length);
    const pending = this.pending;
    this.pending = [];
    if (length <= LONG_ITERATION_MS) return;
    this.long++;
    let parts = 0;
    for (let i = 0; i < this.n; i++) {
      const d = this.at[2 * i + 1] - this.at[2 * i];
      this.longByPart[PART_NAMES[this.part[i]]] += d;
      parts += d;
    }
    this.longByPart.before += this.before;
    this.longByPart.between += Math.max(0, now - this.start - idleIn - parts);
    const it: LongIteration = { from, start: this.start, to: now, at: this.at.slice(0, 2 * this.n), part: this.part.slice(0, this.n), n: this.n, gc: false };
    if (this.kept.push(it) > LONG_KEPT) this.kept.shift();
    for (let i = 0; i < pending.length; i += 2) if (pending[i] >= from && pending[i] < now) this.moveGc(it, pending[i], pending[i + 1]);
  };
}

/** Counts `ms` in each of `counts` whose OVER_MS threshold it passes. */
function countOver(counts: number[], ms: number): void {
  for (let i = 0; i < OVER_MS.length && ms > OVER_MS[i]; i++) counts[i]++;
}

/**
 * A part with a bound of its own per iteration that several callers share
 * (the input slice: frames read in the poll phase and the drain of waiting
 * frames in the check phase). Its bound is counted from its first use in an
 * iteration and ends with the iteration: the loop budget's boundary resets it,
 * so that an iteration has one boundary timer, not one per part.
 */
export class LoopPart {
  private end = 0;
  /** The loop iteration whose bound `end` is. */
  private iteration = -1;

  constructor(
    readonly ms: number,
    private readonly loop: LoopBudget = loopBudget,
    private readonly name: LoopPartName = 'input',
  ) {}

  /** This iteration's deadline for the part (performance.now() time): its own bound, the iteration's end, or its floor. */
  deadline(): number {
    const now = performance.now();
    const until = this.loop.until(this.ms, now, this.name);
    if (this.iteration !== this.loop.iterations) {
      this.iteration = this.loop.iterations;
      this.end = now + this.ms;
      return until;
    }
    return Math.min(this.end, this.loop.until(this.end - now, now, this.name));
  }

  /** The part starts (or goes on) now, before its deadline is asked: what it does before that (a frame's decode) counts as the part. */
  enter(): void {
    this.loop.enter(this.name);
  }

  /** The part ends now (loop-budget.ts `done`). */
  leave(): void {
    this.loop.done();
  }

  /** Whether the part's bound in this iteration is used up (its own, or the iteration's budget past the floor). */
  spent(): boolean {
    if (!this.loop.inIteration || this.iteration !== this.loop.iterations) return false;
    const now = performance.now();
    return now > this.end || now > this.loop.iterationEnd + this.loop.floor;
  }
}

/** The process's loop budget. */
export const loopBudget = new LoopBudget();
