// The value codec (ARCHITECTURE.md, "Values"): msgpackr with structured clone
// (cycles, Map, Set, Date, typed arrays, ArrayBuffer, BigInt) plus extensions
// for what msgpackr does not keep on its own: Error (name, message, stack,
// cause), and ObjectRef, whose ids are collected while encoding so that refs
// nested anywhere inside a value are known to the GCS.
import { Packr, addExtension } from 'msgpackr';
import { ObjectRef } from './api/ref.js';
import { ActorHandleCore, makeActorHandle, type MethodDefaults } from './api/actor.js';
import type { ObjectId } from './ids.js';
import { ShippedRemote, type RemoteFactory } from './api/shipped.js';
import { TabmeshError } from './errors.js';
import { allocBytes, expose } from './bytes.js';
import { copyInto, isShared, SHARE_MIN_BYTES } from './shared-memory.js';

export interface EncodedValue {
  bytes: Uint8Array;
  /** Ids of the ObjectRefs found inside the value, without repeats. */
  refs: ObjectId[];
}

export type RefFactory = (id: ObjectId) => ObjectRef;
/** Rebuilds an actor handle found inside a value, attached to the reader's mesh. */
export type ActorFactory = (actorId: string, className: string, ref: ObjectRef, methods?: MethodDefaults) => ActorHandleCore;

const EXT_OBJECT_REF = 0x30;
const EXT_ERROR = 0x32;
const EXT_ACTOR = 0x33;
const EXT_REMOTE = 0x34;

let collecting: Set<ObjectId> | null = null;
let makeRef: RefFactory = (id) => new ObjectRef(id);
let makeActor: ActorFactory = (id, className, ref, methods) => makeActorHandle(new ActorHandleCore(id, className, ref, null, methods));
let makeRemote: RemoteFactory = (kind, f, opts) => new ShippedRemote(kind, f, opts);

// A remote function or actor class inside a value: its source and options (issue 13).
addExtension({
  Class: ShippedRemote,
  type: EXT_REMOTE,
  write(r: ShippedRemote) {
    return [r.kind, r.f, r.opts];
  },
  read([kind, f, opts]: [ShippedRemote['kind'], ShippedRemote['f'], ShippedRemote['opts']]) {
    return makeRemote(kind, f, opts);
  },
});

// Before ObjectRef's: a handle holds an ObjectRef, which the nested encode collects.
addExtension({
  Class: ActorHandleCore,
  type: EXT_ACTOR,
  write(h: ActorHandleCore) {
    // The class's per-method defaults travel with the handle (numReturns of a method, issue 13).
    return h.methods ? [h.actorId, h.className, h.ref, h.methods] : [h.actorId, h.className, h.ref];
  },
  read([id, className, ref, methods]: [string, string, ObjectRef, MethodDefaults | undefined]) {
    return makeActor(id, className, ref, methods);
  },
});

addExtension({
  Class: ObjectRef,
  type: EXT_OBJECT_REF,
  write(ref: ObjectRef) {
    collecting?.add(ref.id);
    return ref.id;
  },
  read(id: ObjectId) {
    return makeRef(id);
  },
});

interface WireError {
  name: string;
  message: string;
  stack?: string;
  cause?: unknown;
  code?: unknown;
}

const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

addExtension({
  Class: Error,
  type: EXT_ERROR,
  write(e: Error & { code?: unknown }) {
    const w: WireError = { name: e.name, message: e.message, stack: e.stack };
    if (e.cause !== undefined) w.cause = e.cause;
    if (e.code !== undefined) w.code = e.code;
    return w;
  },
  read(w: WireError) {
    const Cls = ERROR_CLASSES[w.name] ?? Error;
    const e = new Cls(w.message) as Error & { code?: unknown };
    if (!(w.name in ERROR_CLASSES)) e.name = w.name;
    e.stack = w.stack;
    if (w.cause !== undefined) e.cause = w.cause;
    if (w.code !== undefined) e.code = w.code;
    return e;
  },
});

