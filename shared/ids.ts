// Identities (ARCHITECTURE.md, "Identities"): fixed-size binary ids derived
// deterministically from their parents, so that re-running a task re-creates
// the same child task ids and object ids. In memory and on the wire an id is
// its lowercase hex print (docs/decisions.md: "ids travel as hex").
import { sha256 } from '@noble/hashes/sha2';
import { sha256OneBlock } from './sha256-block.js';

export type JobId = string & { readonly __kind: 'JobId' };
export type TaskId = string & { readonly __kind: 'TaskId' };
export type ObjectId = string & { readonly __kind: 'ObjectId' };
export type FunctionId = string & { readonly __kind: 'FunctionId' };
export type NodeId = string & { readonly __kind: 'NodeId' };
export type ActorId = string & { readonly __kind: 'ActorId' };

export const JOB_ID_BYTES = 8;
export const TASK_ID_BYTES = 16;
export const OBJECT_ID_BYTES = 20;
export const FUNCTION_ID_BYTES = 16;
export const NODE_ID_BYTES = 8;
/** Flag bit in an ObjectId's index: set for objects made by `put`. */
export const PUT_FLAG = 0x80000000;

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

/** Each byte's two hex digits as character codes (toHex's table). */
const HEX_CODES = new Uint16Array(512);
for (let i = 0; i < 256; i++) {
  HEX_CODES[2 * i] = HEX[i].charCodeAt(0);
  HEX_CODES[2 * i + 1] = HEX[i].charCodeAt(1);
}
/** The character codes of a print of n bytes (n up to 32: ids and content hashes), one list for each n, reused. */
const hexCodes: number[][] = [];
const HEX_CODES_MAX = 32;

/**
 * The lowercase hex print of `bytes`: for an id, one flat string made at once from its character codes (a string
 * appended to digit by digit was 16-20 strings an id, the last ones ropes that a map lookup flattens again:
 * issue 14, session 21).
 */
export function toHex(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n > HEX_CODES_MAX) {
    let s = '';
    for (let i = 0; i < n; i++) s += HEX[bytes[i]];
    return s;
  }
  const codes = (hexCodes[n] ??= new Array<number>(2 * n).fill(0));
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    codes[2 * i] = HEX_CODES[2 * b];
    codes[2 * i + 1] = HEX_CODES[2 * b + 1];
  }
  return String.fromCharCode.apply(null, codes);
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  hexInto(out, 0, hex, out.length);
  return out;
}

/** Writes the first `bytes` bytes of `hex` into `out` at `at` (no allocation). */
export function hexInto(out: Uint8Array, at: number, hex: string, bytes: number): void {
  for (let i = 0; i < bytes; i++) out[at + i] = parseInt(hex.substr(i * 2, 2), 16);
}

const HEX_RE: Record<number, RegExp> = {};
/** True when `s` is the hex print of an id of `bytes` bytes. */
export function isHexId(s: unknown, bytes: number): s is string {
  if (typeof s !== 'string' || s.length !== bytes * 2) return false;
  const re = (HEX_RE[bytes] ??= new RegExp(`^[0-9a-f]{${bytes * 2}}$`));
  return re.test(s);
}

export function randomHex(bytes: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(bytes)));
}

export function newJobId(): JobId {
  return randomHex(JOB_ID_BYTES) as JobId;
}

export function newNodeId(): NodeId {
  return randomHex(NODE_ID_BYTES) as NodeId;
}

/** The task id a driver submits from: its job id, zero-padded. */
export function rootTaskId(job: JobId): TaskId {
  // The last job's, kept: the coordinator asks at every submit of a driver (issue 14: a string built a task).
  if (job !== rootOf) {
    rootId = (job + '0'.repeat((TASK_ID_BYTES - JOB_ID_BYTES) * 2)) as TaskId;
    rootOf = job;
  }
  return rootId;
}
let rootOf: JobId | undefined;
let rootId: TaskId;

/** SHA-256 for ids: the portable one, or the platform's (edge/node-hash.ts: OpenSSL's one-shot digest, ~1.4 against ~2.5 µs a task id). */
let idSha256: (bytes: Uint8Array) => Uint8Array = sha256;

export function setIdHasher(h: (bytes: Uint8Array) => Uint8Array): void {
  idSha256 = h;
}

/** SHA-256 of `bytes` with the ids' hasher (the platform's where one is installed). */
export function idDigest(bytes: Uint8Array): Uint8Array {
  return idSha256(bytes);
}

const scratch = new Uint8Array(TASK_ID_BYTES + 4);
const scratchGen = new Uint8Array(TASK_ID_BYTES + 8);
const parentBytes = new Uint8Array(TASK_ID_BYTES);
/** A child task id's digest: its first TASK_ID_BYTES bytes. */
const taskDigest = new Uint8Array(TASK_ID_BYTES);
let lastParent = '';
/**
 * TaskId = hash(parent TaskId, submit index within the parent), and the
 * parent's retry generation when it is not 0: a retried task (it threw, its
 * node or executor was lost) makes fresh children, while re-running a finished
 * task to rebuild a lost output (same generation) re-creates the same ids
 * (docs/decisions.md, "Retries make fresh children").
 */
