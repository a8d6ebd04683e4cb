// A task as a node holds it (its arguments, state, executor, holds) and the
// node's executors as the local scheduler sees them; what a platform spawns.
import { forPosting } from '../bytes.js';
import type { FromExecutor, RunEnv, RunTask, ToExecutor } from '../executor/protocol.js';
import type { EnvDecl, MsgOf, TaskSpec } from '../protocol/messages.js';
import type { ObjectId, TaskId } from '../ids.js';
import type { ViewLeases } from './view-leases.js';
import { noteLent, type LentArg } from './arg-writes.js';

/** A platform's executor: a Web Worker or a worker_threads Worker. */
export interface ExecutorHandle {
  /** `transfer`: buffers that move to the executor (this side no longer needs them). */
  post(m: ToExecutor, transfer?: ArrayBuffer[]): void;
  terminate(): void;
}

export type SpawnExecutor = (index: number, onMessage: (m: FromExecutor) => void, onExit: (why: string) => void) => ExecutorHandle;

export interface LocalTask {
  spec: TaskSpec;
  args: (Uint8Array | null)[];
  missing: number;
  state: 'resolving' | 'ready' | 'running' | 'ended';
  executor: Executor | null;
  blocked: boolean;
  /** Objects this node holds on the task's behalf (children, puts), released when it ends. */
  holds: ObjectId[];
  timer: unknown;
  /** An actor method call: it runs on the actor's executor, outside the slot accounting. */
  actorCall?: boolean;
  /** The coordinator waits on this direct task's end (`hurry`): its report goes at once, not on a later frame. */
  hurried?: boolean;
  /** Its run called out to the mesh (submit, put, get, wait, ask...): a run under another attempt is not the same one. */
  calledOut?: boolean;
  /** The attempt its executor runs it under, when a higher one was assigned while it ran and the run was kept (admission.ts). */
  runAttempt?: number;
  /** The coordinator's tag for sending its result straight to the driver (shared/protocol/shortcut.ts), for `spec.attempt`. */
  sc?: string;
  /** A member of a task group's slice (groups.ts): reported in its slice's `groupDone`, never `started` alone. */
  member?: GroupMember;
  /** Its arguments lent in place to its executor, checked for writes when it ends (arg-writes.ts). */
  lent?: LentArg[];
}

export interface Executor {
  index: number;
  handle: ExecutorHandle;
  /** Tasks dispatched and not blocked in get/wait. Free at 0. */
  active: number;
  tasks: Set<LocalTask>;
  fns: Set<string>;
  /** Actors living here that hold a CPU: the executor takes no other tasks. */
  reserved: number;
  /** Views of shared object memory lent to it (issue 17). */
  leases: ViewLeases;
  /** Runtime env artifacts (by hash) whose bytes this executor was sent (issue 16). */
  envs?: Set<string>;
  /** Where its messages and its exit go: the pool's, moved when a new session adopts an actor's executor (issue 15). */
  route: { message: (ex: Executor, m: FromExecutor) => void; exit: (ex: Executor, why: string) => void };
}

/** A function's runtime env as the node has it: declarations, this node's side, the bytes by hash. */
export interface NodeEnv {
  decls: EnvDecl[];
  side: 'b' | 'e';
  bytes(hash: string): Uint8Array | undefined;
}

/** The env to send with a function's first task on an executor: the bytes of the artifacts it was not `sent` yet. */
export function runEnvOf(env: NodeEnv | undefined, sent: Set<string>): RunEnv | undefined {
  if (!env) return undefined;
  const bytes: RunEnv['bytes'] = [];
  for (const d of env.decls) {
    const hash = d[env.side].hash;
    const b = env.bytes(hash);
    if (b && !sent.has(hash)) {
      sent.add(hash);
      bytes.push({ hash, bytes: b });
    }
  }
  return { decls: env.decls, side: env.side, bytes };
}

/**
 * What an executor is sent to run `t` (`source` the first time it runs the
 * function); copies of its arguments go in `transfer`, shared ones are lent
 * (`ex.leases.take()` names them in the message).
 */
export function runTaskOf(t: LocalTask, source: string | undefined, transfer: ArrayBuffer[], ex: Executor): RunTask {
  const s = t.spec;
  const args = (t.args as Uint8Array[]).map((a) => forPosting(a, transfer, ex.leases));
  noteLent(t, args);
  return {
    taskId: s.taskId,
    jobId: s.jobId,
    attempt: s.attempt,
    gen: s.gen ?? 0,
    fnId: s.fnId,
    name: s.name,
    source,
    args,
    numReturns: s.numReturns,
    actor: s.actor,
  };
}

/** A slice of a group this node holds: one `assignGroup`. */
export interface GroupSlice {
  g: TaskId;
  s: number;
  /** Its members as this node took them (some may have ended). */
  tasks: LocalTask[];
  /** Members not ended (reported, handed back or cancelled). */
  left: number;
  /** The report being filled while it waits in the outbox, and the number of the frame it goes in. */
  open: MsgOf<'groupDone'> | null;
  openFrame: number;
}

/** What makes a LocalTask a group member: its slice and its index in the group. */
export interface GroupMember {
  slice: GroupSlice;
  i: number;
  /** Cancelled by `cancelGroup`: its end is owed to nobody. */
  quiet?: boolean;
  /** It logged: its report goes after its logs (never into a report queued before them). */
  logged?: boolean;
  /** It called out (`groupCallOut` sent): the coordinator holds it as an ordinary task here, told of its blocks. */
  out?: boolean;
}
