// Where the coordinator's long synchronous sections come from (issue 14: no
// stall over 50 ms). The loop budget (loop-budget.ts) splits a long iteration
// by its bounded parts; what runs outside them (`between`: socket reads, timers,
// immediates, GC) it cannot name. This probe can: every callback the event loop
// runs (a timer, an immediate, a socket's read, an HTTP request) starts a
// section, which ends when the next one starts; its microtasks and ticks count
// with it. Per section: the loop thread's CPU, wall time, what ran (the callback, or the
// handle's kind) and what it did (frames and messages in by kind, frames out,
// tasks assigned, nodes given work); the longest by CPU are kept, and the turn
// (loop iteration) of most CPU with its sections grouped by what ran.
// Off unless started (bench:scale's coordinator, SCALE_STALLS=1): async hooks and
// a getrusage per callback cost a few percent at 10,000 nodes.
import { openSync, readSync } from 'node:fs';
import { createHook, executionAsyncResource, type AsyncHook } from 'node:async_hooks';
import { PerformanceObserver } from 'node:perf_hooks';
import { KINDS, traffic } from './traffic.js';

/** Sections kept, the longest by CPU. */
const TOP = 8;
/** GC pauses kept for matching sections (start, duration). */
const GC_KEPT = 256;
/** What ran, grouped, shown for the worst turn. */
const TURN_GROUPS = 6;

/** A section's counts: frames in (keepalives apart), messages in, frames out, tasks assigned, nodes given work. */
const COUNTS = ['framesIn', 'keepalivesIn', 'msgsIn', 'framesOut', 'assigned', 'nodeTurns'] as const;
type CountName = (typeof COUNTS)[number];

export interface Section {
  /** What ran: `callback <fn>` (a timer's or an immediate's: its name, else its first characters), or the resource's class (`TCP`, `HTTPServerAsyncResource`...). */
  what: string;
  cpuMs: number;
  wallMs: number;
  /** GC pauses within it (ms, wall). */
  gcMs: number;
  counts: Record<CountName, number>;
  /** Messages in by kind (the kinds seen). */
  kinds: Record<string, number>;
}

export interface TurnReport {
  cpuMs: number;
  wallMs: number;
  sections: number;
  /** Its sections grouped by what ran, the largest CPU first. */
  by: { what: string; n: number; cpuMs: number }[];
}

export interface StallReport {
  sections: number;
  turns: number;
  /** Turns over 50 ms of CPU. */
  turnsOver50: number;
  top: Section[];
  worstTurn: TurnReport | null;
}

/**
 * CPU time of this thread (ms): what the loop itself ran, without the GC helper and compiler threads that
 * process.cpuUsage() counts too (a section of no wall time read 25 ms of process CPU). Linux's schedstat, in ns,
 * read through a descriptor kept open (~5 µs a read); process CPU elsewhere.
 */
export const threadCpuMs: () => number = (() => {
  const processCpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return processCpu;
  }
  const buf = Buffer.alloc(64);
  return () => {
    const n = readSync(fd, buf, 0, 64, 0);
    let ns = 0;
    for (let i = 0; i < n; i++) {
      const c = buf[i];
      if (c < 48 || c > 57) break;
      ns = ns * 10 + (c - 48);
    }
    return ns / 1e6;
  };
})();
const cpuMs = threadCpuMs;
const counter = (i: number): number => {
  switch (COUNTS[i]) {
    case 'framesIn':
      return traffic.nodeFramesIn + traffic.framesIn;
    case 'keepalivesIn':
      return traffic.keepalivesIn;
    case 'msgsIn':
      return traffic.msgsInAll;
    case 'framesOut':
      return traffic.nodeFramesOut + traffic.framesOut;
    case 'assigned':
      return traffic.outOf('assign');
    case 'nodeTurns':
      return traffic.nodeTurns;
  }
};

/** The callback of a resource: what a timer or an immediate runs, else the resource's class. */
function ranOf(r: object): object {
  const t = r as { _onTimeout?: unknown; _onImmediate?: unknown };
  if (typeof t._onTimeout === 'function') return t._onTimeout as object;
  if (typeof t._onImmediate === 'function') return t._onImmediate as object;
  return r.constructor ?? Object;
}
function label(ran: object): string {
  if (typeof ran !== 'function') return 'other';
  if (/^class\s|^function [A-Z]/.test(String(ran).slice(0, 12)) || /^[A-Z]/.test(ran.name)) return ran.name;
  const src = String(ran).replace(/\s+/g, ' ');
  return `callback ${ran.name || src.slice(0, 60)}`;
}

