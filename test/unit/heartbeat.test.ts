// A node's heartbeat (shared/node/heartbeat.ts, issue 14): load reports are
// deltas that ride along in frames the node sends anyway; an idle node sends
// an empty keepalive frame every quietMs; no node is ever silent longer than
// quietMs, which keeps failure detection as it was.
import { describe, expect, it } from 'vitest';
import { Heartbeat, type Beat } from '../../shared/node/heartbeat.js';

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
