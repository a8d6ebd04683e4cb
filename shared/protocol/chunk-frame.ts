// Chunk frames (session 37): a relay chunk as a frame of its own, a fixed header and then the chunk's bytes as they
// are, instead of one msgpack message among others. msgpackr copied every chunk into its frame buffer on each
// sending side (the holder, then the coordinator), ~10% of `tabmesh start`'s loop while its own node's 64 MiB objects
// crossed the relay. Where the socket can send a message as fragments (`ws`), the header and the bytes leave as
// two WebSocket fragments of one message, the bytes from where they lie; a reader that takes fragments (`ws` with
// binaryType 'fragments') gets the bytes as the buffer the socket read them into, so the coordinator forwards a
// chunk without copying it and a node places it with one copy. A browser socket sends and reads it as one message.
//
// A frame starts with CHUNK_MARK (0xc4, msgpack's bin 8: an older decoder reads it as a value that is not an array
// of messages and refuses the frame), then:
//   [1] CHUNK_FRAME_VERSION, [2..3] zero, [4..7] x (uint32 LE), [8..15] o and [16..23] n (float64 LE, whole numbers)
// and the chunk's bytes after the 24-byte header. A peer sends them only to a side that said it reads them
// (`chunks` in its hello, or in the coordinator's welcome).
import { ProtocolError } from '../errors.js';
import { MAX_VALUE_BYTES } from './fields.js';
import type { MsgOf } from './messages.js';

export const CHUNK_MARK = 0xc4;
export const CHUNK_FRAME_VERSION = 1;
export const CHUNK_HEAD_BYTES = 24;
/** Offsets and sizes bound as the `chunk` message's (messages.ts). */
const MAX_OFFSET = 2 ** 42;
const MAX_X = 0xffffffff;

/** A chunk frame as the two fragments it came in (head, then the chunk's bytes, not copied). */
export interface ChunkParts {
  readonly head: Uint8Array;
  readonly body: Uint8Array;
  readonly byteLength: number;
}

/** A frame as a socket delivered it: its bytes, or a chunk frame's two fragments. */
export type FrameIn = Uint8Array | ChunkParts;

/** Whether chunk `m` fits a chunk frame (a transfer number past 32 bits travels as a message, as before). */
export function fitsChunkFrame(m: MsgOf<'chunk'>): boolean {
  return m.x <= MAX_X;
}

/** The header of chunk `m`'s frame; its bytes follow it. */
export function chunkHead(m: MsgOf<'chunk'>): Uint8Array {
  const head = new Uint8Array(CHUNK_HEAD_BYTES);
  const v = new DataView(head.buffer);
  head[0] = CHUNK_MARK;
  head[1] = CHUNK_FRAME_VERSION;
  v.setUint32(4, m.x, true);
  v.setFloat64(8, m.o, true);
  v.setFloat64(16, m.n, true);
  return head;
}

/** Chunk `m`'s frame as one buffer (a socket that cannot send fragments: one copy of the bytes, as msgpack made). */
export function chunkFrame(m: MsgOf<'chunk'>): Uint8Array {
  return joinBytes([chunkHead(m), m.d]);
}

/** `parts` copied one after another into a buffer of their own. */
export function joinBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

export function isChunkParts(data: FrameIn): data is ChunkParts {
  return !(data instanceof Uint8Array);
}

/** A frame of fragments as the socket delivered them: the two parts of a chunk frame kept apart, anything else joined. */
export function framePartsIn(parts: readonly Uint8Array[]): FrameIn {
  if (parts.length === 1) return parts[0];
  if (parts.length === 2 && parts[0].byteLength === CHUNK_HEAD_BYTES && parts[0][0] === CHUNK_MARK)
    return { head: parts[0], body: parts[1], byteLength: CHUNK_HEAD_BYTES + parts[1].byteLength };
  return joinBytes(parts);
}

const bad = (why: string): ProtocolError => new ProtocolError('BAD_FRAME', `chunk frame ${why}`);

/** The chunk message of a chunk frame, its bytes a view of the frame's; throws ProtocolError naming what is wrong. */
export function decodeChunkFrame(data: FrameIn): MsgOf<'chunk'> {
  const head = isChunkParts(data) ? data.head : data;
  if (head.byteLength < CHUNK_HEAD_BYTES) throw bad(`of ${head.byteLength} bytes is shorter than its ${CHUNK_HEAD_BYTES}-byte header`);
  if (head[0] !== CHUNK_MARK) throw bad('does not start with its mark');
  if (head[1] !== CHUNK_FRAME_VERSION) throw bad(`version ${head[1]} is not ${CHUNK_FRAME_VERSION}`);
  if (head[2] !== 0 || head[3] !== 0) throw bad('has reserved header bytes set');
  const v = new DataView(head.buffer, head.byteOffset, CHUNK_HEAD_BYTES);
  const x = v.getUint32(4, true);
  const o = v.getFloat64(8, true);
  const n = v.getFloat64(16, true);
  const d = isChunkParts(data) ? data.body : data.subarray(CHUNK_HEAD_BYTES);
  if (!Number.isInteger(o) || o < 0 || o > MAX_OFFSET) throw bad(`offset ${o} is not a whole number of 0-2^42`);
  if (!Number.isInteger(n) || n < 0 || n > MAX_OFFSET) throw bad(`object size ${n} is not a whole number of 0-2^42`);
  if (d.byteLength > MAX_VALUE_BYTES) throw bad(`of ${d.byteLength} bytes is over the limit of ${MAX_VALUE_BYTES}`);
  if (o + d.byteLength > n) throw bad(`of ${d.byteLength} bytes at ${o} runs past the object's ${n} bytes`);
  return { t: 'chunk', x, o, n, d };
}
