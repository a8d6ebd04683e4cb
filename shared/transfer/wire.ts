// The transfer protocol on a peer link (issue 4): the requester asks for an
// object by id on a transfer number it picks, from an offset; the holder
// answers with chunks, or a failure. Chunks are binary with a fixed header;
// control messages are small JSON texts.
//
// Issue 17: a chunk is one leaf of the object's chunk-hash tree (64 KiB, the
// last one shorter), so the reader checks each on its own. A requester that
// asks with `h` first gets the leaves (binary, up to 2048 a message), which it
// checks against the object's hash from the GCS; `o` resumes a transfer at a
// chunk boundary (the rest of an object from another holder).
//
// Swarm broadcast (issue 17, swarm.ts): `e` ends a request at a chunk
// boundary (a run of chunks from one of several holders), and `have`
// messages (binary) tell the peers fetching one object which chunks this side
// holds (verified) and which it has asked a full holder for (claims).
//
// Fast links (issue 17, fifth session): a reader on a stream link asks with
// `c`, the bytes per chunk it takes (a whole number of leaves, up to 1 MiB);
// the holder sends chunks of that many leaves, each still checked leaf by
// leaf. Without `c` (older readers, data channels) a chunk is one leaf.
//
// Wire 2 (issue 17, session 13): a chunk's header is 24 bytes (its kind, three
// zero bytes, then the transfer, offset and size, each at its own alignment),
// so a chunk's data starts 8-aligned in the message a channel delivers, as it
// sits in the object: the receiver's copy into shared memory is word by word
// in one pass (21 bytes made it byte by byte, or two passes through a scratch).
// Every peer of one mesh runs one build: a reader says its wire in each
// request (`v`), a holder refuses a request of another wire with `fail` (the
// reader takes the object from elsewhere, and does not count the holder a
// liar), and a reader that gets a chunk of the 21-byte header closes the link
// as a peer of another build (WireVersionError), not as a bad holder.
//
// The holder's word (issue 17, session 14, fan-out.ts): a reader that acts on
// it asks with `f`; a full holder answers such a request `fan` with `m`, its
// word (stream the whole object from it, or take it from the swarm), before
// the request's bytes. Older holders ignore `f`; older readers never ask it,
// so never get a `fan`: the wire stays 2 both ways. `r` (session 16): fill
// (fan-out.ts); readers of session 15 drop it and take all from the holder.
import { hexInto, TASK_ID_BYTES, toHex, type ObjectId, type TaskId } from '../ids.js';
import { FAN_STREAM, FAN_SWARM, type FanWord } from './fan-out.js';
import { HASH_CHUNK, LEAF_BYTES } from '../hash.js';
import { TAG_BYTES } from '../protocol/shortcut.js';

/** The link wire this build speaks. */
export const WIRE_VERSION = 2;

/** A message of another build's link wire: the link closes, nobody is blamed. */
export class WireVersionError extends Error {}

const CHUNK_HEADER = 24;
/** Bytes of a chunk message before its data. */
export const CHUNK_HEADER_BYTES = CHUNK_HEADER;
/** Object bytes in one chunk: one leaf's worth. */
export const CHUNK_DATA_BYTES = HASH_CHUNK;
/** Largest message on a link, header included. */
export const LINK_CHUNK_BYTES = CHUNK_HEADER + CHUNK_DATA_BYTES;
/** Most object bytes a reader may ask per chunk (`c`): 16 leaves. */
export const MAX_CHUNK_DATA_BYTES = 16 * CHUNK_DATA_BYTES;
/** Largest message on a link whose reader asks with `c`, header included. */
export const MAX_LINK_CHUNK_BYTES = CHUNK_HEADER + MAX_CHUNK_DATA_BYTES;
const LEAVES_HEADER = 1 + 4 + 4;
/** Leaves in one leaves message. */
export const LEAVES_PER_MESSAGE = 2048;

