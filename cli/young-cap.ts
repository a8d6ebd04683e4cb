// A ceiling on the coordinator's young generation, set at run time (issue 14: no loop stall over 50 ms).
// While a burst runs, most task records a scavenge meets are alive, so a scavenge's pause follows what the
// semi-space holds: at 10,000 nodes V8's 16 MB semi-space copied and promoted 4.3-4.6 MB a scavenge (24-28 ms
// p50 under load), 8 MB half of that (session 21). V8 reads --max-semi-space-size only when it sets its heap up
// (a second process would be needed, sessions 13 and 18), but it reads --semi-space-growth-factor at each
// growth: the young generation grows to min(V8's ceiling, factor x its size). So after each GC the factor is
// set to what reaches the cap and no further, 1 once it is there (V8 then keeps its size).
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { YOUNG_GROWTH_FACTOR } from './heap-flags.js';

/** The coordinator's semi-space ceiling by default (MB): half of V8's 16 on 64-bit. */
export const DEFAULT_YOUNG_MB = 8;

/** V8's pages (bytes): a semi-space's capacity is a whole number of them. */
const PAGE = 256 * 1024;

/**
 * One semi-space of the young generation now (bytes): what it holds and has left, up to a whole page. Not
 * half of `space_size`: that counts the from-space once it is committed, not before the first scavenge.
 */
export function semiSpaceBytes(): number {
  const s = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  return s ? Math.ceil((s.space_used_size + s.space_available_size) / PAGE) * PAGE : 0;
}

/** The growth factor that takes a semi-space of `semi` bytes to at most `cap` bytes at its next growth: 1 at or past it. */
export function growthFactorFor(semi: number, cap: number): number {
  if (!(semi > 0)) return 1;
  return Math.max(1, Math.min(YOUNG_GROWTH_FACTOR, Math.floor(cap / semi)));
}

/**
 * Keeps V8's semi-space at or under `mb` MB from now on (0: V8's own ceiling, nothing installed). Returns
 * a stop function; `factor()` is the growth factor set last. Replaces setYoungGrowth's fixed factor: a
 * compaction's 1 MB regrows in one step to the cap.
 */
export function capYoungGeneration(mb: number): { stop: () => void; factor: () => number } {
  if (!Number.isInteger(mb) || mb < 0 || mb > 64) throw new RangeError(`young generation cap must be whole MB in 0..64, got ${mb}`);
  if (mb === 0) return { stop: () => {}, factor: () => 0 };
  const cap = mb * 2 ** 20;
  let set = 0;
  const apply = (): void => {
    const f = growthFactorFor(semiSpaceBytes(), cap);
    if (f === set) return;
    set = f;
    setFlagsFromString(`--semi-space-growth-factor=${f}`);
  };
  apply();
  // After each GC (a scavenge grows the young generation, a memory-reducing GC shrinks it): growth takes
  // survivors past its size since the last growth, at least one scavenge later, so the factor is in time.
  const obs = new PerformanceObserver(apply);
  obs.observe({ entryTypes: ['gc'] });
  return { stop: () => obs.disconnect(), factor: () => set };
}
