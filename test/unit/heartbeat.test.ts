// A node's heartbeat (shared/node/heartbeat.ts, issue 14): load reports are
// deltas that ride along in frames the node sends anyway; an idle node sends
// an empty keepalive frame every quietMs; no node is ever silent longer than
// quietMs, which keeps failure detection as it was.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BEAT_GRID_MS, everyOnGrid, Heartbeat, type Beat } from '../../shared/node/heartbeat.js';

const TICK = 1000;
const QUIET = 2000;

/** A node on a fake clock: what it sends, frame by frame. */
class Node {
  now = 0;
  load: Beat = { t: 'heartbeat', running: 0, queued: 0, storeBytes: 0 };
  /** Frames sent: 'keepalive' or the messages in it. */
  readonly frames: { at: number; msgs: string[] }[] = [];
  private queued: Beat[] = [];
  readonly hb: Heartbeat;

  /** `quiet` null: a coordinator that said nothing of keepalives. */
  constructor(quiet: number | null = QUIET) {
    this.hb = new Heartbeat(
      {
        load: () => ({ ...this.load }),
        push: (m) => {
          this.queued.push(m);
          this.flush([]);
        },
        keepalive: () => this.frames.push({ at: this.now, msgs: ['keepalive'] }),
        now: () => this.now,
      },
      TICK,
      quiet ?? undefined,
    );
  }

  /** The node's outbox sends a frame with `msgs` (and whatever rides along). */
  flush(msgs: string[]): void {
    const all = [...msgs, ...this.queued.map((m) => m.t)];
    this.queued = [];
    const extra = this.hb.riding();
    if (extra) all.push(extra.t);
    if (all.length === 0) return;
    this.frames.push({ at: this.now, msgs: all });
    this.hb.framed();
  }

  /** Runs the clock to `until`, ticking every TICK and calling `each` every ms step of `step`. */
  run(until: number, step = 100, each?: (t: number) => void): void {
    while (this.now < until) {
      this.now += step;
      each?.(this.now);
      if (this.now % TICK === 0) this.hb.tick();
    }
  }

  /** The longest gap between two frames (or since the start). */
  longestSilence(from = 0): number {
    let last = from;
    let worst = 0;
    for (const f of this.frames) {
      if (f.at < from) continue;
      worst = Math.max(worst, f.at - last);
      last = f.at;
    }
    return Math.max(worst, this.now - last);
  }
}

describe('heartbeats at 10,000 nodes', () => {
  it('an idle node sends one empty keepalive per quietMs and no load report once its load is known', () => {
    const n = new Node();
    n.run(60_000);
    const reports = n.frames.filter((f) => f.msgs.includes('heartbeat'));
    const keepalives = n.frames.filter((f) => f.msgs[0] === 'keepalive');
    expect(reports).toHaveLength(1); // the first, so the coordinator knows its load
    expect(keepalives.length).toBeGreaterThanOrEqual(60_000 / QUIET - 2);
    expect(keepalives.length).toBeLessThanOrEqual(60_000 / TICK / 2 + 1);
    expect(n.longestSilence()).toBeLessThanOrEqual(QUIET);
  });

  it('a busy node sends no heartbeat frame of its own: its changing load rides in its task frames, at most once a tick', () => {
    const n = new Node();
    n.run(3000);
    const before = n.frames.length;
    let i = 0;
    // A task ends every 100 ms: a `done` frame each time, the load changing with it.
    n.run(30_000, 100, () => {
      n.load = { ...n.load, running: i++ % 3, queued: i % 5 };
      n.flush(['done']);
    });
    const busy = n.frames.slice(before);
    expect(busy.every((f) => f.msgs[0] === 'done')).toBe(true);
    const rides = busy.filter((f) => f.msgs.includes('heartbeat'));
    expect(rides.length).toBeGreaterThan(20);
    expect(rides.length).toBeLessThanOrEqual(28);
    for (let k = 1; k < rides.length; k++) expect(rides[k].at - rides[k - 1].at).toBeGreaterThanOrEqual(TICK);
  });

  it('an idle node whose load changes reports it at the next tick, in a frame of its own', () => {
    const n = new Node();
    n.run(5000);
    n.load = { ...n.load, storeBytes: 4096 };
    const at = n.now;
    n.run(at + TICK);
    const report = n.frames.find((f) => f.at > at && f.msgs.includes('heartbeat'));
    expect(report?.at).toBe(at + TICK);
  });

  it('the last load report is never older than the load: after a burst of work, the idle load goes out', () => {
    const n = new Node();
    n.run(2000);
    n.run(4000, 100, (t) => {
      n.load = { ...n.load, running: t < 3900 ? 2 : 0 };
      if (t < 3900) n.flush(['done']);
    });
    n.run(8000);
    const reports = n.frames.filter((f) => f.msgs.includes('heartbeat'));
    expect(reports.at(-1)!.at).toBeLessThanOrEqual(4000 + TICK);
    expect(n.longestSilence()).toBeLessThanOrEqual(QUIET);
  });

  it('with a coordinator that takes no keepalives, an unchanged load is sent again every other tick, as before', () => {
    const n = new Node(null);
    n.run(20_000);
    expect(n.frames.some((f) => f.msgs[0] === 'keepalive')).toBe(false);
    expect(n.frames.length).toBeGreaterThanOrEqual(9);
    expect(n.longestSilence()).toBeLessThanOrEqual(2 * TICK);
  });
});

