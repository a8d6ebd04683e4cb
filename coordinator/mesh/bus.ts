// Frames between coordinators of one mesh (issue 15), over Redis pub/sub: each
// coordinator listens on `<p>:mesh:<id>`. A message is one protocol frame
// (msgpack, batched per turn as on a WebSocket) with a one-byte kind, the
// sender's id and a sequence head in front (delivery.ts: numbered, acked and
// sent again after a Redis reconnect, issue 14: pub/sub alone loses what is
// published while a subscription is down).
import type { Cluster, Redis } from 'ioredis';
import type { WebSocket } from 'ws';
import { Delivery, SEQ_HEAD_BYTES, readSeqHead, writeSeqHead, type DeliveryLimits } from './delivery.js';

/**
 * To the owner's link session (what a node would send); to the agent (what a
 * coordinator sends a node); the agent is gone, its guest tasks with it (to the
 * owner: `linkEnd`); the owner closed the agent's link session (to the agent:
 * `agentEnd`); a peer-link signal between two coordinators' nodes
 * (signal-relay.ts); a question for the state API's rows and its answer
 * (mesh-view.ts).
 */
export type FrameKind = 'toLink' | 'toAgent' | 'linkEnd' | 'agentEnd' | 'signal' | 'ask' | 'answer';
/** Delivery's own: what the receiver has of a sender's stream (`nack`: and send again what follows now). */
type ControlKind = 'ack' | 'nack';
const KIND_BYTE: Record<FrameKind | ControlKind, number> = {
  toLink: 0x4c,
  toAgent: 0x41,
  linkEnd: 0x45,
  agentEnd: 0x65,
  signal: 0x53,
  ask: 0x51,
  answer: 0x52,
  ack: 0x4b,
  nack: 0x4e,
};
const KIND_OF = new Map<number, FrameKind | ControlKind>(Object.entries(KIND_BYTE).map(([k, b]) => [b, k as FrameKind | ControlKind]));
/**
 * A link's frames name the agent they belong to (issue 14): each agent a coordinator makes for a peer gets the next
 * number, so a frame of an agent that was closed (and of the link session the peer had for it) is never taken for the
 * new one's, and the peer knows from the new agent's first frame that the old one holds nothing any more.
 */
const TAGGED = new Set<FrameKind | ControlKind>(['toLink', 'toAgent', 'linkEnd', 'agentEnd']);
/** An agent's number, as 8 hex characters after the sender's id. */
export const AGENT_TAG_CHARS = 8;
/**
 * A link's frames each way leave at most this often while busy (Outbox.gapMs; an idle link's at once): each is a
 * publish here and a decode and a scheduler pass there, and one a turn carried 1-2 tasks (issue 14).
 * TABMESH_MESH_FLUSH_MS=0: one a turn, as before (the bench's A/B).
 */
export const LINK_FLUSH_MS = Math.max(0, Number(process.env.TABMESH_MESH_FLUSH_MS ?? 2) || 0);
/** Coordinator ids are 16 hex characters. */
export const COORDINATOR_ID_CHARS = 16;
/** Where the sequence head sits: after the kind and the sender's id. */
const HEAD_AT = 1 + COORDINATOR_ID_CHARS;
const EMPTY = new Uint8Array(0);

