// A node's heartbeat (issue 14: its cost must stay small at 10,000 nodes).
// The coordinator counts any frame as a sign of life and declares a node dead
// after `deadAfterMs` of silence; it tells the node in `welcome` how long it
// may stay quiet (`quietMs`, half that window or less). So:
// - load reports are deltas: one goes out only when running, queued or
//   stored bytes changed, and it rides along in the next frame the node sends
//   anyway (a `done`, a `started`) rather than in a frame of its own;
// - a node that sent nothing for almost `quietMs` speaks: its changed load if
//   any, else a keepalive, an empty frame the coordinator takes without
//   decoding anything.
// A node busy with tasks thus sends no heartbeat frames at all, an idle one a
// keepalive every `quietMs`: never longer silent than before, so failure
// detection keeps its guarantee.
// - a node that holds nothing (no task, actor or stored object) says so in its
//   load (`idle`); once that went out it may stay quiet for `idleQuietMs` (the
//   welcome's, when the coordinator offers it): a hung node that holds
//   nothing loses nobody's work, and the coordinator measures a node it gives
//   work to from that moment with the short window (coordinator/nodes).
//   10,000 idle tabs thus cost 667 keepalives a second (half the 30 s idle
//   window between two; a third before session 19: 1,000), not 5,000.
// - the ticks fall on a BEAT_GRID_MS grid of the wall clock (everyOnGrid), each
//   node keeping its own phase in the period: keepalives of thousands of idle
//   nodes reach the coordinator in groups, which a socket wakeup reads
//   together (a spread keepalive cost 52-60 µs of its CPU, grouped 29-32 µs,
//   session 8's micro-bench). Ticks stay `ms` apart: silences are unchanged.
import type { Msg, MsgOf } from '../protocol/messages.js';

export type Beat = MsgOf<'heartbeat'>;

export interface HeartbeatIo {
  /** The node's load now. */
  load(): Beat;
  /** Queues a message in the node's outbox (it goes out in this turn's frame). */
  push(m: Beat): void;
  /** Sends an empty frame at once (only when the coordinator said it takes them). */
  keepalive(): void;
  now(): number;
}

function same(a: Beat | null, b: Beat): boolean {
  return !!a && a.running === b.running && a.queued === b.queued && a.storeBytes === b.storeBytes && !a.idle === !b.idle;
}

export class Heartbeat {
  /** The load last reported. */
  private sent: Beat | null = null;
  private lastFrameAt: number;
  private reportedAt = -Infinity;

  /**
   * `tickMs`: how often tick() is called (the coordinator's heartbeatMs).
   * `quietMs`: the longest silence the coordinator allows; undefined for a
   * coordinator that takes no keepalive frames (then an unchanged load is
   * sent again instead, every other tick, as before).
   */
  constructor(
    private readonly io: HeartbeatIo,
    readonly tickMs: number,
    readonly quietMs: number | undefined,
    readonly idleQuietMs?: number,
  ) {
    this.lastFrameAt = io.now();
  }

  /** A frame is about to go out: a changed load rides along (returned to be added to it), at most once per tick. */
  riding(): Beat | null {
    if (this.io.now() - this.reportedAt < this.tickMs) return null;
    const load = this.io.load();
    if (same(this.sent, load)) return null;
    this.sent = load;
    this.reportedAt = this.io.now();
    return load;
  }

  /** A frame went out (any frame: the coordinator counts it as a sign of life); a sleeping node ticks again. */
  framed(): void {
    this.lastFrameAt = this.io.now();
    this.heard();
  }

  /**
   * Called every tickMs; answers how many of the next ticks it may skip (everyOnGrid sleeps through them). Only a
   * node told the coordinator it holds nothing, and still holds nothing, skips: its load cannot change without a
   * frame from the coordinator (work, an object) or one of its own going out, and both wake it (heard(), framed());
   * it sleeps until the tick before the one its keepalive is due at (session 32: 20,000 idle simulated nodes ran
   * 20,000 ticks a second, over half of an idle node process's CPU).
   */
  tick(): number {
    const load = this.io.load();
    // The long silence only once the coordinator was told the node holds nothing, and while that is still true.
    const idle = this.idleQuietMs !== undefined && this.sent?.idle === true && load.idle === true;
    const quiet = idle ? this.idleQuietMs! : (this.quietMs ?? 2 * this.tickMs);
    const silentFor = this.io.now() - this.lastFrameAt;
    // Before the next tick the node would have been silent too long: speak now.
    const mustSpeak = silentFor + this.tickMs > quiet;
    if (!same(this.sent, load)) {
      // A change goes out at once when nothing else is flowing; otherwise it rides along (riding()).
      if (mustSpeak || silentFor >= this.tickMs) this.report(load);
      return 0;
    }
    if (mustSpeak) {
      if (this.quietMs === undefined) this.report(load);
      else {
        this.io.keepalive();
        this.framed();
      }
      return 0;
    }
    if (!idle) return 0;
    // The tick that must speak is the first j ticks on with silentFor + (j + 1) tickMs > quiet; wake one before it
    // (a late timer then still finds it due in time).
    return Math.max(0, Math.floor((quiet - silentFor) / this.tickMs) - 2);
  }

