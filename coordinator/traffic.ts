// Counts of what crosses the coordinator's sockets and what the scheduler
// touches (issue 14): frames and messages by kind, in and out, nodes given
// work per turn, node re-filings in the index. Cheap counters (an increment
// each), one set per process like the loop budget; /api/stats reads them and
// bench:scale divides them by the tasks of a job.
import { messages, type MessageKind } from '../shared/protocol/messages.js';

/**
 * Every message kind and its place in the counts: one Map read a message, not
 * a read and a write. A Map, not an object: a received kind is a string fresh
 * from the decoder, and an object's keyed read of one cost more than both Map
 * operations (42 vs 26 ns a message, micro-bench over msgpackr-decoded kinds).
 */
export const KINDS = Object.keys(messages) as MessageKind[];
const SLOT = new Map<MessageKind, number>(KINDS.map((k, i) => [k, i]));

export class Traffic {
  /** Frames from nodes (keepalives, empty frames, apart) and from others (drivers, pending sessions). */
  nodeFramesIn = 0;
  keepalivesIn = 0;
  framesIn = 0;
  nodeFramesOut = 0;
  framesOut = 0;
  /** Messages by kind (KINDS order), all sessions. */
  private readonly msgsIn = new Float64Array(KINDS.length);
  private readonly msgsOut = new Float64Array(KINDS.length);
  /** Distinct nodes given work in a turn, summed over turns (each is a frame of assignments). */
  nodeTurns = 0;
  /** Node index re-filings (a node's load or shape changed), and those that moved it in its heap. */
  refiled = 0;
  moved = 0;
  /** Assigns that carried a result shortcut's tag (scheduler/shortcuts.ts). */
  shortcutTags = 0;
  /** Shortcut results whose driver said no `took` in time: subscribed again (objects/shortcut-acks.ts). */
  shortcutReadies = 0;

  frameIn(node: boolean, empty: boolean): void {
    if (empty) this.keepalivesIn++;
    else if (node) this.nodeFramesIn++;
    else this.framesIn++;
  }

  frameOut(node: boolean): void {
    if (node) this.nodeFramesOut++;
    else this.framesOut++;
  }

  msgIn(k: MessageKind): void {
    this.msgsIn[SLOT.get(k)!]++;
    this.msgsInAll++;
  }

  /** Messages in, all kinds (coordinator/stall-probe.ts reads it a callback). */
  msgsInAll = 0;

  /** Messages of a kind received so far. */
  inOf(k: MessageKind): number {
    return this.msgsIn[SLOT.get(k)!];
  }

  /** Messages of a kind sent so far. */
  outOf(k: MessageKind): number {
    return this.msgsOut[SLOT.get(k)!];
  }

  /** Copies the messages in by kind (KINDS order) into `to`. */
  copyIn(to: Float64Array): void {
    to.set(this.msgsIn);
  }

  msgOut(k: MessageKind): void {
    this.msgsOut[SLOT.get(k)!]++;
  }

  /** Flat, for /api/stats: `traffic.in.done`, `traffic.out.assign`, ... */
  json(): Record<string, number> {
    const out: Record<string, number> = {
      'traffic.nodeFramesIn': this.nodeFramesIn,
      'traffic.keepalivesIn': this.keepalivesIn,
      'traffic.framesIn': this.framesIn,
      'traffic.nodeFramesOut': this.nodeFramesOut,
      'traffic.framesOut': this.framesOut,
      'traffic.nodeTurns': this.nodeTurns,
      'traffic.refiled': this.refiled,
      'traffic.moved': this.moved,
      'traffic.shortcutTags': this.shortcutTags,
      'traffic.shortcutReadies': this.shortcutReadies,
    };
    // Kinds seen at least once, as before.
    KINDS.forEach((k, i) => {
      if (this.msgsIn[i] > 0) out[`traffic.in.${k}`] = this.msgsIn[i];
      if (this.msgsOut[i] > 0) out[`traffic.out.${k}`] = this.msgsOut[i];
    });
    return out;
  }
}

export const traffic = new Traffic();