export function childTaskId(parent: TaskId, index: number, gen = 0): TaskId {
  const buf = gen === 0 ? scratch : scratchGen;
  // A driver (or a task) submits many children of one parent in a row: its bytes are parsed once.
  if (parent !== lastParent) {
    hexInto(parentBytes, 0, parent, TASK_ID_BYTES);
    lastParent = parent;
  }
  buf.set(parentBytes);
  writeU32(buf, TASK_ID_BYTES, index);
  if (gen !== 0) writeU32(buf, TASK_ID_BYTES + 4, gen);
  // One SHA-256 block, in place (sha256-block.ts): the installed hasher's call cost more than the digest.
  return toHex(sha256OneBlock(buf, taskDigest)) as TaskId;
}

/** Puts one attempt of a task may make: a retry generation's puts start past the previous ones'. */
export const PUTS_PER_GEN = 1 << 20;
/** Retry generations whose puts have ids of their own (later ones reuse the last range). */
export const MAX_PUT_GEN = 2047;

/** The put index of the `index`-th put of retry generation `gen`. */
export function genPutIndex(gen: number, index: number): number {
  return Math.min(gen, MAX_PUT_GEN) * PUTS_PER_GEN + index;
}

/** ObjectId = TaskId + return index. */
export function returnObjectId(task: TaskId, index: number): ObjectId {
  // The last one made is given again (the same string): a submit asks for its output's id at the driver's record
  // and again at its handle, and a map lookup by a string already looked up skips its flattening and hashing.
  if (task === lastReturnTask && index === lastReturnIndex) return lastReturnId;
  lastReturnTask = task;
  lastReturnIndex = index;
  return (lastReturnId = (task + u32Hex(index)) as ObjectId);
}
let lastReturnTask = '';
let lastReturnIndex = -1;
let lastReturnId = '' as ObjectId;

/** ObjectId of the `index`-th put made by `task` (or by a driver's root task). */
export function putObjectId(task: TaskId, index: number): ObjectId {
  return (task + u32Hex((PUT_FLAG | index) >>> 0)) as ObjectId;
}

/** The put index of a runtime env artifact (issue 16): past any index genPutIndex makes but its very last. */
const ARTIFACT_INDEX = 0xffffffff;

/**
 * ObjectId of a runtime env artifact: derived from its content hash alone, so
 * that the same bytes are one object in the whole mesh, whichever job or
 * driver declares them (docs/decisions.md, "Runtime env artifacts are objects
 * of the mesh").
 */
export function artifactObjectId(hash: string): ObjectId {
  const task = toHex(idSha256(new TextEncoder().encode('tabmesh-artifact\0' + hash)).subarray(0, TASK_ID_BYTES));
  return (task + u32Hex(ARTIFACT_INDEX)) as ObjectId;
}

/** Whether `id` may name an artifact (the registry knows which ones do). */
export function isArtifactObject(id: ObjectId): boolean {
  return id.endsWith('ffffffff');
}

export function taskOfObject(id: ObjectId): TaskId {
  return id.slice(0, TASK_ID_BYTES * 2) as TaskId;
}

/** The flag is the index's top bit: its first hex digit is 8-f (ids are lowercase hex). No slice, no parse: asked several times a task (issue 14). */
export function isPutObject(id: ObjectId): boolean {
  const c = id.charCodeAt(TASK_ID_BYTES * 2);
  return c === 0x38 || c === 0x39 || (c >= 0x61 && c <= 0x66);
}

export function jobOfRootTask(task: TaskId): JobId {
  return task.slice(0, JOB_ID_BYTES * 2) as JobId;
}

/** FunctionId = hash(kind, source). */
export function functionId(kind: string, source: string): FunctionId {
  return toHex(idSha256(new TextEncoder().encode(kind + '\0' + source)).subarray(0, FUNCTION_ID_BYTES)) as FunctionId;
}

/** The prints of the first return indices: every task makes return 0's id, more than once (issue 14: no new string each time). */
const SMALL_U32_HEX: string[] = [];
for (let i = 0; i < 64; i++) SMALL_U32_HEX.push(i.toString(16).padStart(8, '0'));

function u32Hex(n: number): string {
  return SMALL_U32_HEX[n] ?? (n >>> 0).toString(16).padStart(8, '0');
}

function writeU32(buf: Uint8Array, at: number, n: number): void {
  buf[at] = (n >>> 24) & 0xff;
  buf[at + 1] = (n >>> 16) & 0xff;
  buf[at + 2] = (n >>> 8) & 0xff;
  buf[at + 3] = n & 0xff;
}

/**
 * A copy of an id that shares no memory with the frame it was decoded from.
 * The msgpack decoder hands out strings as slices of one string per run of
 * a frame's strings; an id kept in a long-lived table (bounded histories,
 * what a node may report on) would keep that whole run alive (issue 14).
 */
export function ownId<T extends string>(id: T): T {
  // One flat string of the id's own (issue 14, session 24): `(' ' + id).slice(1)` was a slice of a fresh flat
  // string one character longer, 32 + 56 B kept for a task id against 48. encodeURIComponent builds a new
  // string, equal to an id (hex: nothing to escape); a string it would escape takes the slice.
  const c = encodeURIComponent(id);
  return (c === id ? c : (' ' + id).slice(1)) as T;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
