// One WebSocket connection to the coordinator: a driver or a node. A session
// holds references (handles) to objects; when it closes they are released.
import type { WebSocket } from 'ws';
import { Outbox, type ChunkSink, type FlushTurns, type FrameSink } from '../shared/protocol/frame.js';
import type { Msg } from '../shared/protocol/messages.js';
import type { ErrorCode } from '../shared/error-codes.js';
import type { JobId, NodeId, ObjectId } from '../shared/ids.js';
import { idShard, ShardedMap } from './id-shards.js';
import { traffic } from './traffic.js';
import { sendFragments } from '../edge/ws.js';
import type { SessionBuckets } from './limits/bucket.js';

export type Role = 'pending' | 'driver' | 'node';

let nextSessionSeq = 1;

/**
 * The session is its outbox's sink for frames and chunk frames itself: no closure per connection (10,000 nodes' closures
 * and their contexts were objects every full GC marks, issue 14, session 38).
 */
export class Session implements FrameSink, ChunkSink {
  readonly seq = nextSessionSeq++;
  role: Role = 'pending';
  /** A driver's job. */
  jobId: JobId | null = null;
  /** Said in its hello: it takes no peer links (its objects are read through the relay). */
  peerless = false;
  /** Said in its hello: a driver takes result shortcuts, a node sends them (shared/protocol/shortcut.ts). */
  shortcut = false;
  /** Said in its hello, with `shortcut`: a driver pushes tasks to nodes it holds a lease on, a node takes them (shared/protocol/direct.ts). */
  direct = false;
  /** Said in its hello: a driver sends task groups (when the coordinator takes them), a node runs them (coordinator/groups). */
  groups = false;
  /** A direct node that answers `hurry` (coordinator/scheduler/direct-hurry.ts). */
  hurry = false;
  /** A direct driver that honours a `lease` with `held` (coordinator/scheduler/direct-leases.ts). */
  suspend = false;
  /** Another coordinator of the mesh (its id), when this session is its link (coordinator/mesh). */
  meshLink: string | undefined;
  /** Said in its hello: it serves relay transfers under a credit window (`serve` with `w`, `more`). */
  credit = false;
  /** A node's id (set when a node joins). */
  nodeId: NodeId | null = null;
  private heldMap: Map<ObjectId, number> | null = null;
  /** How many handles this session holds to each object (made at the first use: most nodes hold none, and an empty map cost ~200 bytes a node, issue 14). */
  get held(): Map<ObjectId, number> {
    return (this.heldMap ??= new ShardedMap<ObjectId, number>(idShard));
  }
  readonly outbox: Outbox;
  /** Its rate buckets (coordinator/limits writes them, at its first message). */
  buckets: SessionBuckets | null = null;
  closed = false;
  /** A node said it leaves (`leaving`): it takes no more work, as when closing. */
  leaving = false;
  readonly remoteAddress: string;
  /** Frame bytes received and sent on this connection (the dashboard's per-node traffic). */
  bytesIn = 0;
  bytesOut = 0;

  /** `turns`: the coordinator's end-of-turn flushes, a slice per turn (coordinator/flush-turns.ts); default, its own. */
  constructor(
    readonly ws: WebSocket,
    remoteAddress: string,
    turns?: FlushTurns,
  ) {
    this.remoteAddress = remoteAddress;
    this.outbox = new Outbox(this, undefined, turns);
  }

  /** Its outbox's frame (FrameSink). */
  frame(frame: Uint8Array): void {
    const ws = this.ws;
    if (this.closed || ws.readyState !== ws.OPEN) return;
    this.bytesOut += frame.byteLength;
    traffic.frameOut(this.role === 'node');
    ws.send(frame);
  }

  /** Its outbox's chunk frame (ChunkSink), once it said it reads them. */
  chunk(head: Uint8Array, body: Uint8Array): void {
    const ws = this.ws;
    if (this.closed || ws.readyState !== ws.OPEN) return;
    this.bytesOut += head.byteLength + body.byteLength;
    traffic.frameOut(this.role === 'node');
    sendFragments(ws, head, body);
  }

  /**
   * The peer closed or is closing (its close frame came; the close event waits for its socket to end, seconds on a
   * starved peer), or said it leaves: it sends nothing more, and what is sent to it is dropped. A node so takes no
   * more work.
   */
  get closing(): boolean {
    return this.closed || this.leaving || this.ws.readyState !== this.ws.OPEN;
  }

  send(m: Msg): void {
    if (this.closed) return;
    traffic.msgOut(m.t);
    this.outbox.push(m);
  }

  /** A short name for logs and events. */
  get label(): string {
    return this.role === 'node' ? `node ${this.nodeId}` : this.role === 'driver' ? `driver ${this.jobId}` : `connection ${this.seq}`;
  }

  /** Sends an error and closes this connection only. */
  /** Tells the peer why and closes; `reason`: the close frame's (default the code; a refused connection's retry hint, shared/backoff.ts). */
  fail(code: ErrorCode, message: string, reason: string = code): void {
    if (this.closed) return;
    this.outbox.push({ t: 'error', code, message });
    this.outbox.flush();
    this.closed = true;
    try {
      this.ws.close(1008, reason);
    } catch {
      this.ws.terminate();
    }
  }

  /** It said it reads chunk frames: relay chunks go to it as those. */
  get chunkFrames(): boolean {
    return this.outbox.chunkOut !== null;
  }

  /**
   * Relay chunks leave as chunk frames (shared/protocol/chunk-frame.ts): the header and the chunk's bytes as two
   * fragments of one WebSocket message, the bytes sent from the buffer they arrived in (no copy on this side).
   */
  sendChunkFrames(): void {
    this.outbox.chunkOut = this;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
}
