// Frames between coordinators of one mesh (issue 15), over Redis pub/sub: each
// coordinator listens on `<p>:mesh:<id>`. A message is one protocol frame
// (msgpack, batched per turn as on a WebSocket) with a one-byte kind and the
// sender's id in front. Pub/sub, not streams: a frame lost while a
// coordinator restarts belongs to a link that dies with it anyway (its tasks
// are re-placed, its job leases re-taken).
import type { Cluster, Redis } from 'ioredis';
import type { WebSocket } from 'ws';

/**
 * To the owner's link session (what a node would send); to the agent (what a
 * coordinator sends a node); a peer-link signal between two coordinators'
 * nodes (signal-relay.ts); a question for the state API's rows and its
 * answer (mesh-view.ts).
 */
export type FrameKind = 'toLink' | 'toAgent' | 'signal' | 'ask' | 'answer';
const KIND_BYTE: Record<FrameKind, number> = { toLink: 0x4c, toAgent: 0x41, signal: 0x53, ask: 0x51, answer: 0x52 };
const KIND_OF = new Map<number, FrameKind>(Object.entries(KIND_BYTE).map(([k, b]) => [b, k as FrameKind]));
/**
 * A link's frames each way leave at most this often while busy (Outbox.gapMs; an idle link's at once): each is a
 * publish here and a decode and a scheduler pass there, and one a turn carried 1-2 tasks (issue 14).
 * TABMESH_MESH_FLUSH_MS=0: one a turn, as before (the bench's A/B).
 */
export const LINK_FLUSH_MS = Math.max(0, Number(process.env.TABMESH_MESH_FLUSH_MS ?? 2) || 0);
/** Coordinator ids are 16 hex characters. */
export const COORDINATOR_ID_CHARS = 16;

export class MeshBus {
  private readonly sub: Redis | Cluster;
  /** Frames (publishes) and their bytes sent to and received from other coordinators (/api/stats: a job's frames a task). */
  readonly counters = { meshFramesOut: 0, meshFramesIn: 0, meshBytesOut: 0, meshBytesIn: 0 };
  onFrame: (from: string, kind: FrameKind, frame: Uint8Array) => void = () => {};

  constructor(
    private readonly client: Redis | Cluster,
    private readonly prefix: string,
    readonly id: string,
  ) {
    this.sub = client.duplicate();
    this.sub.on('error', () => {}); // reconnects by itself
    this.sub.on('messageBuffer', (_channel: Buffer, m: Buffer) => this.receive(m));
  }

  private channel(id: string): string {
    return `${this.prefix}:mesh:${id}`;
  }

  async start(): Promise<void> {
    await this.sub.subscribe(this.channel(this.id));
  }

  send(to: string, kind: FrameKind, frame: Uint8Array): void {
    const head = Buffer.alloc(1 + COORDINATOR_ID_CHARS);
    head[0] = KIND_BYTE[kind];
    head.write(this.id, 1, 'latin1');
    this.counters.meshFramesOut++;
    this.counters.meshBytesOut += head.length + frame.byteLength;
    void this.client.publish(this.channel(to), Buffer.concat([head, frame])).catch(() => {});
  }

  private receive(m: Buffer): void {
    if (m.length < 1 + COORDINATOR_ID_CHARS) return;
    const kind = KIND_OF.get(m[0]);
    const from = m.toString('latin1', 1, 1 + COORDINATOR_ID_CHARS);
    if (!kind || !/^[0-9a-f]+$/.test(from) || from === this.id) return;
    this.counters.meshFramesIn++;
    this.counters.meshBytesIn += m.length;
    this.onFrame(from, kind, new Uint8Array(m.buffer, m.byteOffset + 1 + COORDINATOR_ID_CHARS, m.length - 1 - COORDINATOR_ID_CHARS));
  }

  close(): void {
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
    private readonly onClose: (code: number) => void,
  ) {}

  send(frame: Uint8Array): void {
    if (this.readyState === this.OPEN) this.out(frame);
  }

  close(code = 1000): void {
    if (this.readyState !== this.OPEN) return;
    this.readyState = 3;
    this.onClose(code);
  }

  terminate(): void {
    this.close(1006);
  }

  asWebSocket(): WebSocket {
    return this as unknown as WebSocket;
  }
}
