// How far the coordinator's V8 heap grows (issue 14; docs/decisions.md "The coordinator's heap grows by a
// bounded step", "The young generation regrows in one step after a compaction").
import { setFlagsFromString } from 'node:v8';

/**
 * How much the old generation may grow past what survived the last full GC
 * before the next one, in percent. V8's own factor (up to 4x on a large heap)
 * let a coordinator that had run 100,000 tasks keep ~250 MB of garbage pages
 * until it was idle; since the compaction (cli/heap.ts) gives them back once a burst
 * is over, the step only bounds the peak: 20% cost the coordinator's GC threads
 * 17 ms CPU per 1,000 tasks against 9-10 at 100% and 6 at V8's own (session 9,
 * alternating runs at load 11-16), for 146 / 157 / 201 MB at the drain and
 * 97-99 / 97 / 103 MB once compacted.
 */
export const DEFAULT_HEAP_GROWTH_PERCENT = 100;

/**
 * Sets V8's heap growing factor to 1 + percent/100; 0 leaves V8's own.
 * V8 reads this flag each time it sizes the heap after a GC, so setting it
 * once the process runs takes effect from the next collection.
 */
export function setHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) throw new RangeError(`heap growth must be an integer percent in 0..1000, got ${percent}`);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/**
 * How many times over the young generation grows at a scavenge that finds it too small (V8's own: 2). A
 * compaction (below) leaves it at its start size, 1 MB; the next burst, whose objects mostly survive, then
 * scavenged every ~1 MB until eight doublings later: bench:tasks' first round after the warm-up's compaction
 * ran 19 scavenges where the others ran 4-6, 0.5-1 s more of the coordinator's GC (issue 14, session 17).
 * At 16 one growth reaches V8's ceiling (16 MB semi-spaces on 64-bit). Growth needs survivors: idle
 * garbage (keepalives) does not grow it, and the next compaction shrinks it again. V8 reads the flag at each
 * growth, so setting it at run time works (test/unit/heap-compact.test.ts).
 */
export const YOUNG_GROWTH_FACTOR = 16;

/** Sets how many times over V8's young generation grows when it grows (V8's --semi-space-growth-factor). */
export function setYoungGrowth(factor = YOUNG_GROWTH_FACTOR): void {
  if (!Number.isInteger(factor) || factor < 2 || factor > 64) throw new RangeError(`young generation growth must be an integer in 2..64, got ${factor}`);
  setFlagsFromString(`--semi-space-growth-factor=${factor}`);
}