describe('heartbeat ticks on the wall clock grid', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('200 idle nodes that joined at random moments keepalive on 100 ms grid points only, each every quietMs, 1,000 ms ticks apart', () => {
    vi.useFakeTimers({ now: 1_700_000_000_037 });
    let seed = 11;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const sent: { node: number; at: number }[] = [];
    const stops: (() => void)[] = [];
    const joinAt: number[] = [];
    for (let i = 0; i < 200; i++) {
      vi.advanceTimersByTime(Math.floor(random() * 37));
      joinAt.push(Date.now());
      const hb = new Heartbeat(
        {
          load: () => ({ t: 'heartbeat', running: 0, queued: 0, storeBytes: 0, idle: true }),
          push: () => {},
          keepalive: () => void sent.push({ node: i, at: Date.now() }),
          now: () => Date.now(),
        },
        TICK,
        QUIET,
      );
      stops.push(everyOnGrid(TICK, () => hb.tick()));
    }
    vi.advanceTimersByTime(60_000);
    for (const stop of stops) stop();
    expect(sent.length).toBeGreaterThan(200 * 25);
    // Every keepalive leaves on the grid: the coordinator gets them in 10 groups a second, not 200 wakeups.
    expect(sent.filter((k) => k.at % BEAT_GRID_MS !== 0)).toEqual([]);
    expect(new Set(sent.map((k) => k.at % 1000)).size).toBeLessThanOrEqual(1000 / BEAT_GRID_MS);
    // Each node: QUIET apart, and its first within QUIET + a grid step of its join (silences as before).
    for (let i = 0; i < 200; i++) {
      const mine = sent.filter((k) => k.node === i).map((k) => k.at);
      expect(mine[0] - joinAt[i]).toBeLessThanOrEqual(QUIET + BEAT_GRID_MS);
      for (let j = 1; j < mine.length; j++) expect(mine[j] - mine[j - 1]).toBe(QUIET);
    }
  });

  it('a tick the process was too busy for is skipped, not run late in a burst; the next ones stay on the grid', () => {
    vi.useFakeTimers({ now: 5_000_042 });
    const at: number[] = [];
    const stop = everyOnGrid(1000, () => at.push(Date.now()));
    vi.advanceTimersByTime(2500);
    // The clock moves 3.7 s while no timer runs (a busy or sleeping process).
    vi.setSystemTime(Date.now() + 3700);
    vi.advanceTimersByTime(4000);
    stop();
    vi.advanceTimersByTime(5000);
    expect(at.every((t) => t % BEAT_GRID_MS === 0)).toBe(true);
    expect(at.slice(0, 2)).toEqual([5_001_100, 5_002_100]);
    for (let j = 1; j < at.length; j++) expect(at[j] - at[j - 1]).toBeGreaterThanOrEqual(1000);
    expect(at.length).toBeLessThanOrEqual(7);
  });
});