const KIND_CONTROL = 0;
/** A chunk of wire 1 (a 21-byte header): refused. */
const KIND_CHUNK_V1 = 1;
const KIND_CHUNK = 4;
/** The first byte of a chunk message. */
export const CHUNK_KIND = KIND_CHUNK;
const KIND_LEAVES = 2;
const KIND_HAVE = 3;
/** A small task result for the driver (issue 14, session 14; shared/protocol/shortcut.ts). */
const KIND_RESULT = 5;
/** Kind, three zero bytes, the object id, the attempt, the tag; then the value. */
const RESULT_HEADER = 4 + 20 + 4 + TAG_BYTES;
/** A task a driver pushes straight to a node (shared/protocol/direct.ts): kind, three zero bytes, then a coordinator frame of [fn?, submit]. */
const KIND_TASK = 6;
/** A node refuses such a task: kind, three zero bytes, the task id, then the reason (UTF-8). */
const KIND_REFUSE = 7;
const REFUSE_HEADER = 4 + TASK_ID_BYTES;
const MAX_REFUSE_REASON = 1024;
const HAVE_HEADER = 1 + 20 + 4 + 4;
/** Chunk indices in one have message (both lists together). */
export const HAVE_PER_MESSAGE = 16_384;

/** Chunks of object `id` the sender holds verified, and chunks it asked a full holder for. */
export interface Have {
  id: ObjectId;
  have: number[];
  claim: number[];
}

export interface Leaves {
  x: number;
  /** Index of the first leaf in `d`. */
  i: number;
  d: Uint8Array;
}

export type Control =
  /** `v`: the reader's wire (WIRE_VERSION; absent: wire 1). */
  | { k: 'req'; x: number; id: ObjectId; o?: number; e?: number; h?: boolean; c?: number; v?: number; f?: boolean }
  | { k: 'fail'; x: number; reason: string }
  /** The holder's word on transfer `x` (fan-out.ts), to a reader that asked with `f`. */
  | { k: 'fan'; x: number; m: FanWord; r?: true }
  /** The requester gave up on transfer `x`: stop sending it. */
  | { k: 'cancel'; x: number };

export interface Chunk {
  x: number;
  /** Offset of `d` in the object, and the object's size. */
  o: number;
  n: number;
  d: Uint8Array;
}

/** A task's small result, sent by the node that ran it to its driver, with the coordinator's tag for that run. */
export interface Shortcut {
  id: ObjectId;
  attempt: number;
  tag: Uint8Array;
  v: Uint8Array;
}

/** A direct submission's link messages (shared/protocol/direct.ts): `frame` is checked by the node as a coordinator frame. */
export type Direct = { k: 'task'; frame: Uint8Array } | { k: 'refuse'; taskId: TaskId; reason: string };

export type LinkMessage =
  | { control: Control; chunk?: undefined; leaves?: undefined; have?: undefined; result?: undefined; direct?: undefined }
  | { chunk: Chunk; control?: undefined; leaves?: undefined; have?: undefined; result?: undefined; direct?: undefined }
  | { leaves: Leaves; control?: undefined; chunk?: undefined; have?: undefined; result?: undefined; direct?: undefined }
  | { have: Have; control?: undefined; chunk?: undefined; leaves?: undefined; result?: undefined; direct?: undefined }
  | { result: Shortcut; control?: undefined; chunk?: undefined; leaves?: undefined; have?: undefined; direct?: undefined }
  | { direct: Direct; control?: undefined; chunk?: undefined; leaves?: undefined; have?: undefined; result?: undefined };

export function writeDirectTask(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + frame.byteLength);
  out[0] = KIND_TASK;
  out.set(frame, 4);
  return out;
}

export function writeDirectRefuse(taskId: TaskId, reason: string): Uint8Array {
  const text = enc.encode(reason.slice(0, MAX_REFUSE_REASON));
  const out = new Uint8Array(REFUSE_HEADER + text.byteLength);
  out[0] = KIND_REFUSE;
  hexInto(out, 4, taskId, TASK_ID_BYTES);
  out.set(text, REFUSE_HEADER);
  return out;
}

