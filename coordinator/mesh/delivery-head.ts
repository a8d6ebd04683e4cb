// The mesh bus's delivery (delivery.ts, issue 14): the sequence head every message carries, the bounds, the timings
// both sides share, and what the send side (delivery-send.ts) and the receive side (delivery-receive.ts) are given.

/** epoch, seq, ackEpoch, ack: four big-endian u32 after the kind and the sender's id (an ack's: inc, late, ackEpoch, ack). */
export const SEQ_HEAD_BYTES = 16;

export interface SeqHead {
  epoch: number;
  seq: number;
  ackEpoch: number;
  ack: number;
}

export function readSeqHead(m: Uint8Array, at: number): SeqHead {
  const v = new DataView(m.buffer, m.byteOffset + at, SEQ_HEAD_BYTES);
  return { epoch: v.getUint32(0), seq: v.getUint32(4), ackEpoch: v.getUint32(8), ack: v.getUint32(12) };
}

export function writeSeqHead(m: Uint8Array, at: number, h: SeqHead): void {
  const v = new DataView(m.buffer, m.byteOffset + at, SEQ_HEAD_BYTES);
  v.setUint32(0, h.epoch);
  v.setUint32(4, h.seq);
  v.setUint32(8, h.ackEpoch);
  v.setUint32(12, h.ack);
}

export interface DeliveryLimits {
  /** Unacked messages kept per peer (TABMESH_MESH_RESEND_FRAMES). */
  frames: number;
  /** Unacked bytes kept per peer (TABMESH_MESH_RESEND_BYTES); Redis's own pub/sub output bound is 32 MiB. */
  bytes: number;
  /** Forgotten peers' streams whose place we keep (TABMESH_MESH_FORGOTTEN_PEERS, 0: none; delivery-receive.ts), else 4,096. */
  forgotten?: number;
}

/** The forgotten streams whose place a receiver keeps by default: 4,096 of a few numbers and an id (~0.5 MB at most). */
export const FORGOTTEN_PEERS = 4096;

/** The bounds from the environment (read when a coordinator starts), else 20,000 frames and 32 MiB. */
export function limitsFromEnv(env: Record<string, string | undefined> = process.env): DeliveryLimits {
  return {
    frames: Math.max(1, Math.floor(Number(env.TABMESH_MESH_RESEND_FRAMES)) || 20_000),
    bytes: Math.max(1, Math.floor(Number(env.TABMESH_MESH_RESEND_BYTES)) || 32 * 1024 * 1024),
    forgotten: count(env.TABMESH_MESH_FORGOTTEN_PEERS, FORGOTTEN_PEERS),
  };
}

/** A count from the environment, 0 allowed; unset, empty or not a number: `fallback`. */
function count(v: string | undefined, fallback: number): number {
  const n = v === undefined || v.trim() === '' ? NaN : Math.floor(Number(v));
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/**
 * A standalone ack leaves this long after a frame when nothing of ours carried it back first (TABMESH_MESH_ACK_MS).
 * 200, not 40 (session 21, bench/mesh-acks): a job of 30 ms tasks over two coordinators sent 0.145 standalone acks a
 * task at 40 ms (1.13 PUBLISH a task) and 0.045 at 200 (1.02); well under RTO_MS, so no resend waits on it.
 */
export const ACK_MS = Math.max(1, Number(process.env.TABMESH_MESH_ACK_MS ?? 200) || 200);
/** A resend asked for (a gap) is not repeated for the same place within this. */
export const AGAIN_MS = 200;

export interface DeliveryIo {
  /** Publishes a message (its head at `headAt` already written) to the peer. */
  publish(to: string, m: Buffer): void;
  /** An ack (`nack`: and send again what follows it now) to the peer. */
  control(to: string, nack: boolean, ackEpoch: number, ack: number, inc: number, late: boolean): void;
  /** Frames to or from the peer were lost for good: end the links with it as when it was taken for gone. */
  reset(peer: string, why: string): void;
}

export interface DeliveryCounters {
  meshResent: number;
  meshAcksOut: number;
  meshResets: number;
  meshDuplicates: number;
  meshGaps: number;
  /** A forgotten peer's stream taken up again where it was (delivery-receive.ts). */
  meshStreamsRestored: number;
}