// Records (msgpackr's default) are what keep Maps distinct from objects and
// cycles intact; their definitions travel inside each value, so any decoder
// reads any value.
const packr = new Packr({ structuredClone: true });

function checkSerializable(v: unknown, path: string, seen: Set<unknown>): void {
  const t = typeof v;
  if (t === 'function' || t === 'symbol') {
    throw new TabmeshError('NOT_SERIALIZABLE', `cannot send a ${t} (at ${path || 'the value itself'})`);
  }
  if (t !== 'object' || v === null || seen.has(v)) return;
  if (
    ArrayBuffer.isView(v) ||
    v instanceof ArrayBuffer ||
    v instanceof Date ||
    v instanceof ObjectRef ||
    v instanceof ActorHandleCore ||
    v instanceof ShippedRemote
  )
    return;
  seen.add(v);
  if (v instanceof Map) {
    for (const [k, x] of v) {
      checkSerializable(k, `${path}<key>`, seen);
      checkSerializable(x, `${path}.get(…)`, seen);
    }
  } else if (v instanceof Set) {
    for (const x of v) checkSerializable(x, `${path}<item>`, seen);
  } else if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) checkSerializable(v[i], `${path}[${i}]`, seen);
  } else if (v instanceof Error) {
    checkSerializable(v.cause, `${path}.cause`, seen);
    checkSerializable((v as { code?: unknown }).code, `${path}.code`, seen);
  } else {
    for (const k of Object.keys(v as object)) checkSerializable((v as Record<string, unknown>)[k], `${path}.${k}`, seen);
  }
}

// Raw values (issue 17): an ArrayBuffer or a typed array by itself is stored
// as its bytes after an 8-byte header, not re-encoded by msgpackr. The header
// starts with 0xc1, the one byte msgpack never uses, so one decoder tells the
// two apart; 8 bytes keep the payload aligned for any element type, so a
// reader views it in place (no copy) wherever the bytes sit aligned.
const RAW_MARK = 0xc1;
const RAW_TAG = 0x74;
export const RAW_HEADER = 8;

type RawCtor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): ArrayBufferView; BYTES_PER_ELEMENT: number };
/** Kind byte -> class; index 0 is a plain ArrayBuffer, 12 a DataView. */
const RAW_KINDS: (RawCtor | null)[] = [
  null,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView as unknown as RawCtor,
];
const KIND_ARRAY_BUFFER = 0;
const KIND_DATA_VIEW = 12;

/** The kind byte of a value stored raw, or -1 (subclasses such as Node's Buffer keep the general path). */
function rawKind(v: unknown): number {
  if (typeof v !== 'object' || v === null) return -1;
  const c = v.constructor;
  if (c === ArrayBuffer) return KIND_ARRAY_BUFFER;
  if (!ArrayBuffer.isView(v)) return -1;
  const k = RAW_KINDS.indexOf(c as RawCtor);
  return k > 0 ? k : -1;
}

function encodeRaw(v: ArrayBuffer | ArrayBufferView, kind: number): Uint8Array {
  const src =
    kind === KIND_ARRAY_BUFFER
      ? new Uint8Array(v as ArrayBuffer)
      : new Uint8Array((v as ArrayBufferView).buffer, (v as ArrayBufferView).byteOffset, (v as ArrayBufferView).byteLength);
  // The one copy a put needs: the caller may change its array afterwards.
  const out = allocBytes(RAW_HEADER + src.byteLength, true);
  out.fill(0, 0, RAW_HEADER);
  out[0] = RAW_MARK;
  out[1] = RAW_TAG;
  out[2] = kind;
  copyInto(out, RAW_HEADER, src);
  return out;
}

/**
 * A raw value from its encoding. Typed arrays view the bytes in place when
 * they are aligned (objects are immutable: treat them as read-only, as Ray's
 * zero-copy arrays are); an ArrayBuffer is always a copy of its own.
 */