function readDirect(b: Uint8Array): Direct {
  if (b[0] === KIND_TASK) return { k: 'task', frame: b.subarray(4) };
  if (b.byteLength < REFUSE_HEADER || b.byteLength > REFUSE_HEADER + 4 * MAX_REFUSE_REASON) throw new Error('bad refusal message');
  return { k: 'refuse', taskId: toHex(b.subarray(4, REFUSE_HEADER)) as TaskId, reason: dec.decode(b.subarray(REFUSE_HEADER)) };
}

export function writeShortcut(id: ObjectId, attempt: number, tagHex: string, v: Uint8Array): Uint8Array {
  const out = new Uint8Array(RESULT_HEADER + v.byteLength);
  out[0] = KIND_RESULT;
  hexInto(out, 4, id, 20);
  new DataView(out.buffer).setUint32(24, attempt >>> 0, true);
  hexInto(out, 28, tagHex, TAG_BYTES);
  out.set(v, RESULT_HEADER);
  return out;
}

function readShortcut(b: Uint8Array): Shortcut {
  if (b.byteLength < RESULT_HEADER) throw new Error('short result message');
  return {
    id: toHex(b.subarray(4, 24)) as ObjectId,
    attempt: new DataView(b.buffer, b.byteOffset + 24, 4).getUint32(0, true),
    tag: b.subarray(28, RESULT_HEADER),
    v: b.subarray(RESULT_HEADER),
  };
}

export function writeHave(h: Have): Uint8Array {
  const out = new Uint8Array(HAVE_HEADER + 4 * (h.have.length + h.claim.length));
  const v = new DataView(out.buffer);
  out[0] = KIND_HAVE;
  hexInto(out, 1, h.id, 20);
  v.setUint32(21, h.have.length, true);
  v.setUint32(25, h.claim.length, true);
  let o = HAVE_HEADER;
  for (const c of h.have) v.setUint32((o += 4) - 4, c, true);
  for (const c of h.claim) v.setUint32((o += 4) - 4, c, true);
  return out;
}

function readHave(b: Uint8Array): Have {
  if (b.byteLength < HAVE_HEADER) throw new Error('short have message');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let id = '';
  for (let i = 0; i < 20; i++) id += b[1 + i].toString(16).padStart(2, '0');
  const nh = v.getUint32(21, true);
  const nc = v.getUint32(25, true);
  if (nh + nc > HAVE_PER_MESSAGE || b.byteLength !== HAVE_HEADER + 4 * (nh + nc)) throw new Error('bad have message');
  const list = (from: number, n: number) => Array.from({ length: n }, (_, i) => v.getUint32(HAVE_HEADER + 4 * (from + i), true));
  return { id: id as ObjectId, have: list(0, nh), claim: list(nh, nc) };
}

export function writeLeaves(x: number, i: number, d: Uint8Array): Uint8Array {
  const out = new Uint8Array(LEAVES_HEADER + d.byteLength);
  const v = new DataView(out.buffer);
  out[0] = KIND_LEAVES;
  v.setUint32(1, x, true);
  v.setUint32(5, i, true);
  out.set(d, LEAVES_HEADER);
  return out;
}

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

let reused = new Uint8Array(0);

/**
 * `writeChunk` into one buffer that every call reuses (valid until the next
 * call), for channels whose send copies the bytes before it returns (a
 * browser's WebSocket and data channel: RawPeer.sendCopies). Issue 17,
 * session 12: no fresh, zeroed 64 KiB a chunk on a tab's main thread. The
 * data lands aligned as it is in `d`: a copy out of shared memory (an
 * isolated tab's objects) is word by word only then.
 */
export function writeChunkReused(x: number, o: number, n: number, d: Uint8Array): Uint8Array {
  const len = CHUNK_HEADER + d.byteLength;
  if (reused.byteLength < len + 8) reused = new Uint8Array(Math.max(len, LINK_CHUNK_BYTES) + 8);
  const k = (((d.byteOffset - CHUNK_HEADER) % 8) + 8) % 8;
  const out = reused.subarray(k, k + len);
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
  out[1] = out[2] = out[3] = 0;
  v.setUint32(4, x, true);
  v.setFloat64(8, o, true);
  v.setFloat64(16, n, true);
}