describe('an idle node sleeps through its ticks (session 32)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const IDLE_QUIET = 15_000;
  const idle: Beat = { t: 'heartbeat', running: 0, queued: 0, storeBytes: 0, idle: true };

  /** A node whose ticks run on everyOnGrid (fake timers), counted, with its frames. */
  function sleeper() {
    let load: Beat = { ...idle };
    let ticks = 0;
    const frames: { at: number; what: string }[] = [];
    const hb: Heartbeat = new Heartbeat(
      {
        load: () => {
          ticks++;
          return { ...load };
        },
        push: (m) => {
          frames.push({ at: Date.now(), what: m.idle ? 'idle' : `load running ${m.running}` });
          hb.framed();
        },
        keepalive: () => void frames.push({ at: Date.now(), what: 'keepalive' }),
        now: () => Date.now(),
      },
      TICK,
      QUIET,
      IDLE_QUIET,
    );
    const stop = hb.start();
    return { hb, frames, stop, ticks: () => ticks, set: (b: Beat) => (load = b) };
  }

  it('ticks a few times per idle window, not every second, and keeps every keepalive in time', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const n = sleeper();
    vi.advanceTimersByTime(120_000);
    n.stop();
    const keepalives = n.frames.filter((f) => f.what === 'keepalive').map((f) => f.at);
    // 120 ticks without sleeping; asleep, about 3 a keepalive (one before it is due, the one that speaks, one after).
    expect(n.ticks()).toBeLessThan(40);
    expect(keepalives.length).toBeGreaterThanOrEqual(120_000 / IDLE_QUIET - 1);
    let last = n.frames[0].at; // the first report (idle) went out at the first tick
    for (const at of keepalives) {
      expect(at - last).toBeLessThanOrEqual(IDLE_QUIET);
      last = at;
    }
    expect(keepalives.every((t) => t % BEAT_GRID_MS === 0)).toBe(true);
  });

  it('wakes on a frame from the coordinator: work given while asleep is reported at the next tick', () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const n = sleeper();
    vi.advanceTimersByTime(4_000); // said idle, now asleep until near its keepalive
    const ticksBefore = n.ticks();
    vi.advanceTimersByTime(2_000);
    expect(n.ticks()).toBe(ticksBefore);
    // An assign arrives: the task waits for an argument, so no frame goes out with it.
    n.set({ t: 'heartbeat', running: 0, queued: 1, storeBytes: 0 });
    const at = Date.now();
    n.hb.heard();
    vi.advanceTimersByTime(TICK + BEAT_GRID_MS);
    n.stop();
    // Within the short window the coordinator now measures it by (quietMs), not at the idle keepalive 9 s later.
    const report = n.frames.find((f) => f.at > at && f.what === 'load running 0');
    expect(report).toBeDefined();
    expect(report!.at - at).toBeLessThanOrEqual(TICK + BEAT_GRID_MS);
  });

  it("everyOnGrid: skip(k) sleeps through k ticks; wake() brings the next one back on the tick's phase", () => {
    vi.useFakeTimers({ now: 9_000_000 });
    const at: number[] = [];
    let first = true;
    const stop = everyOnGrid(1000, (skip) => {
      at.push(Date.now());
      if (first) skip(5);
      first = false;
    });
    // Asleep until 9,007,000: nothing at 9,002,000 or 9,003,000.
    vi.advanceTimersByTime(3_500);
    expect(at).toEqual([9_001_000]);
    stop.wake!(); // at 9,003,500: the next tick of its phase
    vi.advanceTimersByTime(2_600);
    stop();
    expect(at).toEqual([9_001_000, 9_004_000, 9_005_000, 9_006_000]);
  });
});
