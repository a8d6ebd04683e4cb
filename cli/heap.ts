// When the coordinator gives its V8 heap back (issue 14; docs/decisions.md "The coordinator gives its heap
// back once a burst of tasks is over"): the policy. How the heap is sized: cli/heap-flags.ts; the
// collections it forces: cli/gc.ts.
import { fullGc, incrementalMarking, liveHeapBytes, minorGc, oldSpare, residentBytes, youngSettled, type GcMove } from './gc.js';

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
 * The loop's bound: a series runs only on a heap whose forced full GCs are expected within it, and ends with
 * the compacting GC only when that one is expected within it too. Expected from the heap's bytes, never from
 * a pause read on the clock (issue 14, session 20): under load a full GC of bench:tasks' 23 MB read 52-307 ms
 * (27 quiet), and a rule that stopped a series at its first pause over the bound left the young generation at
 * its peak and the old generation's pages kept: RSS after 100,000 freed tasks 131-154 MB in 4 of 7 runs on a
 * loaded machine, 91-100 in the others.
 */
export const COMPACT_MAX_PAUSE_MS = 50;
/**
 * What a forced full GC is expected to cost per MB of what it marks: 1.15-1.3 ms of CPU per MB from 22 to 394
 * MB of session-like objects (docs/decisions.md, session 14). No series starts on a heap over ~43 MB (10,000
 * nodes' sessions: 84-127 ms, session 15); those get V8's incremental marking instead.
 */
export const COMPACT_MS_PER_MB = 1.15;
/**
 * What the compacting GC (`--compact-on-every-full-gc`: it moves every live object) is expected to cost per MB
 * of what it marks: ~3x a plain one (process CPU of forced GCs of 21-31 MB of task-like records, 160-226 ms
 * against 53-66; bench:tasks' 24 MB quiet 59-82 ms, session 19). It runs on a heap of at most ~14 MB; a larger
 * one ends its series with a plain full GC (bench:tasks: 3.5 MB more pages kept, 1-2 MB of RSS).
 */
export const COMPACT_MOVE_MS_PER_MB = 3.5;
/**
 * What a last GC that does not move every object moves at most (MB): V8's quota when it saves memory (`'fragmented'`,
 * cli/gc.ts), paid at the compacting rate on top of the plain one. bench:tasks after 100,000 freed tasks (~22 MB):
 * old space 23.3-24.0 MB of pages for 18.8 MB of objects with a plain last GC, 19.5-20.3 with it (issue 14, session 25).
 */
export const COMPACT_FRAGMENTED_MB = 6;
/**
 * A second marking only when the old generation holds at least this much in unused pages (bytes): 10,000
 * nodes after their jobs kept 130-145 MB of them for 104 MB of objects (session 18).
 */
export const COMPACT_SPARE_BYTES = 64 << 20;
/**
 * A compaction is counted once the process's RSS fell by less than this over a COMPACT_GAP_MS after its last GC
 * (at most COMPACT_UNMAP_WAITS gaps): V8 gives the pages a GC freed back to the OS on its helper threads, which a
 * loaded machine starves. bench:tasks read 111.5 MB at the report and 88.0 one second later (load 3.6, session 25).
 */
export const COMPACT_UNMAP_BYTES = 1 << 20;
export const COMPACT_UNMAP_WAITS = 8;
/** "Nothing in flight": at most this many task records left in the GCS. */
const IDLE_TASKS = 16;

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
  /** Compactions whose last GC compacted the whole old generation (a heap small enough for it: COMPACT_MOVE_MS_PER_MB). */
  heapCompactionsMoved: number;
  /** Compactions whose last GC moved the objects of the old generation's fragmented pages (COMPACT_FRAGMENTED_MB); the others end with a plain one. */
  heapCompactionsFragmented: number;
  /** The longest pause of a full GC of the last compaction, ms. */
  heapCompactionMaxGcMs: number;
  /** Full GCs of the last compaction. */
  heapCompactionGcs: number;
  /** Scavenges of the last compaction (forced while V8 shrinks its young generation back). */
  heapCompactionScavenges: number;
  /** From its first GC to its end, ms. */
  heapCompactionMs: number;
  /** The pause of its last GC (ms): the compacting one, which moves every live object of the old generation into as few pages as it fills, or a plain one. */
  heapCompactionLastGcMs: number;
  /** Bursts after which no series ran: at COMPACT_MS_PER_MB, the series' first full GC would hold the loop over COMPACT_MAX_PAUSE_MS. */
  heapCompactionsSkipped: number;
  /** The pause per MB of heap the last series' first full GC took (ms, by the clock: a loaded machine reads 2-10x): shown, not used (COMPACT_MS_PER_MB decides). */
  heapCompactionMsPerMb: number;
  /**
   * Bursts after which, no series being possible within the bound, V8's incremental mark-compact was started
   * instead: it marks on V8's helper threads and in short steps between the loop's callbacks, and holds the loop
   * once, briefly, at its end; the burst's garbage goes with it.
   */
  heapMarkingsStarted: number;
  /**
   * Markings after which the heap, its burst's records gone, was small enough for a series: it ran then (after a
   * 100,000-task job at 100 nodes, 25 MB live where the estimate before the marking counted the burst's records).
   */
  heapCompactionsAfterMarking: number;
  /**
   * Second markings, started once the first ended with the heap still too large for a series and at least
   * COMPACT_SPARE_BYTES of old-generation pages unused: the pages a burst's records filled looked full when
   * the first one chose what to evacuate; swept, they hold a few survivors, which the second one moves.
   */
  heapMarkingsAgain: number;
};