function decodeRaw(bytes: Uint8Array): unknown {
  const kind = bytes[2];
  if (bytes[1] !== RAW_TAG || kind > KIND_DATA_VIEW) throw new TabmeshError('BAD_MESSAGE', 'value bytes hold the reserved msgpack byte 0xc1');
  const payload = bytes.subarray(RAW_HEADER);
  if (kind === KIND_ARRAY_BUFFER) return payload.slice().buffer;
  const Ctor = RAW_KINDS[kind]!;
  const el = Ctor.BYTES_PER_ELEMENT ?? 1;
  if (payload.byteLength % el !== 0)
    throw new TabmeshError('BAD_MESSAGE', `a raw value of kind ${kind} is ${payload.byteLength} bytes, not a multiple of ${el}`);
  const own = payload.byteOffset % el === 0 ? payload : payload.slice();
  expose(own);
  return new Ctor(own.buffer, own.byteOffset, kind === KIND_DATA_VIEW ? own.byteLength : own.byteLength / el);
}

/** Encodes a value; throws NOT_SERIALIZABLE for functions and symbols. */
export function encodeValue(value: unknown): EncodedValue {
  const kind = rawKind(value);
  if (kind >= 0) return { bytes: encodeRaw(value as ArrayBuffer | ArrayBufferView, kind), refs: [] };
  const prev = collecting;
  const refs = new Set<ObjectId>();
  collecting = refs;
  try {
    let bytes: Uint8Array;
    try {
      bytes = packr.pack(value);
    } catch (e) {
      // Name the offending path when we can (msgpackr says only "Unknown type: symbol").
      checkSerializable(value, '', new Set());
      throw e;
    }
    // msgpackr drops functions silently; only walk the value when that may have happened.
    if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value)) checkSerializable(value, '', new Set());
    else if (typeof value === 'function' || typeof value === 'symbol') checkSerializable(value, '', new Set());
    // msgpackr returns a view into the buffer it reuses (grown to 2-4 times
    // the largest value packed so far). Kept, or posted from an executor
    // (postMessage clones a view's whole buffer), the view carries all of it:
    // 4 MiB behind a 1 MiB object in a node's store, and behind every small
    // result after it. The value gets bytes of its own (large ones shared
    // between threads where the platform allows: executors get them without a copy).
    let own: Uint8Array;
    if (bytes.byteLength >= SHARE_MIN_BYTES) {
      own = allocBytes(bytes.byteLength, true);
      copyInto(own, 0, bytes);
    } else own = bytes.slice();
    return { bytes: own, refs: [...refs] };
  } finally {
    collecting = prev;
  }
}

/** Decodes a value; `factory` builds the ObjectRefs found inside it, `actors` the actor handles, `remotes` remote functions and classes. */
export function decodeValue(bytes: Uint8Array, factory?: RefFactory, actors?: ActorFactory, remotes?: RemoteFactory): unknown {
  const prev = makeRef;
  const prevActor = makeActor;
  const prevRemote = makeRemote;
  if (factory) makeRef = factory;
  if (actors) makeActor = actors;
  if (remotes) makeRemote = remotes;
  try {
    if (bytes[0] === RAW_MARK && bytes.byteLength >= RAW_HEADER) return decodeRaw(bytes);
    // msgpackr cannot read strings out of shared memory: the general path decodes a private copy.
    const v = packr.unpack(isShared(bytes) ? bytes.slice() : bytes);
    // msgpackr returns a marker object for the never-used byte 0xc1 instead of failing.
    if (v !== null && typeof v === 'object' && (v as object).constructor?.name === 'C1Type') {
      throw new TabmeshError('BAD_MESSAGE', 'value bytes hold the reserved msgpack byte 0xc1');
    }
    return v;
  } finally {
    makeRef = prev;
    makeActor = prevActor;
    makeRemote = prevRemote;
  }
}

/** Bytes of the encoding of `undefined`, the result of a task that returns nothing. */
export const UNDEFINED_BYTES: Uint8Array = packr.pack(undefined);
