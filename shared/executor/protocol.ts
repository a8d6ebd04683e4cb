// Messages between a node's runtime (main thread) and its executors (Web
// Workers or worker_threads): the one protocol over a private port (a Web
// Worker's MessagePort, a worker_threads parentPort), call ids and replies
// included; no RPC library on top (docs/decisions.md, issue 12). Structured-
// cloned; byte arrays the sender no longer needs are in the transfer list
// (results, puts, checkpoints; argument and reply copies).
import type { Failure } from '../errors.js';
import type { JobId, ObjectId, TaskId } from '../ids.js';
import type { ActorPart, EnvDecl, FunctionSource, TaskSpec } from '../protocol/messages.js';
import type { Fetched } from '../api/core.js';

export interface RunTask {
  taskId: TaskId;
  jobId: JobId;
  attempt: number;
  /** Retry generation (TaskSpec.gen): the task's children get ids of this generation. */
  gen: number;
  fnId: string;
  name: string;
  /** Sent the first time this executor runs the function. */
  source?: string;
  /** Encoded argument values, ref arguments already resolved. */
  args: Uint8Array[];
  numReturns: number;
  /** Set for an actor's constructor (create) or one of its method calls. */
  actor?: ActorPart;
  /** Sent with `source`: the function's runtime env (issue 16). */
  env?: RunEnv;
}

/**
 * A function's runtime env as an executor gets it: the declarations (for
 * mesh.import/mesh.wasm and for nested functions, which inherit them), which
 * side's artifacts this executor uses, and the bytes of those it has not had yet.
 */
export interface RunEnv {
  decls: EnvDecl[];
  side: 'b' | 'e';
  bytes: { hash: string; bytes: Uint8Array }[];
}

/** Tasks of one job and one function, none an actor's, as columns (columns.ts makes and reads them). */
export interface RunColumns {
  jobId: JobId;
  fnId: string;
  name: string;
  ids: TaskId[];
  nums: number[];
  /** Every task's arguments, in task order (nums says how many each has). */
  args: Uint8Array[];
  /** [task index, source, env]: the function's first task on this executor. */
  firsts?: [number, string | undefined, RunEnv | undefined][];
}

/** Results in the order the tasks ended. */
export interface DoneColumns {
  ids: TaskId[];
  nums: number[];
  /** Every returned value's bytes, in result order. */
  bytes: Uint8Array[];
  /** [index into `bytes`, refs] for the values that hold refs. */
  refs?: [number, ObjectId[]][];
  /** [result index, failure] for the failed ones. */
  failures?: [number, Failure][];
}

export type RunResult =
  | { taskId: TaskId; attempt: number; ms: number; ok: true; returns: { bytes: Uint8Array; refs: ObjectId[] }[] }
  | { taskId: TaskId; attempt: number; ms: number; ok: false; failure: Failure };

export interface ExecutorConfig {
  inlineMax: number;
  nodeName: string;
  /** The node's id once it joined (mesh.runtimeContext()). */
  nodeId?: string | null;
}

/** Shared buffers posted in a message and the lease of each (shared/node/view-leases.ts). */
export type Lent = { buf: SharedArrayBuffer; id: number }[];

export type ToExecutor =
  | { k: 'config'; config: ExecutorConfig }
  | { k: 'run'; tasks: RunTask[]; lent?: Lent }
  /** Tasks of one job and function, as columns (columns.ts): most runs go this way. */
  | { k: 'runs'; c: RunColumns; lent?: Lent }
  | { k: 'reply'; id: number; ok: true; value: unknown; lent?: Lent }
  | { k: 'reply'; id: number; ok: false; error: { code: string; message: string } }
  | { k: 'cancel'; taskId: TaskId }
  /** Buffers this executor holds these leases of were freed: collect now, so the views nobody holds come back. */
  | { k: 'reclaim'; ids: number[] }
  /** Freed buffers of the node's pool, now this executor's, for its next large results (issue 17). */
  | { k: 'stock'; bufs: SharedArrayBuffer[] }
  /** Functions of ended jobs (the coordinator's `forget`): drop their compiled factories. */
  | { k: 'forget'; fns: string[] };

export type Call =
  | { op: 'fn'; f: FunctionSource }
  | { op: 'submit'; spec: TaskSpec }
  | { op: 'put'; id: ObjectId; bytes: Uint8Array; refs: ObjectId[] }
  | { op: 'get'; ids: ObjectId[]; timeoutMs?: number }
  | { op: 'wait'; ids: ObjectId[]; numReturns: number; timeoutMs?: number }
  | { op: 'cancel'; id: ObjectId; force: boolean }
  | { op: 'getActor'; name: string; ns?: string }
  | { op: 'ask'; q: 'nodes' | 'namedActors'; ns?: string; all?: boolean }
  | { op: 'killActor'; id: string };

export type CallReply = { get: Fetched[]; wait: ObjectId[] };

export type FromExecutor =
  | { k: 'done'; results: RunResult[] }
  /** Results as columns (columns.ts). */
  | { k: 'dones'; c: DoneColumns }
  /** `id` 0: no reply wanted. */
  | { k: 'call'; id: number; taskId: TaskId; call: Call }
  | { k: 'block'; taskId: TaskId; blocked: boolean }
  | { k: 'log'; taskId: TaskId; level: 'log' | 'warn' | 'error'; text: string }
  /** An actor's checkpoint() after call `after`. */
  | { k: 'checkpoint'; actorId: TaskId; after: TaskId; state: Uint8Array }
  /** A browser executor's script loaded and locked down (its later errors are tasks', not a failed start). */
  | { k: 'up' }
  /** Leases of shared views this executor let go (its garbage collector found them unreachable). */
  | { k: 'unlent'; ids: number[] };

/** The worker end of the channel, whatever the platform. */
export interface ExecutorEndpoint {
  post(m: FromExecutor, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (m: ToExecutor) => void): void;
}