export class StallProbe {
  private hook: AsyncHook | null = null;
  private gc: PerformanceObserver | null = null;
  private depth = 0;
  /** The open section: what ran, when it began (CPU, wall), and the counts then. */
  private ran: object | null = null;
  private cpu0 = 0;
  private wall0 = 0;
  private readonly counts0 = new Float64Array(COUNTS.length);
  private readonly kinds0 = new Float64Array(KINDS.length);
  private top: (Section & { at: number })[] = [];
  private sections = 0;
  /** The open turn: its start (CPU, wall), sections, and CPU by what ran. */
  private turnOpen = false;
  private turnCpu0 = 0;
  private turnWall0 = 0;
  private turnSections = 0;
  private turnBy = new Map<object, { n: number; cpuMs: number }>();
  private turns = 0;
  private turnsOver50 = 0;
  private worst: TurnReport | null = null;
  private readonly gcs: number[] = [];
  /** The turn's end: an immediate runs in the check phase, after the poll phase's callbacks. */
  private readonly turnEnd = (): void => this.endTurn();

  start(): void {
    if (this.hook) return;
    this.hook = createHook({ before: () => this.before(), after: () => void this.depth-- });
    this.hook.enable();
    this.gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (this.gcs.length >= 2 * GC_KEPT) this.gcs.splice(0, 2);
        this.gcs.push(e.startTime, e.duration);
      }
    });
    this.gc.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.hook?.disable();
    this.gc?.disconnect();
    this.hook = null;
    this.gc = null;
  }

  private before(): void {
    if (this.depth++ > 0) return;
    const r = executionAsyncResource();
    // Promise reactions and ticks run after their callback: part of its section.
    if (r instanceof Promise || r.constructor === Object) return;
    const ran = ranOf(r);
    if (ran === this.turnEnd) return;
    const cpu = cpuMs();
    const wall = performance.now();
    if (this.ran) this.close(cpu, wall);
    this.ran = ran;
    this.cpu0 = cpu;
    this.wall0 = wall;
    for (let i = 0; i < COUNTS.length; i++) this.counts0[i] = counter(i);
    traffic.copyIn(this.kinds0);
    if (!this.turnOpen) {
      this.turnOpen = true;
      this.turnCpu0 = cpu;
      this.turnWall0 = wall;
      setImmediate(this.turnEnd);
    }
  }

  /** The open section ends (the next one starts, or its turn ends). */
  private close(cpu: number, wall: number): void {
    const ran = this.ran!;
    this.ran = null;
    const d = cpu - this.cpu0;
    this.sections++;
    this.turnSections++;
    const g = this.turnBy.get(ran);
    if (g) {
      g.n++;
      g.cpuMs += d;
    } else this.turnBy.set(ran, { n: 1, cpuMs: d });
    if (this.top.length === TOP && d <= this.top[TOP - 1].cpuMs) return;
    const counts = {} as Record<CountName, number>;
    for (let i = 0; i < COUNTS.length; i++) counts[COUNTS[i]] = counter(i) - this.counts0[i];
    const now = new Float64Array(KINDS.length);
    traffic.copyIn(now);
    const kinds: Record<string, number> = {};
    for (let i = 0; i < KINDS.length; i++) if (now[i] > this.kinds0[i]) kinds[KINDS[i]] = now[i] - this.kinds0[i];
    this.top.push({ what: label(ran), cpuMs: d, wallMs: wall - this.wall0, gcMs: 0, counts, kinds, at: this.wall0 });
    this.top.sort((a, b) => b.cpuMs - a.cpuMs);
    if (this.top.length > TOP) this.top.length = TOP;
  }

  private endTurn(): void {
    const cpu = cpuMs();
    const wall = performance.now();
    if (this.ran) this.close(cpu, wall);
    this.turnOpen = false;
    this.turns++;
    const d = cpu - this.turnCpu0;
    if (d > 50) this.turnsOver50++;
    if (!this.worst || d > this.worst.cpuMs) {
      const by = [...this.turnBy].map(([ran, g]) => ({ what: label(ran), n: g.n, cpuMs: g.cpuMs }));
      by.sort((a, b) => b.cpuMs - a.cpuMs);
      this.worst = { cpuMs: d, wallMs: wall - this.turnWall0, sections: this.turnSections, by: by.slice(0, TURN_GROUPS) };
    }
    this.turnBy = new Map();
    this.turnSections = 0;
  }

  /** What was seen since the last reset (GC pauses matched to the sections they fell in); `reset` starts over. */
  report(reset: boolean): StallReport {
    const top = this.top.map(({ at, ...s }) => {
      let gc = 0;
      for (let i = 0; i < this.gcs.length; i += 2) {
        const from = Math.max(at, this.gcs[i]);
        const to = Math.min(at + s.wallMs, this.gcs[i] + this.gcs[i + 1]);
        if (to > from) gc += to - from;
      }
      return { ...s, gcMs: gc };
    });
    const r: StallReport = { sections: this.sections, turns: this.turns, turnsOver50: this.turnsOver50, top, worstTurn: this.worst };
    if (reset) {
      this.top = [];
      this.sections = 0;
      this.turns = 0;
      this.turnsOver50 = 0;
      this.worst = null;
    }
    return r;
  }
}

/** The process's probe (off until started). */
export const stallProbe = new StallProbe();
