// V8 heap of the coordinator process (issue 14; docs/decisions.md "The
// coordinator's heap grows by a bounded step" and "The coordinator gives its
// heap back once a burst of tasks is over").
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { constants, PerformanceObserver, type NodeGCPerformanceDetail } from 'node:perf_hooks';

/**
 * How much the old generation may grow past what survived the last full GC
 * before the next one, in percent. V8's own factor (up to 4x on a large heap)
 * let a coordinator that had run 100,000 tasks keep ~250 MB of garbage pages
 * until it was idle; since the compaction below gives them back once a burst
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

/** A burst is over when this many tasks ended since the last compaction and none in the last check. */
export const COMPACT_AFTER_TASKS = 10_000;
/** How often the coordinator's counters are read (two equal readings in a row, nothing in flight: idle). */
export const COMPACT_CHECK_MS = 250;
/**
 * Time between two GCs of a compaction: V8's background threads give freed pages back meanwhile,
 * and V8 shrinks the young generation at a GC only once its allocation rate over the last seconds is low.
 */
export const COMPACT_GAP_MS = 250;
/** At most this many scavenges a compaction after its first full GC (10 s); it ends sooner once the young generation is back. */
export const COMPACT_COLLECTIONS = 40;
/**
 * A series ends, without the compacting GC, once one of its full GCs held the loop longer than this: a
 * large heap (10,000 nodes' sessions: a plain full GC each 250 ms for 10 s took 70% of a core, measured
 * session 13) keeps what it has rather than stall the coordinator over and over. The compacting GC, which
 * moves every live object, runs only when the series' last full GC (the garbage gone: the live heap's
 * cost) took at most half of it.
 */
export const COMPACT_MAX_PAUSE_MS = 50;
/**
 * What a forced full GC is assumed to cost per MB of heap before this process measured one, and the most a
 * measurement counts for (ms per MB): 1.15-1.3 ms of CPU per MB from 22 to 394 MB of session-like objects
 * (docs/decisions.md, session 14). Without it the first burst of a 10,000-node coordinator ran its first GC
 * blind (84-127 ms, session 15); with it no series starts on a heap over ~43 MB until a GC measured faster,
 * and a GC slowed by a loaded machine (3-19 ms a MB measured: starvation) cannot stop series for good.
 */
export const COMPACT_PRIOR_MS_PER_MB = 1.15;
/** "Nothing in flight": at most this many task records left in the GCS. */
const IDLE_TASKS = 16;
/** The young generation is back to its start size when its semi-spaces take at most this much (V8 starts at 1 MiB). */
const YOUNG_SETTLED_BYTES = 2 << 20;

export interface TaskCounts {
  /** Tasks that ended so far (finished, failed or cancelled): only grows. */
  ended(): number;
  /** Task records the GCS holds now. */
  live(): number;
}

/** A GCS's task counters as a compaction reads them (the coordinator's Gcs, structurally). */
export function gcsTaskCounts(gcs: {
  readonly stats: { readonly tasksFinished: number; readonly tasksFailed: number; readonly tasksCancelled: number };
  readonly tasks: { readonly size: number };
}): TaskCounts {
  return { ended: () => gcs.stats.tasksFinished + gcs.stats.tasksFailed + gcs.stats.tasksCancelled, live: () => gcs.tasks.size };
}

/** What the compactions did so far (the coordinator's /api/stats: a bench waits for `heapCompactions` to move). */
export type CompactionStats = {
  /** Compactions that ran to their end (the heap compact, or COMPACT_COLLECTIONS scavenges). */
  heapCompactions: number;
  /** Compactions that new work stopped. */
  heapCompactionsStopped: number;
  /** Compactions ended early because a full GC held the loop over COMPACT_MAX_PAUSE_MS (no compacting GC). */
  heapCompactionsCut: number;
  /** The longest pause of a full GC of the last compaction, ms. */
  heapCompactionMaxGcMs: number;
  /** Full GCs of the last compaction. */
  heapCompactionGcs: number;
  /** Scavenges of the last compaction (forced while V8 shrinks its young generation back). */
  heapCompactionScavenges: number;
  /** From its first GC to its end, ms. */
  heapCompactionMs: number;
  /** The pause of its last GC, the one that moves every live object of the old generation into as few pages as it fills (ms). */
  heapCompactionLastGcMs: number;
  /** Bursts after which no series ran: at the pause per MB expected (heapCompactionMsPerMb), the series' first full GC would hold the loop over COMPACT_MAX_PAUSE_MS. */
  heapCompactionsSkipped: number;
  /** The pause per MB of heap expected of a series' first full GC (ms): the last series' first GC's, at most COMPACT_PRIOR_MS_PER_MB (that before any). */
  heapCompactionMsPerMb: number;
  /**
   * Bursts after which, no series being possible within the bound, V8's incremental mark-compact was started
   * instead: it marks on V8's helper threads and in short steps between the loop's callbacks, and holds the loop
   * once, briefly, at its end; the burst's garbage goes with it.
   */
  heapMarkingsStarted: number;
};

