// The transfer protocol on a peer link (issue 4): the requester asks for an
// object by id on a transfer number it picks; the holder answers with chunks
// of at most 64 KiB, or a failure. Chunks are binary with a fixed header;
// control messages are small JSON texts.
import type { ObjectId } from '../ids.js';

/** Largest message on a link, header included. */
export const LINK_CHUNK_BYTES = 64 * 1024;
const CHUNK_HEADER = 1 + 4 + 8 + 8;
/** Object bytes in one chunk. */
export const CHUNK_DATA_BYTES = LINK_CHUNK_BYTES - CHUNK_HEADER;

const KIND_CONTROL = 0;
const KIND_CHUNK = 1;

export type Control =
  | { k: 'req'; x: number; id: ObjectId }
  | { k: 'fail'; x: number; reason: string }
  /** The requester gave up on transfer `x`: stop sending it. */
  | { k: 'cancel'; x: number };

export interface Chunk {
  x: number;
  /** Offset of `d` in the object, and the object's size. */
  o: number;
  n: number;
  d: Uint8Array;
}

export type LinkMessage = { control: Control; chunk?: undefined } | { chunk: Chunk; control?: undefined };

const enc = new TextEncoder();
const dec = new TextDecoder();

export function writeControl(c: Control): Uint8Array {
  const text = enc.encode(JSON.stringify(c));
  const out = new Uint8Array(1 + text.byteLength);
  out[0] = KIND_CONTROL;
  out.set(text, 1);
  return out;
}

export function writeChunk(x: number, o: number, n: number, d: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER + d.byteLength);
  writeChunkHeader(out, x, o, n);
  out.set(d, CHUNK_HEADER);
  return out;
}

/** The header of a chunk message alone, for links that send it and the data as parts. */
export function chunkHeader(x: number, o: number, n: number): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER);
  writeChunkHeader(out, x, o, n);
  return out;
}

function writeChunkHeader(out: Uint8Array, x: number, o: number, n: number): void {
  const v = new DataView(out.buffer, out.byteOffset, CHUNK_HEADER);
  out[0] = KIND_CHUNK;
  v.setUint32(1, x, true);
  v.setFloat64(5, o, true);
  v.setFloat64(13, n, true);
}

/** Decodes one link message; throws on anything malformed (the link is then closed). */
export function readMessage(b: Uint8Array): LinkMessage {
  if (b.byteLength < 1) throw new Error('empty link message');
  if (b[0] === KIND_CHUNK) {
    if (b.byteLength < CHUNK_HEADER) throw new Error('short chunk');
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const x = v.getUint32(1, true);
    const o = v.getFloat64(5, true);
    const n = v.getFloat64(13, true);
    if (!Number.isSafeInteger(o) || !Number.isSafeInteger(n) || o < 0 || n < 0) throw new Error('bad chunk header');
    return { chunk: { x, o, n, d: b.subarray(CHUNK_HEADER) } };
  }
  if (b[0] !== KIND_CONTROL) throw new Error(`unknown link message kind ${b[0]}`);
  if (b.byteLength > 4096) throw new Error('control message too long');
  const c = JSON.parse(dec.decode(b.subarray(1))) as Control;
  if (typeof c !== 'object' || c === null || !Number.isInteger(c.x) || c.x < 0) throw new Error('bad control message');
  if (c.k === 'req' && typeof c.id === 'string' && /^[0-9a-f]{40}$/.test(c.id)) return { control: c };
  if (c.k === 'fail' && typeof c.reason === 'string') return { control: { k: 'fail', x: c.x, reason: c.reason.slice(0, 1024) } };
  if (c.k === 'cancel') return { control: { k: 'cancel', x: c.x } };
  throw new Error('bad control message');
}
