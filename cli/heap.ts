// V8 heap of the coordinator process (issue 14; docs/decisions.md "The
// coordinator's heap grows by a bounded step" and "The coordinator gives its
// heap back once a burst of tasks is over").
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

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

/** A burst is over when this many tasks ended since the last compaction and none in the last check. */
export const COMPACT_AFTER_TASKS = 10_000;
/** How often the coordinator's counters are read (two equal readings in a row: quiet). */
export const COMPACT_CHECK_MS = 1000;
/** Full GCs run once a burst is over, one per quiet check. */
export const COMPACT_COLLECTIONS = 10;
/** "Nothing in flight": at most this many task records left in the GCS. */
const IDLE_TASKS = 16;

export interface TaskCounts {
  /** Tasks that ended so far (finished, failed or cancelled): only grows. */
  ended(): number;
  /** Task records the GCS holds now. */
  live(): number;
}

/**
 * Once a burst of at least COMPACT_AFTER_TASKS tasks is over (the task table
 * near empty and no task ended since the last check), runs a full GC at each
 * of the next COMPACT_COLLECTIONS quiet checks; a new task ending stops them.
 * V8 kept the pages a burst grew (after 100,000 freed tasks: a 92-100 MB heap
 * holding 39 MB, the young generation at its 32 MB peak) for as long as the
 * coordinator's timers kept it from looking idle; one forced GC freed garbage
 * but gave nothing back, and V8 shrank the young generation (32 -> 1 MB) only
 * after about six GCs in a row with little surviving. Each pause (1-20 ms
 * measured) falls where nothing waits for the coordinator. Returns the stop.
 */
export function compactAfterBursts(counts: TaskCounts, everyMs = COMPACT_CHECK_MS, collect: () => void = fullGc()): () => void {
  let compactedAt = counts.ended();
  let last = compactedAt;
  let left = 0;
  const timer = setInterval(() => {
    const ended = counts.ended();
    const quiet = ended === last && counts.live() <= IDLE_TASKS;
    last = ended;
    if (!quiet) {
      left = 0;
      return;
    }
    if (left === 0 && ended - compactedAt >= COMPACT_AFTER_TASKS) {
      compactedAt = ended;
      left = COMPACT_COLLECTIONS;
    }
    if (left > 0) {
      left--;
      collect();
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * V8's full GC, reached through `--expose-gc` set at run time: the flag only
 * makes `gc` a global of contexts created after it, so one new context provides it.
 */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => gc();
}