/** The header of a chunk message (its first CHUNK_HEADER_BYTES), or null when `b` is not a chunk; throws on a bad one. */
export function readChunkHeader(b: Uint8Array): { x: number; o: number; n: number } | null {
  if (b.byteLength < 1 || b[0] !== KIND_CHUNK) {
    if (b[0] === KIND_CHUNK_V1)
      throw new WireVersionError(`a chunk of link wire 1 (a 21-byte header; this build speaks wire ${WIRE_VERSION}): the peer runs an older build`);
    return null;
  }
  if (b.byteLength < CHUNK_HEADER) throw new Error('short chunk');
  const v = new DataView(b.buffer, b.byteOffset, CHUNK_HEADER);
  const x = v.getUint32(4, true);
  const o = v.getFloat64(8, true);
  const n = v.getFloat64(16, true);
  if (!Number.isSafeInteger(o) || !Number.isSafeInteger(n) || o < 0 || n < 0) throw new Error('bad chunk header');
  return { x, o, n };
}

/** Decodes one link message; throws on anything malformed (the link is then closed). */
export function readMessage(b: Uint8Array): LinkMessage {
  if (b.byteLength < 1) throw new Error('empty link message');
  const head = readChunkHeader(b);
  if (head) return { chunk: { ...head, d: b.subarray(CHUNK_HEADER) } };
  if (b[0] === KIND_LEAVES) {
    if (b.byteLength < LEAVES_HEADER) throw new Error('short leaves message');
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const d = b.subarray(LEAVES_HEADER);
    if (d.byteLength % LEAF_BYTES !== 0 || d.byteLength > LEAVES_PER_MESSAGE * LEAF_BYTES) throw new Error('bad leaves message');
    return { leaves: { x: v.getUint32(1, true), i: v.getUint32(5, true), d } };
  }
  if (b[0] === KIND_HAVE) return { have: readHave(b) };
  if (b[0] === KIND_RESULT) return { result: readShortcut(b) };
  if (b[0] === KIND_TASK || b[0] === KIND_REFUSE) return { direct: readDirect(b) };
  if (b[0] !== KIND_CONTROL) throw new Error(`unknown link message kind ${b[0]}`);
  if (b.byteLength > 4096) throw new Error('control message too long');
  const c = JSON.parse(dec.decode(b.subarray(1))) as Control;
  if (typeof c !== 'object' || c === null || !Number.isInteger(c.x) || c.x < 0) throw new Error('bad control message');
  if (c.k === 'req' && typeof c.id === 'string' && /^[0-9a-f]{40}$/.test(c.id)) {
    const o = c.o ?? 0;
    if (!Number.isSafeInteger(o) || o < 0 || o % CHUNK_DATA_BYTES !== 0) throw new Error('bad request offset');
    const req: Control = { k: 'req', x: c.x, id: c.id, o, h: c.h === true };
    if (c.c !== undefined) {
      if (!Number.isSafeInteger(c.c) || c.c <= 0 || c.c % CHUNK_DATA_BYTES !== 0 || c.c > MAX_CHUNK_DATA_BYTES) throw new Error('bad request chunk size');
      req.c = c.c;
    }
    if (c.e !== undefined) {
      if (!Number.isSafeInteger(c.e) || c.e < o) throw new Error('bad request end');
      req.e = c.e;
    }
    if (c.v !== undefined) {
      if (!Number.isSafeInteger(c.v) || c.v < 1) throw new Error('bad request wire version');
      req.v = c.v;
    }
    if (c.f === true) req.f = true;
    return { control: req };
  }
  if (c.k === 'fail' && typeof c.reason === 'string') return { control: { k: 'fail', x: c.x, reason: c.reason.slice(0, 1024) } };
  if (c.k === 'cancel') return { control: { k: 'cancel', x: c.x } };
  if (c.k === 'fan' && (c.m === FAN_STREAM || c.m === FAN_SWARM)) return { control: { k: 'fan', x: c.x, m: c.m, ...(c.r === true && { r: true as const }) } };
  throw new Error('bad control message');
}
