// The value codec (ARCHITECTURE.md, "Values"): msgpackr with structured clone
// (cycles, Map, Set, Date, typed arrays, ArrayBuffer, BigInt) plus extensions
// for what msgpackr does not keep on its own: Error (name, message, stack,
// cause), and ObjectRef, whose ids are collected while encoding so that refs
// nested anywhere inside a value are known to the GCS.
import { Packr, addExtension } from 'msgpackr';
import { ObjectRef } from './api/ref.js';
import { ActorHandleCore, makeActorHandle, type MethodDefaults } from './api/actor.js';
import type { ObjectId } from './ids.js';
import { TabmeshError } from './errors.js';

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

let collecting: Set<ObjectId> | null = null;
let makeRef: RefFactory = (id) => new ObjectRef(id);
let makeActor: ActorFactory = (id, className, ref, methods) => makeActorHandle(new ActorHandleCore(id, className, ref, null, methods));

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
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date || v instanceof ObjectRef || v instanceof ActorHandleCore) return;
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

/** Encodes a value; throws NOT_SERIALIZABLE for functions and symbols. */
export function encodeValue(value: unknown): EncodedValue {
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
    // result after it. The value gets bytes of its own.
    return { bytes: bytes.slice(), refs: [...refs] };
  } finally {
    collecting = prev;
  }
}

/** Decodes a value; `factory` builds the ObjectRefs found inside it, `actors` the actor handles. */
export function decodeValue(bytes: Uint8Array, factory?: RefFactory, actors?: ActorFactory): unknown {
  const prev = makeRef;
  const prevActor = makeActor;
  if (factory) makeRef = factory;
  if (actors) makeActor = actors;
  try {
    const v = packr.unpack(bytes);
    // msgpackr returns a marker object for the never-used byte 0xc1 instead of failing.
    if (v !== null && typeof v === 'object' && (v as object).constructor?.name === 'C1Type') {
      throw new TabmeshError('BAD_MESSAGE', 'value bytes hold the reserved msgpack byte 0xc1');
    }
    return v;
  } finally {
    makeRef = prev;
    makeActor = prevActor;
  }
}

/** Bytes of the encoding of `undefined`, the result of a task that returns nothing. */
export const UNDEFINED_BYTES: Uint8Array = packr.pack(undefined);