/** What a compaction reads and does (tests give their own). */
export interface CompactionHooks {
  /** How often the task counters are read (ms). */
  everyMs: number;
  /** A full GC, atomic: `true` compacts the whole old generation, `'fragmented'` its fragmented pages (GcMove). */
  collect: (move: GcMove) => void;
  /** A scavenge (young generation only). */
  minor: () => void;
  /** The young generation is back to its start size. */
  settled: () => boolean;
  /** Between two full GCs of a series (ms). */
  gapMs: number;
  clock: () => number;
  /** What a full GC would mark (bytes), and the mark-compacts seen so far: liveHeapBytes. */
  heapBytes: (() => number) & { stop?: () => void; majors?: () => number };
  /** Starts V8's incremental mark-compact (incrementalMarking); `again`: whether or not the old generation grew. */
  mark: (again?: boolean) => void;
  /** Old-generation bytes in pages but not in objects (oldSpare). */
  spare: () => number;
  /** The process's resident set (bytes; residentBytes), read after the last GC until it stops falling. */
  rss: () => number;
  /**
   * Start-up counts as a burst: the first quiet check runs a series (`tabmesh coordinator`). Loading the
   * coordinator's modules grows V8's young generation to its 32 MB peak (--semi-space-growth-factor=16), which an
   * idle coordinator kept until its first burst of 10,000 tasks: 108-113 MB RSS idle (issue 14, session 21).
   */
  atStart: boolean;
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
 * a last full GC, one that compacts the whole old generation (`collect(true)`) when
 * the heap is small enough for it; a task ending or new tasks in the table meanwhile
 * stop them. Every choice follows the heap's bytes, not a pause read on the clock:
 * the outcome does not depend on how loaded the machine is. After 100,000 freed tasks V8 kept a young
 * generation at its 32 MB peak and the old generation's emptied pages: one
 * forced GC freed garbage and, once its background threads ran, the old
 * pages; V8 shrinks the young generation only at a GC that sees a low
 * allocation rate over the last seconds (measured: 3.5-6 s after the drain
 * with GCs 250 ms apart; 30 GCs 40 ms apart did not shrink it). Each pause
 * (1-20 ms measured) falls where nothing waits for the coordinator.
 * A heap whose first forced GC is expected over COMPACT_MAX_PAUSE_MS
 * (10,000 nodes' sessions) gets no series: V8's incremental mark-compact is
 * started instead (`mark`), which frees the burst's garbage without a pause in
 * proportion to the heap (before: 500-700 MB RSS kept after the jobs at
 * 10,000 nodes, every burst's promoted records, until V8's own limit came).
 * Once V8 has ended that marking, the heap is what the burst left alive: when a
 * series fits the bound then, it runs (the marking frees the garbage but keeps
 * the old generation's pages: 96 MB of them for 25 MB live after a 100,000-task
 * job at 100 nodes, session 18); else, with many pages unused, one second
 * marking moves their few survivors and gives them back (10,000 nodes: old space
 * 249 MB for 104 live before, 120 after).
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
    spare = oldSpare,
    rss = residentBytes,
    atStart = false,
  } = hooks;
  let compactedAt = counts.ended() - (atStart ? COMPACT_AFTER_TASKS : 0);
  let last = compactedAt;
  const st: CompactionStats = {
    heapCompactions: 0,
    heapCompactionsStopped: 0,
    heapCompactionsMoved: 0,
    heapCompactionsFragmented: 0,
    heapCompactionMaxGcMs: 0,
    heapCompactionGcs: 0,
    heapCompactionScavenges: 0,
    heapCompactionMs: 0,
    heapCompactionLastGcMs: 0,
    heapCompactionsSkipped: 0,
    heapCompactionMsPerMb: 0,
    heapMarkingsStarted: 0,
    heapCompactionsAfterMarking: 0,
    heapMarkingsAgain: 0,
  };
  const majors = heapBytes.majors ?? (() => 0);
  /** A marking started after a burst (the burst's count of ended tasks, the mark-compacts seen then) until V8 ends it. */
  let marking: { ended: number; majors: number; again: boolean } | null = null;
  const MB = 1 << 20;
  /** A forced full GC of the heap as it is now fits the bound: it marks the heap and moves `movedMb` MB of it (at most all). */
  const fits = (movedMb = 0) => {
    const mb = heapBytes() / MB;
    return mb * COMPACT_MS_PER_MB + Math.min(mb, movedMb) * (COMPACT_MOVE_MS_PER_MB - COMPACT_MS_PER_MB) <= COMPACT_MAX_PAUSE_MS;
  };
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
    const ms = (from: number) => Math.round((clock() - from) * 10) / 10;
    /** A full GC, its pause measured (shown in the stats; it decides nothing). */
    const gc = (move: GcMove): number => {
      const p0 = clock();
      collect(move);
      gcs++;
      const pause = ms(p0);
      maxPause = Math.max(maxPause, pause);
      st.heapCompactionMaxGcMs = maxPause;
      return pause;
    };
    const done = () => {
      st.heapCompactionGcs = gcs;
      st.heapCompactionScavenges = scavenges;
      st.heapCompactionMs = Math.round(clock() - t0);
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
        const bytes = heapBytes();
        const pause = gc(false);
        if (bytes > 0 && pause > 0) st.heapCompactionMsPerMb = Math.round((pause / bytes) * MB * 1000) / 1000;
      } else {
        minor();
        scavenges++;
      }
      if (scavenges < COMPACT_COLLECTIONS && !settled()) {
        series = setTimeout(step, gapMs);
        series.unref();
        return;
      }
      // A heap that grew past the bound meanwhile (nodes joining a coordinator compacting after its start) gets
      // no forced full GC: the young generation is back, V8's own GCs take the rest.
      if (!fits()) {
        st.heapCompactionsStopped++;
        return done();
      }
      // A last full GC: the objects the scavenges promoted, and the old generation's emptied pages given back
      // (bench:tasks: 48.7 MB of heap committed without it, 29.7 with). It moves every live object when that fits,
      // else the objects of the fragmented pages when that fits: pages a burst emptied in part stay committed otherwise.
      const move: GcMove = fits(Infinity) ? true : fits(COMPACT_FRAGMENTED_MB) ? 'fragmented' : false;
      st.heapCompactionLastGcMs = gc(move);
      if (move === true) st.heapCompactionsMoved++;
      if (move === 'fragmented') st.heapCompactionsFragmented++;
      // Counted once the pages it freed are back with the OS (COMPACT_UNMAP_BYTES): a reader of the count reads the RSS then.
      let before = rss();
      let waits = 0;
      const unmapped = () => {
        series = null;
        const now = rss();
        if (before - now >= COMPACT_UNMAP_BYTES && ++waits < COMPACT_UNMAP_WAITS) {
          before = now;
          series = setTimeout(unmapped, gapMs);
          series.unref();
          return;
        }
        st.heapCompactions++;
        done();
      };
      series = setTimeout(unmapped, gapMs);
      series.unref();
    };
    step();
  };
  const timer = setInterval(() => {
    const ended = counts.ended();
    const quiet = ended === last && counts.live() <= IDLE_TASKS;
    last = ended;
    if (!quiet) marking = null;
    if (!quiet || series) return;
    // A marking ended (its mark-compact seen) with nothing new since: its heap is what the burst left alive. When
    // a series fits the bound now, it runs: the marking frees the garbage but keeps the old generation's pages.
    if (marking && majors() > marking.majors) {
      const m = marking;
      marking = null;
      if (fits()) {
        st.heapCompactionsAfterMarking++;
        compact(m.ended);
      } else if (!m.again && spare() >= COMPACT_SPARE_BYTES) {
        marking = { ended: m.ended, majors: majors(), again: true };
        mark(true);
        st.heapMarkingsAgain++;
      }
      return;
    }
    if (ended - compactedAt >= COMPACT_AFTER_TASKS) {
      compactedAt = ended;
      // The first GC would stall the loop (10,000 nodes' sessions): V8's own incremental mark-compact takes the
      // burst's garbage instead, with no atomic pause in proportion to the heap.
      if (!fits()) {
        st.heapCompactionsSkipped++;
        marking = { ended, majors: majors(), again: false };
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
