// V8 heap growth of the coordinator process (issue 14; docs/decisions.md
// "The coordinator's heap grows by a bounded step").
import { setFlagsFromString } from 'node:v8';

/**
 * How much the old generation may grow past what survived the last full GC
 * before the next one, in percent. V8's own factor (up to 4x on a large heap)
 * let a coordinator that had run 100,000 tasks keep ~250 MB of garbage pages;
 * the task path's records live seconds, so a smaller step costs a few more
 * full GCs and returns to near the idle size.
 */
export const DEFAULT_HEAP_GROWTH_PERCENT = 20;

/**
 * Sets V8's heap growing factor to 1 + percent/100; 0 leaves V8's own.
 * V8 reads this flag each time it sizes the heap after a GC, so setting it
 * once the process runs takes effect from the next collection.
 */
export function setHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) throw new RangeError(`heap growth must be an integer percent in 0..1000, got ${percent}`);
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
