// A task on the wire: its spec (arguments, resources, scheduling, actor part,
// verification), its outputs and failures, and the function it runs.
import type { ObjectId } from '../ids.js';
import { FAILURE_CODES } from '../error-codes.js';
import { arr, bool, either, int, lit, num, obj, opt, str, type Check, type Infer } from './check.js';
import { fnId, ids, jobId, MAX_ARGS, MAX_REPLICAS, MAX_RETURNS, nodeId, objectId, resources, taskId, value } from './fields.js';

/** A task argument: inline value bytes, or a ref resolved before the task runs. */
export const argCheck = either(obj({ v: value }), obj({ r: objectId }));
export type Arg = { v: Uint8Array; r?: undefined } | { r: ObjectId; v?: undefined };

/** Node affinity: `soft` runs elsewhere when the node is gone or cannot run it; `spill` (soft only) also when it is busy (Ray's _spill_on_unavailable). */
export const schedulingCheck = opt(either(lit('default', 'spread'), obj({ node: nodeId, soft: bool, spill: opt(bool) })));
export type Scheduling = Infer<typeof schedulingCheck>;

/**
 * An actor task: `create` runs the class's constructor (the task id is the
 * actor id); `call` runs a method on the live instance.
 */
export const actorPartCheck = opt(
  obj({
    kind: lit('create', 'call'),
    id: taskId,
    method: opt(str(256)),
    name: opt(str(256)),
    maxConcurrency: opt(int(1, 1000)),
    /** Restarts on another node when its node is lost (then: constructor, restore, replay). */
    maxRestarts: opt(int(0, 1000)),
    /** Retries of a call that was running when the actor died. */
    maxTaskRetries: opt(int(0, 1000)),
    /** Checkpoint after this many calls, when the class has checkpoint()/restore(). */
    checkpointEvery: opt(int(1, 1_000_000)),
    /** A restarted actor's last checkpoint, passed to restore() after the constructor. */
    restore: opt(value),
    /**
     * CPUs the live actor holds, when not its placement's `resources.cpu`: a
     * default actor needs 1 CPU to be placed and holds 0 while it lives (Ray's rule).
     */
    liveCpu: opt(num),
    /** Where its name lives (unset: the job's namespace). */
    namespace: opt(str(256)),
    /** Ray's `lifetime: 'detached'`: it outlives its job, until killed. */
    detached: opt(bool),
  }),
);
export type ActorPart = NonNullable<Infer<typeof actorPartCheck>>;

/** CPUs an actor holds while alive (its creation spec says). */
export function actorLiveCpu(spec: { resources: Record<string, number>; actor?: ActorPart }): number {
  return spec.actor?.liveCpu ?? spec.resources.cpu ?? 0;
}

export const taskSpecCheck = obj({
  taskId,
  jobId,
  parentId: taskId,
  fnId,
  name: str(256),
  args: arr(argCheck as Check<Arg>, MAX_ARGS),
  /** Refs nested inside inline args: the task holds them until it ends. */
  nested: ids,
  numReturns: int(0, MAX_RETURNS),
  resources,
  maxRetries: int(0, 1000),
  attempt: int(0, 1_000_000),
  /**
   * Retry generation: +1 each time the task is retried (it threw with
   * retryExceptions, its node or executor was lost), not when it re-runs to
   * rebuild a lost output. Child ids derive from it (ids.ts childTaskId).
   */
  gen: opt(int(0, 1_000_000)),
  timeoutMs: int(0, 2 ** 31),
  scheduling: schedulingCheck,
  actor: actorPartCheck,
  /** Retry (within maxRetries) when the task throws, not only when its node is lost. */
  retryExceptions: opt(bool),
  /**
   * Verified execution (issue 8): run on `replicas` distinct nodes and settle on
   * the majority's result; `adaptive`: a trusted node's result is spot-checked only.
   */
  verify: opt(obj({ replicas: int(1, MAX_REPLICAS), adaptive: opt(bool) })),
});
export type TaskSpec = Infer<typeof taskSpecCheck>;

export const failureCheck = obj({
  code: lit(...FAILURE_CODES),
  name: str(256),
  message: str(64 * 1024),
  stack: str(64 * 1024),
  functionName: str(256),
  taskId: str(64),
});

/** One output of a finished task: inline bytes, or stored on the node that ran it. */
export const resultCheck = either(obj({ v: value, refs: ids }), obj({ size: int(0, 2 ** 42), hash: str(64), refs: ids }));
export type TaskResult =
  { v: Uint8Array; refs: ObjectId[]; size?: undefined; hash?: undefined } | { v?: undefined; size: number; hash: string; refs: ObjectId[] };

/** One artifact of a runtime env (issue 16): a content-addressed object (its hash is the node's cache key). */
export const envArtifact = obj({ id: objectId, hash: str(64), size: int(0, 2 ** 31) });
/** A name a task may `mesh.import` or `mesh.wasm`: the artifact for browser executors (b) and edge executors (e). */
export const envDeclCheck = obj({ name: str(256), kind: lit('module', 'wasm'), b: envArtifact, e: envArtifact });
export type EnvDecl = Infer<typeof envDeclCheck>;

export const fnSource = obj({
  fnId,
  kind: lit('function', 'class'),
  name: str(256),
  source: str(4 << 20),
  /** The runtime env the function needs (issue 16); a node loads it before the function's first task. */
  env: opt(arr(envDeclCheck, 64)),
});
export type FunctionSource = Infer<typeof fnSource>;
