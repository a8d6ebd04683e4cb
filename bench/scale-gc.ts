// The coordinator's GC pauses during bench:scale (issue 14, session 13): per
// kind, how many, their total and their distribution, from perf_hooks 'gc'
// entries (the main thread's pause; concurrent marking and sweeping on V8's
// helper threads are not in them). A job of 100,000 tasks makes a few hundred
// entries: each is kept until the next reset for its percentiles.
import { constants, type NodeGCPerformanceDetail } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics, type GCProfilerResult } from 'node:v8';
import { DEFAULT_HEAP_GROWTH_PERCENT } from '../cli/heap-flags.js';

/**
 * The coordinator's heap growth in bench:scale (SCALE_HEAP_GROWTH, percent; 0: V8's own): by default what
 * `tabmesh coordinator` sets (cli/heap-flags.ts), since session 24. With V8's own, the bench's forced "live heap"
 * GCs (and V8's memory reducer on any idle coordinator) leave an old-generation limit ~1.1-1.25x of what lives,
 * and a job's task records, pretenured into old space, crossed it 2-3 times in a 20,000-task job at 10,000 nodes:
 * mark-compacts of 26-47 ms, the worst iteration of a run at load 2 (docs/decisions.md, session 24).
 */
export function heapGrowthFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_HEAP_GROWTH_PERCENT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 1000) throw new Error(`SCALE_HEAP_GROWTH: a whole percent from 0 (V8's own) to 1000, got ${value}`);
  return n;
}

/** Scavenges (minor), mark-compacts (major), incremental marking steps, weak callbacks. */
export type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb' | 'other';

const KINDS: Record<number, GcKind> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** The kind of a 'gc' PerformanceEntry (its detail.kind). */
export const gcKind = (e: PerformanceEntry): GcKind => KINDS[(e as unknown as { detail?: NodeGCPerformanceDetail }).detail?.kind ?? -1] ?? 'other';

/** Pauses of one kind since the last reset (ms). */
export interface GcKindSummary {
  n: number;
  ms: number;
  p50: number;
  p90: number;
  max: number;
}

/**
 * What the heap's bytes did, from V8's own statistics before and after each GC (v8.GCProfiler): counts, the
 * same on a loaded machine as on a quiet one, where pauses are not (session 20). A scavenge's pause follows
 * what it copies and promotes; how often one comes follows what is allocated.
 */
export interface GcBytes {
  /** Bytes allocated: the heap's used size before each GC less after the one before, and since the last one. */
  allocated: number;
  /** Bytes scavenges kept in the young generation (copied within it). */
  copied: number;
  /** Bytes scavenges moved to the old generation. */
  promoted: number;
  scavenges: number;
}

type GcStat = GCProfilerResult['statistics'][number];
type GcSide = GcStat['beforeGC'];
const spaceUsed = (side: GcSide, name: string): number => side.heapSpaceStatistics.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0;

/** Adds what `stats` (one GCProfiler's, in order) say to `into`: the heap's used size was `fromUsed` at their start and is `nowUsed` at their end. */
export function addGcBytes(into: GcBytes, stats: readonly GcStat[], fromUsed: number, nowUsed: number): GcBytes {
  let last = fromUsed;
  for (const s of stats) {
    into.allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - last);
    last = s.afterGC.heapStatistics.usedHeapSize;
    if (s.gcType !== 'Scavenge') continue;
    into.scavenges++;
    into.copied += spaceUsed(s.afterGC, 'new_space');
    into.promoted += Math.max(0, spaceUsed(s.afterGC, 'old_space') - spaceUsed(s.beforeGC, 'old_space'));
  }
  into.allocated += Math.max(0, nowUsed - last);
  return into;
}

const noBytes = (): GcBytes => ({ allocated: 0, copied: 0, promoted: 0, scavenges: 0 });

export interface GcSummary {
  /** Since the last reset, when the tally counts bytes (countBytes). */
  bytes?: GcBytes;
  /** All kinds together. */
  ms: number;
  max: number;
  maxKind: GcKind | '';
  /** Pauses over 50 ms (the loop-delay target). */
  over50: number;
  byKind: Partial<Record<GcKind, GcKindSummary>>;
}

/** The q-quantile of ascending `s` (nearest rank). */
const quantile = (s: number[], q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];

export class GcTally {
  private pauses = new Map<GcKind, number[]>();
  private prof: GCProfiler | null = null;
  private fromUsed = 0;
  private bytes = noBytes();

  /** From now on, the summaries hold the heap's bytes by GC (GcBytes). */
  countBytes(): void {
    this.prof = new GCProfiler();
    this.prof.start();
    this.fromUsed = getHeapStatistics().used_heap_size;
  }

  /** What the profiler saw since it started, added; it starts again. */
  private takeBytes(): void {
    if (!this.prof) return;
    const stats = this.prof.stop().statistics;
    const now = getHeapStatistics().used_heap_size;
    addGcBytes(this.bytes, stats, this.fromUsed, now);
    this.countBytes();
  }

  add(kind: GcKind, ms: number): void {
    let l = this.pauses.get(kind);
    if (!l) this.pauses.set(kind, (l = []));
    l.push(ms);
  }

  reset(): void {
    this.pauses = new Map();
    this.takeBytes();
    this.bytes = noBytes();
  }

  summary(): GcSummary {
    this.takeBytes();
    const out: GcSummary = { ms: 0, max: 0, maxKind: '', over50: 0, byKind: {}, ...(this.prof ? { bytes: { ...this.bytes } } : {}) };
    for (const [kind, l] of this.pauses) {
      const s = [...l].sort((a, b) => a - b);
      const ms = s.reduce((a, b) => a + b, 0);
      const max = s[s.length - 1];
      out.byKind[kind] = { n: s.length, ms, p50: quantile(s, 0.5), p90: quantile(s, 0.9), max };
      out.ms += ms;
      out.over50 += s.length - s.filter((d) => d <= 50).length;
      if (max > out.max) {
        out.max = max;
        out.maxKind = kind;
      }
    }
    return out;
  }
}

/** "minor 120 x p50 3.1 p90 8.0 max 21.4 ms (412 ms); major 3 x ...": a summary for the bench's log. */
export function gcLine(g: GcSummary): string {
  const kinds = Object.entries(g.byKind).map(
    ([k, s]) => `${k} ${s.n} x p50 ${s.p50.toFixed(1)} p90 ${s.p90.toFixed(1)} max ${s.max.toFixed(1)} ms (${Math.round(s.ms)} ms)`,
  );
  return kinds.length ? kinds.join('; ') : 'none';
}

/** "allocated 3,812 B, copied 512 B, promoted 488 B a task; 26 scavenges, 3.9 MB copied and promoted each": per task of `tasks`. */
export function gcBytesLine(b: GcBytes, tasks: number): string {
  const per = (x: number) => `${Math.round(x / tasks).toLocaleString('en-US')} B`;
  const each = b.scavenges ? ((b.copied + b.promoted) / b.scavenges / (1 << 20)).toFixed(1) : '0';
  return `allocated ${per(b.allocated)}, copied ${per(b.copied)}, promoted ${per(b.promoted)} a task; ${b.scavenges} scavenges, ${each} MB copied and promoted each`;
}
