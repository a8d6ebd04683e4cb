// A submitted spec's own bytes, forwarded in its assign (issue 14, session 23).
// The coordinator decoded, checked and recorded each spec of a driver's frame
// of records (frame-records.ts), then encoded the same spec again for its
// node: ~1.1 µs a task, as much as decoding it. Both frames are records of the
// same fixed table, so the spec's bytes in the submit are bytes the node reads
// as that spec: the coordinator keeps them (a view of one copy of the frame, on
// the spec object) and splices them into the assign's record in place of the
// spec's encoding.
// It still checks what it forwards (the bytes are those its own check passed),
// and the node still checks what it gets. No protocol change: the node gets
// a frame it could have got before.
//
// Where a spec lies in a frame is read by `skipValue`, a reader of the msgpack
// forms a frame of records uses; any other form (an extension, a record
// defined in the frame, a record number past the table) and the frame's specs
// are simply encoded again. A spec the coordinator changes is a new object
// (task-states.ts spreads it), so it has no bytes kept; one changed in place
// forgets them (`forgetSpecBytes`).
import { addExtension } from 'msgpackr';
import { RECORD_SHAPES, RECORDS_MARK } from './frame-records.js';
import type { Msg, MsgOf, TaskSpec } from './messages.js';

/** Nesting deeper than this is not read (a spec's values are a few levels deep; its argument values are bytes). */
const MAX_DEPTH = 32;
/** Record numbers of the shared table start here (msgpackr). */
const FIRST_RECORD = 0x40;
/** Each record number's count of values (frame-records.ts RECORD_SHAPES). */
const SHAPE_FIELDS = RECORD_SHAPES.map((k) => k.length);
/** The records whose first two keys are `t` and `spec`: a submit's (and an assign's, told apart by `t`). */
const SUBMIT_RECORDS = new Set(RECORD_SHAPES.flatMap((k, i) => (k[0] === 't' && k[1] === 'spec' ? [FIRST_RECORD + i] : [])));
/** 'submit' as a msgpack fixstr: a submit record's first value. */
const SUBMIT_T = [0xa6, 0x73, 0x75, 0x62, 0x6d, 0x69, 0x74];

/**
 * The spec's bytes, on the spec object: kept by the coordinator at decode, taken by the encoder of its assign. A
 * property that is not enumerable: no encoder, spread or structured clone copies it (a retry's spread spec has
 * none), and the GC sees a plain field (a WeakMap's entries cost every GC their ephemeron pass: with a batch's
 * specs held until placed, that ate the gain).
 */
const WIRE = Symbol('spec bytes');
type Keeps = TaskSpec & { [WIRE]?: Uint8Array | undefined };
/** Whether this process kept any (only a coordinator does): others' encoders skip the lookups. */
let keeping = false;

const u16 = (b: Uint8Array, p: number): number => (b[p] << 8) | b[p + 1];
const u32 = (b: Uint8Array, p: number): number => ((b[p] << 24) >>> 0) + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);

/** Past `n` values from `p`, or -1. */
function skipMany(b: Uint8Array, p: number, n: number, depth: number): number {
  if (p > b.length) return -1;
  for (let i = 0; i < n && p >= 0; i++) p = skipValue(b, p, depth + 1);
  return p;
}

/** Past `p + n`, or -1 when that is past the end. */
const upTo = (b: Uint8Array, p: number): number => (p <= b.length ? p : -1);

/**
 * The offset just past the msgpack value at `p` as msgpackr reads a frame of records, or -1 when the value is
 * cut short or of a form not read here (then nothing of the frame is kept: its specs are encoded again).
 */
export function skipValue(b: Uint8Array, p: number, depth = 0): number {
  if (p >= b.length || depth > MAX_DEPTH) return -1;
  const t = b[p++];
  if (t < FIRST_RECORD) return p; // positive fixint (0x40-0x7f are record numbers in a frame of records)
  if (t < 0x80) {
    const n = SHAPE_FIELDS[t - FIRST_RECORD];
    return n === undefined ? -1 : skipMany(b, p, n, depth);
  }
  if (t < 0x90) return skipMany(b, p, (t & 0x0f) * 2, depth);
  if (t < 0xa0) return skipMany(b, p, t & 0x0f, depth);
  if (t < 0xc0) return upTo(b, p + (t & 0x1f));
  if (t >= 0xe0) return p; // negative fixint
  switch (t) {
    case 0xc0: // nil, false, true
    case 0xc2:
    case 0xc3:
      return p;
    case 0xc4: // bin 8, str 8
    case 0xd9:
      return upTo(b, p + 1 + b[p]);
    case 0xc5:
    case 0xda:
      return upTo(b, p + 2 + u16(b, p));
    case 0xc6:
    case 0xdb:
      return upTo(b, p + 4 + u32(b, p));
    case 0xcc:
    case 0xd0:
      return upTo(b, p + 1);
    case 0xcd:
    case 0xd1:
      return upTo(b, p + 2);
    case 0xca:
    case 0xce:
    case 0xd2:
      return upTo(b, p + 4);
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return upTo(b, p + 8);
    case 0xd4: // fixext 1: only `undefined` (extension 0 and its filler byte)
      return b[p] === 0 ? upTo(b, p + 2) : -1;
    case 0xdc:
      return skipMany(b, p + 2, u16(b, p), depth);
    case 0xdd:
      return skipMany(b, p + 4, u32(b, p), depth);
    case 0xde:
      return skipMany(b, p + 2, u16(b, p) * 2, depth);
    case 0xdf:
      return skipMany(b, p + 4, u32(b, p) * 2, depth);
    default:
      return -1;
  }
}

