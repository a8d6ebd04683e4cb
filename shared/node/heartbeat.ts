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
//   10,000 idle tabs thus cost 1,000 keepalives a second, not 5,000.
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

  /** A frame went out (any frame: the coordinator counts it as a sign of life). */
  framed(): void {
    this.lastFrameAt = this.io.now();
  }

  /** Called every tickMs. */
  tick(): void {
    const load = this.io.load();
    // The long silence only once the coordinator was told the node holds nothing, and while that is still true.
    const quiet = this.idleQuietMs !== undefined && this.sent?.idle && load.idle ? this.idleQuietMs : (this.quietMs ?? 2 * this.tickMs);
    const silentFor = this.io.now() - this.lastFrameAt;
    // Before the next tick the node would have been silent too long: speak now.
    const mustSpeak = silentFor + this.tickMs > quiet;
    if (!same(this.sent, load)) {
      // A change goes out at once when nothing else is flowing; otherwise it rides along (riding()).
      if (mustSpeak || silentFor >= this.tickMs) this.report(load);
      return;
    }
    if (!mustSpeak) return;
    if (this.quietMs === undefined) this.report(load);
    else {
      this.io.keepalive();
      this.framed();
    }
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