export class MeshBus {
  private readonly sub: Redis | Cluster;
  /** Frames (publishes) and their bytes sent to and received from other coordinators (/api/stats: a job's frames a task). */
  readonly counters = { meshFramesOut: 0, meshFramesIn: 0, meshBytesOut: 0, meshBytesIn: 0 };
  /** Numbers, acks and resends of each peer's frames. */
  readonly delivery: Delivery;
  /** `tag`: the agent a link's frame belongs to (0 for the untagged kinds). */
  onFrame: (from: string, kind: FrameKind, frame: Uint8Array, tag: number) => void = () => {};
  /** Frames to or from `peer` were lost for good (delivery.ts): end the links with it. */
  onLost: (peer: string, why: string) => void = () => {};
  private started = false;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly prefix: string,
    readonly id: string,
    limits?: DeliveryLimits,
  ) {
    this.delivery = new Delivery(
      {
        publish: (to, m) => void this.client.publish(this.channel(to), m).catch(() => {}),
        control: (to, nack, ackEpoch, ack, inc, late) => {
          const m = this.message(nack ? 'nack' : 'ack', EMPTY, 0);
          // An ack's own epoch and seq: which record of our stream it is (delivery.ts In.inc, late).
          writeSeqHead(m, HEAD_AT, { epoch: inc, seq: late ? 1 : 0, ackEpoch, ack });
          void this.client.publish(this.channel(to), m).catch(() => {});
        },
        reset: (peer, why) => this.onLost(peer, why),
      },
      HEAD_AT,
      limits,
    );
    this.sub = client.duplicate();
    this.sub.on('error', () => {}); // reconnects by itself
    this.sub.on('messageBuffer', (_channel: Buffer, m: Buffer) => this.receive(m));
    // Back from a reconnect (ioredis subscribes again by itself; ours is ordered after it): ask for what was missed.
    this.sub.on('ready', () => {
      if (this.started)
        void this.sub.subscribe(this.channel(this.id)).then(
          () => this.delivery.resubscribed(),
          () => {},
        );
    });
    // What our own connection had in flight may be lost with it: send it again.
    this.client.on('ready', () => {
      if (this.started) this.delivery.reconnected();
    });
  }

  private channel(id: string): string {
    return `${this.prefix}:mesh:${id}`;
  }

  async start(): Promise<void> {
    await this.sub.subscribe(this.channel(this.id));
    this.started = true;
  }

  /** Kind, our id, a sequence head (delivery.ts writes it), the agent's number for a link's frames, then the frame. */
  private message(kind: FrameKind | ControlKind, frame: Uint8Array, tag: number): Buffer {
    const tagged = TAGGED.has(kind);
    const head = HEAD_AT + SEQ_HEAD_BYTES;
    const m = Buffer.alloc(head + (tagged ? AGENT_TAG_CHARS : 0) + frame.byteLength);
    m[0] = KIND_BYTE[kind];
    m.write(this.id, 1, 'latin1');
    if (tagged) m.write(tag.toString(16).padStart(AGENT_TAG_CHARS, '0'), head, 'latin1');
    m.set(frame, head + (tagged ? AGENT_TAG_CHARS : 0));
    return m;
  }

  send(to: string, kind: FrameKind, frame: Uint8Array, tag = 0): void {
    const m = this.message(kind, frame, tag);
    this.counters.meshFramesOut++;
    this.counters.meshBytesOut += m.length;
    this.delivery.send(to, m);
  }

  private receive(m: Buffer): void {
    // Closed: a message its connection had already read comes after disconnect() (ioredis emits what it parsed), when
    // the coordinator behind it may be closed too (its GCS storage: an uncaught CLOSED in CI, session 20).
    if (!this.started || m.length < HEAD_AT + SEQ_HEAD_BYTES) return;
    const kind = KIND_OF.get(m[0]);
    const from = m.toString('latin1', 1, HEAD_AT);
    if (!kind || !/^[0-9a-f]+$/.test(from) || from === this.id) return;
    const seq = readSeqHead(m, HEAD_AT);
    let at = HEAD_AT + SEQ_HEAD_BYTES;
    if (kind === 'ack' || kind === 'nack') return this.delivery.acked(from, seq, kind === 'nack');
    let tag = 0;
    if (TAGGED.has(kind)) {
      const hex = m.toString('latin1', at, at + AGENT_TAG_CHARS);
      if (hex.length !== AGENT_TAG_CHARS || !/^[0-9a-f]+$/.test(hex)) return;
      tag = parseInt(hex, 16);
      at += AGENT_TAG_CHARS;
    }
    // In order, once: a duplicate (sent again) or one past a gap (the gap is asked for again) is dropped here.
    if (!this.delivery.accept(from, seq)) return;
    this.counters.meshFramesIn++;
    this.counters.meshBytesIn += m.length;
    this.onFrame(from, kind, new Uint8Array(m.buffer, m.byteOffset + at, m.length - at), tag);
  }

  close(): void {
    this.started = false;
    this.delivery.close();
    this.sub.disconnect();
  }
}

/**
 * What a Session needs of its WebSocket, over the bus: a coordinator's session
 * for another coordinator (a link) is a plain Session with this underneath.
 */
export class BusSocket {
  readonly OPEN = 1;
  readyState = 1;
  readonly bufferedAmount = 0;

  constructor(
    private readonly out: (frame: Uint8Array) => void,
    /** `reason`: the close frame's (a refusal's error code, coordinator/session.ts fail). */
    private readonly onClose: (code: number, reason: string) => void,
  ) {}

  send(frame: Uint8Array): void {
    if (this.readyState === this.OPEN) this.out(frame);
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState !== this.OPEN) return;
    this.readyState = 3;
    this.onClose(code, reason);
  }

  terminate(): void {
    this.close(1006);
  }

  asWebSocket(): WebSocket {
    return this as unknown as WebSocket;
  }
}