/**
 * Where each message's spec lies in a frame of records, for the submits among its `count` messages: pairs
 * [start, end) by message index (-1 for other messages), or null when the frame is not read through to its
 * last byte (not a frame of records, a form not read here, a different count).
 */
export function submitSpecSpans(b: Uint8Array, count: number): Int32Array | null {
  if (b[0] !== RECORDS_MARK || b.length < 2) return null;
  let p = 1;
  const h = b[p];
  let n: number;
  if (h >= 0x90 && h <= 0x9f) {
    n = h & 0x0f;
    p += 1;
  } else if (h === 0xdc && b.length >= 4) {
    n = u16(b, p + 1);
    p += 3;
  } else if (h === 0xdd && b.length >= 6) {
    n = u32(b, p + 1);
    p += 5;
  } else return null;
  if (n !== count) return null;
  const spans = new Int32Array(n * 2).fill(-1);
  for (let i = 0; i < n; i++) {
    const r = b[p];
    if (SUBMIT_RECORDS.has(r) && isSubmitT(b, p + 1)) {
      const start = p + 1 + SUBMIT_T.length;
      const end = skipValue(b, start);
      if (end < 0) return null;
      spans[2 * i] = start;
      spans[2 * i + 1] = end;
      p = skipMany(b, end, SHAPE_FIELDS[r - FIRST_RECORD] - 2, 0);
    } else p = skipValue(b, p);
    if (p < 0) return null;
  }
  return p === b.length ? spans : null;
}

function isSubmitT(b: Uint8Array, p: number): boolean {
  if (p + SUBMIT_T.length > b.length) return false;
  for (let i = 0; i < SUBMIT_T.length; i++) if (b[p + i] !== SUBMIT_T[i]) return false;
  return true;
}

/** A submit the coordinator places (a node's `local` one runs there, a direct one is on its node already: no assign). */
const forwarded = (m: Msg): m is MsgOf<'submit'> => m.t === 'submit' && m.local !== true && m.to === undefined;

/**
 * Keeps the bytes of each submit's spec of `msgs`, decoded and checked from frame `b`. One copy of the frame's
 * part that holds them (the socket's buffer is not ours to keep), a view a spec. Nothing when the frame is not read through.
 */
export function keepSubmitSpecs(b: Uint8Array, msgs: readonly Msg[]): void {
  let first = 0;
  while (first < msgs.length && !forwarded(msgs[first])) first++;
  if (first === msgs.length) return;
  const spans = submitSpecSpans(b, msgs.length);
  if (!spans) return;
  let lo = Infinity;
  let hi = -1;
  for (let i = first; i < msgs.length; i++)
    if (spans[2 * i] >= 0 && forwarded(msgs[i])) {
      lo = Math.min(lo, spans[2 * i]);
      hi = Math.max(hi, spans[2 * i + 1]);
    }
  if (hi < 0) return;
  const copy = b.slice(lo, hi);
  for (let i = first; i < msgs.length; i++) {
    const m = msgs[i];
    if (!forwarded(m) || spans[2 * i] < 0) continue;
    Object.defineProperty(m.spec, WIRE, { value: copy.subarray(spans[2 * i] - lo, spans[2 * i + 1] - lo), writable: true });
  }
  keeping = true;
}

/** `spec` was changed in place: its bytes are not it any more. */
export function forgetSpecBytes(spec: TaskSpec): void {
  // Written, not deleted: a delete would turn the object into a dictionary.
  if (keeping && (spec as Keeps)[WIRE] !== undefined) (spec as Keeps)[WIRE] = undefined;
}

/** The bytes kept for `spec`, if any (for tests and diagnostics). */
export function specBytesOf(spec: TaskSpec): Uint8Array | undefined {
  return keeping ? (spec as Keeps)[WIRE] : undefined;
}

/** A spec's bytes in a message being encoded: written as they are (msgpackr's extension `pack` with its allocator writes no header). */
class SpecBytes {
  constructor(readonly bytes: Uint8Array) {}
}

addExtension({
  Class: SpecBytes,
  // Never read: a frame that holds this extension number is refused like any unknown one.
  type: 0x7d,
  pack(v: SpecBytes, alloc: (size: number) => { target: Uint8Array; position: number }) {
    const { target, position } = alloc(v.bytes.byteLength);
    target.set(v.bytes, position);
  },
  unpack() {
    throw new Error('extension 0x7d is not read');
  },
} as unknown as Parameters<typeof addExtension>[0]);

/**
 * `msgs` with each assign whose spec has bytes kept carrying them instead (a copy of the array and of those
 * messages; the same array when none has). A spec's bytes are used once: a later assign of it (handed back,
 * placed again) encodes it, and the frame they view can go.
 */
export function spliceSpecs(msgs: Msg[]): Msg[] {
  if (!keeping) return msgs;
  let out: Msg[] | null = null;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (m.t !== 'assign') continue;
    const bytes = (m.spec as Keeps)[WIRE];
    if (bytes === undefined) continue;
    (m.spec as Keeps)[WIRE] = undefined;
    out ??= msgs.slice();
    // Spread: the same keys in the same order (the record the encoder picks), the spec's replaced in place.
    out[i] = { ...m, spec: new SpecBytes(bytes) as unknown as TaskSpec };
  }
  return out ?? msgs;
}
