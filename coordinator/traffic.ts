// Counts of what crosses the coordinator's sockets and what the scheduler
// touches (issue 14): frames and messages by kind, in and out, nodes given
// work per turn, node re-filings in the index. Cheap counters (an increment
// each), one set per process like the loop budget; /api/stats reads them and
// bench:scale divides them by the tasks of a job.
import type { MessageKind } from '../shared/protocol/messages.js';

export class Traffic {
  /** Frames from nodes (keepalives, empty frames, apart) and from others (drivers, pending sessions). */
  nodeFramesIn = 0;
  keepalivesIn = 0;
  framesIn = 0;
  nodeFramesOut = 0;
  framesOut = 0;
  /** Messages by kind, all sessions. */
  readonly msgsIn = new Map<MessageKind, number>();
  readonly msgsOut = new Map<MessageKind, number>();
  /** Distinct nodes given work in a turn, summed over turns (each is a frame of assignments). */
  nodeTurns = 0;
  /** Node index re-filings (a node's load or shape changed), and those that moved it in its heap. */
  refiled = 0;
  moved = 0;

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
    this.msgsIn.set(k, (this.msgsIn.get(k) ?? 0) + 1);
  }

  msgOut(k: MessageKind): void {
    this.msgsOut.set(k, (this.msgsOut.get(k) ?? 0) + 1);
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
    };
    for (const [k, v] of this.msgsIn) out[`traffic.in.${k}`] = v;
    for (const [k, v] of this.msgsOut) out[`traffic.out.${k}`] = v;
    return out;
  }
}

export const traffic = new Traffic();