  /** Set by start(): brings a sleeping ticker's next tick back to the next one on its grid. */
  private wakeTicker: (() => void) | undefined;

  /**
   * Ticks every tickMs through `every` (a platform's repeating timer; everyOnGrid by default), sleeping through the
   * ticks tick() says it may skip when the timer can (everyOnGrid's wake). Returns the stop.
   */
  start(every: (ms: number, fn: (skip?: (ticks: number) => void) => void) => Stop = everyOnGrid): () => void {
    const t = every(this.tickMs, (skip) => {
      const k = this.tick();
      if (k > 0) skip?.(k);
    });
    this.wakeTicker = t.wake;
    return t;
  }

  /** A frame came from the coordinator: a sleeping node ticks again (what it brought may change the load). */
  heard(): void {
    this.wakeTicker?.();
  }

  private report(load: Beat): void {
    this.sent = load;
    this.reportedAt = this.io.now();
    this.io.push(load);
  }
}

/** What a node's heartbeat reads of its runtime. */
export interface BeatSource {
  readonly local: { readonly running: number; readonly queued: number };
  readonly store: { readonly memoryBytes: number; readonly spilledBytes: number };
  readonly tasks: { readonly empty: boolean };
  readonly actors: { readonly count: number };
  send(m: Msg): void;
}

/** A node's heartbeat io: its load (idle when it holds nothing), its frames, and `keepalive` (an empty frame on its socket). */
export function heartbeatIo(n: BeatSource, keepalive: () => void): HeartbeatIo {
  return {
    load: () => {
      const b: Beat = {
        t: 'heartbeat',
        running: n.local.running,
        queued: n.local.queued,
        storeBytes: n.store.memoryBytes + n.store.spilledBytes,
      };
      if (b.running === 0 && b.queued === 0 && b.storeBytes === 0 && n.tasks.empty && n.actors.count === 0) b.idle = true;
      return b;
    },
    push: (m) => n.send(m),
    keepalive,
    now: () => Date.now(),
  };
}

/** The grid of the wall clock (ms) that nodes' heartbeat ticks fall on. */
export const BEAT_GRID_MS = 100;

/** A repeating timer's stop; everyOnGrid's has `wake`. */
export type Stop = (() => void) & { wake?: () => void };

/**
 * Calls `fn` every `ms` (a multiple of `grid`), each call at a multiple of
 * `grid` of `now()`: the first at the first grid point `ms` from now, the next
 * ones `ms` apart from it, not from when the last one ran (no drift). A tick
 * run late (the process was busy or asleep) is followed by one a period
 * later, on the grid: missed ticks are not run in a burst. `fn` may call its
 * `skip(ticks)`: the timer sleeps through that many of the next ticks, until
 * the stop's `wake()` brings the next tick back to the first one of its phase
 * from now.
 * Returns a stop.
 */
export function everyOnGrid(ms: number, fn: (skip: (ticks: number) => void) => void, grid = BEAT_GRID_MS, now: () => number = () => Date.now()): Stop {
  const period = Math.max(grid, Math.round(ms / grid) * grid);
  let next = Math.ceil((now() + period) / grid) * grid;
  /** The tick before `next` (its phase), and whether ticks are skipped until `next`. */
  let last = next - period;
  let sleeping = false;
  let timer: ReturnType<typeof setTimeout>;
  let stopped = false;
  const run = () => {
    const t = now();
    // More than a grid step late (a busy or sleeping process): the next tick a period from now, on the grid.
    last = t - next > grid ? Math.ceil(t / grid) * grid : next;
    next = last + period;
    sleeping = false;
    timer = setTimeout(run, next - t);
    let skip = 0;
    fn((ticks) => (skip = ticks));
    if (skip >= 1 && !stopped) {
      sleeping = true;
      next = last + period * (1 + Math.floor(skip));
      clearTimeout(timer);
      timer = setTimeout(run, next - t);
    }
  };
  timer = setTimeout(run, next - now());
  const stop: Stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  stop.wake = () => {
    if (!sleeping || stopped) return;
    sleeping = false;
    // The first tick of the old phase at least a grid step from now.
    const t = now();
    const due = last + Math.max(1, Math.ceil((t + grid - last) / period)) * period;
    if (due >= next) return;
    next = due;
    clearTimeout(timer);
    timer = setTimeout(run, next - t);
  };
  return stop;
}