/** What a compaction reads and does (tests give their own). */
export interface CompactionHooks {
  /** How often the task counters are read (ms). */
  everyMs: number;
  /** A full GC, atomic: `true` compacts the whole old generation. */
  collect: (compact: boolean) => void;
  /** A scavenge (young generation only). */
  minor: () => void;
  /** The young generation is back to its start size. */
  settled: () => boolean;
  /** Between two full GCs of a series (ms). */
  gapMs: number;
  clock: () => number;
  /** What a full GC would mark (bytes): liveHeapBytes. */
  heapBytes: (() => number) & { stop?: () => void };
  /** Starts V8's incremental mark-compact (incrementalMarking). */
  mark: () => void;
}

export interface Compactor {
  stop(): void;
  stats(): CompactionStats;
}

/**
 * Once a burst of at least COMPACT_AFTER_TASKS tasks is over (the task table
 * near empty and no task ended since the last check), runs a full GC, then
 * scavenges COMPACT_GAP_MS apart until the heap is compact (`settled`: V8 shrank the
 * young generation back to its start size), at most COMPACT_COLLECTIONS, then
 * one that compacts the whole old generation (`collect(true)`); a
 * task ending or new tasks in the table meanwhile stop them. After 100,000 freed tasks V8 kept a young
 * generation at its 32 MB peak and the old generation's emptied pages: one
 * forced GC freed garbage and, once its background threads ran, the old
 * pages; V8 shrinks the young generation only at a GC that sees a low
 * allocation rate over the last seconds (measured: 3.5-6 s after the drain
 * with GCs 250 ms apart; 30 GCs 40 ms apart did not shrink it). Each pause
 * (1-20 ms measured) falls where nothing waits for the coordinator.
 * A heap whose first forced GC would hold the loop over COMPACT_MAX_PAUSE_MS
 * (10,000 nodes' sessions) gets no series: V8's incremental mark-compact is
 * started instead (`mark`), which frees the burst's garbage without a pause in
 * proportion to the heap (before: 500-700 MB RSS kept after the jobs at
 * 10,000 nodes, every burst's promoted records, until V8's own limit came).
 */
export function compactAfterBursts(counts: TaskCounts, hooks: Partial<CompactionHooks> = {}): Compactor {
  const {
    everyMs = COMPACT_CHECK_MS,
    collect = fullGc(),
    minor = minorGc(),
    settled = youngSettled,
    gapMs = COMPACT_GAP_MS,
    clock = () => performance.now(),
    heapBytes = liveHeapBytes(),
    mark = incrementalMarking(),
  } = hooks;
  let compactedAt = counts.ended();
  let last = compactedAt;
  const st: CompactionStats = {
    heapCompactions: 0,
    heapCompactionsStopped: 0,
    heapCompactionsCut: 0,
    heapCompactionMaxGcMs: 0,
    heapCompactionGcs: 0,
    heapCompactionScavenges: 0,
    heapCompactionMs: 0,
    heapCompactionLastGcMs: 0,
    heapCompactionsSkipped: 0,
    heapCompactionMsPerMb: COMPACT_PRIOR_MS_PER_MB,
    heapMarkingsStarted: 0,
  };
  const MB = 1 << 20;
  /** The pause per byte expected of a series' first full GC: the last first GC's, capped at the prior (a loaded machine only makes it longer). */
  let msPerByte = COMPACT_PRIOR_MS_PER_MB / MB;
  let series: ReturnType<typeof setTimeout> | null = null;
  const stopSeries = () => {
    if (series) clearTimeout(series);
    series = null;
  };
  const compact = (ended: number) => {
    const t0 = clock();
    let gcs = 0;
    let scavenges = 0;
    let maxPause = 0;
    let lastPause = 0;
    const ms = (from: number) => Math.round((clock() - from) * 10) / 10;
    /** A plain full GC, measured; false when it held the loop over the bound (the series ends there). */
    const full = (): boolean => {
      const bytes = heapBytes();
      const p0 = clock();
      collect(false);
      gcs++;
      lastPause = ms(p0);
      // The first GC of a series is the one the next burst's decision is about: the heap as the burst left it.
      if (gcs === 1 && bytes > 0 && lastPause > 0) {
        msPerByte = Math.min(COMPACT_PRIOR_MS_PER_MB / MB, lastPause / bytes);
        st.heapCompactionMsPerMb = Math.round(msPerByte * MB * 1000) / 1000;
      }
      maxPause = Math.max(maxPause, lastPause);
      st.heapCompactionMaxGcMs = maxPause;
      if (maxPause <= COMPACT_MAX_PAUSE_MS) return true;
      st.heapCompactionsCut++;
      st.heapCompactionGcs = gcs;
      st.heapCompactionMs = Math.round(clock() - t0);
      return false;
    };
    const step = () => {
      series = null;
      if (counts.ended() !== ended || counts.live() > IDLE_TASKS) {
        st.heapCompactionsStopped++;
        return;
      }
      // One full GC takes the burst's garbage; then scavenges until V8 shrinks the young generation (it decides
      // at any GC, a scavenge too: the same 11-12 GCs 250 ms apart either way, measured), each a few ms
      // where a full GC costs the whole heap (13 of up to 42 ms after a 100k job at 100 nodes, session 17).
      if (gcs === 0) {
        if (!full()) return;
      } else {
        minor();
        scavenges++;
      }
      if (scavenges < COMPACT_COLLECTIONS && !settled()) {
        series = setTimeout(step, gapMs);
        series.unref();
        return;
      }
      // The compacting GC moves every live object: only when the last plain one, the live heap's cost, was
      // short. The first also paid for the burst's garbage: when it was not short, one more plain one tells.
      if (lastPause > COMPACT_MAX_PAUSE_MS / 2 && gcs === 1 && !full()) return;
      if (lastPause <= COMPACT_MAX_PAUSE_MS / 2) {
        const t1 = clock();
        collect(true);
        gcs++;
        st.heapCompactionLastGcMs = ms(t1);
      } else st.heapCompactionLastGcMs = 0;
      st.heapCompactions++;
      st.heapCompactionGcs = gcs;
      st.heapCompactionScavenges = scavenges;
      st.heapCompactionMs = Math.round(clock() - t0);
    };
    step();
  };
  const timer = setInterval(() => {
    const ended = counts.ended();
    const quiet = ended === last && counts.live() <= IDLE_TASKS;
    last = ended;
    if (!quiet || series) return;
    if (ended - compactedAt >= COMPACT_AFTER_TASKS) {
      compactedAt = ended;
      // The first GC would stall the loop (10,000 nodes' sessions): keep what there is. Never forced blind: before
      // any measurement the prior rate decides; a rate measured slower than the prior counts as the prior.
      // Then V8's own incremental mark-compact takes the burst's garbage: no atomic pause in proportion to the heap.
      if (heapBytes() * msPerByte > COMPACT_MAX_PAUSE_MS) {
        st.heapCompactionsSkipped++;
        mark();
        st.heapMarkingsStarted++;
      } else compact(ended);
    }
  }, everyMs);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      stopSeries();
      heapBytes.stop?.();
    },
    stats: () => ({ ...st }),
  };
}

