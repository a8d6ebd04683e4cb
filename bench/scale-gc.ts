// The coordinator's GC pauses during bench:scale (issue 14, session 13): per
// kind, how many, their total and their distribution, from perf_hooks 'gc'
// entries (the main thread's pause; concurrent marking and sweeping on V8's
// helper threads are not in them). A job of 100,000 tasks makes a few hundred
// entries: each is kept until the next reset for its percentiles.
import { constants, type NodeGCPerformanceDetail } from 'node:perf_hooks';

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

export interface GcSummary {
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

  add(kind: GcKind, ms: number): void {
    let l = this.pauses.get(kind);
    if (!l) this.pauses.set(kind, (l = []));
    l.push(ms);
  }

  reset(): void {
    this.pauses = new Map();
  }

  summary(): GcSummary {
    const out: GcSummary = { ms: 0, max: 0, maxKind: '', over50: 0, byKind: {} };
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