/**
 * What a full GC will have to mark, as far as this process can tell without one: the heap's used size just
 * after the last mark-compact (V8's own or a compaction's), or now when smaller (or when none ran yet). The
 * used size now would count a burst's garbage: bench:tasks' coordinator holds 48-66 MB used after 100,000
 * freed tasks, of which a full GC keeps ~20 MB (its first GC of a series: 1-25 ms), and at 1.15 ms/MB of it
 * no series ran (RSS 156 MB instead of < 100, session 16). The cost of a full GC follows what it marks.
 */
export function liveHeapBytes(): (() => number) & { stop: () => void } {
  let afterMajor = 0;
  const used = () => getHeapStatistics().used_heap_size;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e as unknown as { detail?: NodeGCPerformanceDetail }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) afterMajor = used();
  });
  obs.observe({ entryTypes: ['gc'] });
  return Object.assign(() => (afterMajor > 0 ? Math.min(afterMajor, used()) : used()), { stop: () => obs.disconnect() });
}

/**
 * Starts V8's incremental mark-compact now, the one V8 starts by itself when the old generation nears its
 * limit: marking on V8's helper threads and in steps of a millisecond or so between the loop's callbacks,
 * then one short atomic pause that ends it (a forced full GC marks the whole heap in one pause: 84-127 ms
 * at 10,000 nodes). V8 checks its marking limit after each scavenge; with `--incremental-marking-hard-trigger=1`
 * the limit is "1% of the way from what the last mark-compact kept to the old generation's limit", so one
 * scavenge forced with the flag set starts marking when the old generation grew since (a burst's promoted
 * garbage) and does nothing otherwise. The flag is set for that scavenge alone.
 */
export function incrementalMarking(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (o: { type: 'minor' }) => void;
  return () => {
    setFlagsFromString('--incremental-marking-hard-trigger=1');
    try {
      gc({ type: 'minor' });
    } finally {
      setFlagsFromString('--incremental-marking-hard-trigger=0');
    }
  };
}

/** V8's young generation (new space) is back to its start size. */
function youngSettled(): boolean {
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return young !== undefined && young.space_size <= YOUNG_SETTLED_BYTES;
}

/** V8's scavenge, forced (`--expose-gc`'s gc with `type: 'minor'`). */
function minorGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (o: { type: 'minor' }) => void;
  return () => gc({ type: 'minor' });
}

/**
 * V8's full GC, reached through `--expose-gc` set at run time: the flag only
 * makes `gc` a global of contexts created after it, so one new context provides it.
 * `compact`: with `--compact-on-every-full-gc` for that one GC. V8 otherwise
 * evacuates only its most fragmented pages: after 100,000 freed tasks the old
 * generation kept 25 MB of pages for 20 MB of objects (bench:tasks, session 13);
 * compacted, 21 MB. V8 reads the flag when a mark-compact starts.
 */
function fullGc(): (compact: boolean) => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return (compact) => {
    if (!compact) return gc();
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      gc();
    } finally {
      setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}
