// Public types of the driver API. Type-level tests: test/types/api.test-d.ts.
import type { ObjectRef } from './ref.js';
import type { RuntimeEnv } from '../env/env.js';

/**
 * Node affinity `{ node, soft, spill }` (Ray's NodeAffinitySchedulingStrategy): hard waits for its node while it lives
 * and fails once it is gone; `soft` runs elsewhere when the node is gone or can never run it, and waits while it is
 * only busy; `spill` (with `soft`, Ray's `_spill_on_unavailable`) also runs elsewhere when the node is busy.
 */
export type Scheduling = 'default' | 'spread' | { node: string; soft?: boolean; spill?: boolean };

export interface RemoteOptions {
  /** CPUs (executor slots) the task holds while it runs. Default 1. */
  numCpus?: number;
  /** Custom resources the task needs, e.g. `{ gpu: 1 }`. */
  resources?: Record<string, number>;
  /** Attempts after a node is lost (and after a throw, with retryExceptions). Default 3. */
  maxRetries?: number;
  /** Also retry, within maxRetries, when the task throws. Default false. */
  retryExceptions?: boolean;
  /** Number of objects the task returns; with more than 1 it returns an array of that length. */
  numReturns?: number;
  /** The task is stopped (its executor terminated) after this long. */
  timeoutMs?: number;
  /** Name shown in errors, logs and the dashboard (default: the function's name). */
  name?: string;
  /** Placement policy: least-loaded with locality (default), spread, or node affinity. */
  scheduling?: Scheduling;
  /**
   * Verified execution (issue 8): run the task on `replicas` distinct nodes and
   * accept the result a majority agrees on. The task must be deterministic.
   */
  verify?: VerifyOptions;
  /** Packages, ES modules and WebAssembly the task loads with mesh.import / mesh.wasm (issue 16). */
  runtimeEnv?: RuntimeEnv;
}

export interface VerifyOptions {
  /** Distinct nodes that run the task (1 to 16); more run on disagreement. */
  replicas: number;
  /** Run once on a trusted node (one that agreed often in a row), with a random spot check; replicate elsewhere. */
  adaptive?: boolean;
}

/** An argument position accepts the value or a future of it. */
export type RemoteArgs<A extends readonly unknown[]> = { [K in keyof A]: A[K] | ObjectRef<A[K]> };

/** Options with no keys beyond RemoteOptions (a misspelt option does not compile). */
export type ExactOptions<O> = O & Record<Exclude<keyof O, keyof RemoteOptions>, never>;

/** A remote function returns one ref, or one per return when numReturns > 1. */
export type RemoteFor<A extends readonly unknown[], R, O> = O extends { numReturns: infer N }
  ? N extends 1 | undefined
    ? RemoteFunction<A, R>
    : MultiReturnFunction<A, R>
  : RemoteFunction<A, R>;

export interface RemoteFunction<A extends readonly unknown[], R> {
  /** Submits one task; returns at once with a future of its result. */
  remote(...args: RemoteArgs<A>): ObjectRef<Awaited<R>>;
  options<const O extends RemoteOptions>(o: ExactOptions<O>): RemoteFor<A, R, O>;
}

/** Refs of a task with numReturns > 1: one per element of the returned array. */
export type RefsOf<T> = T extends readonly unknown[] ? { -readonly [K in keyof T]: ObjectRef<T[K]> } : ObjectRef<unknown>[];

export interface MultiReturnFunction<A extends readonly unknown[], R> {
  remote(...args: RemoteArgs<A>): RefsOf<Awaited<R>>;
  /** Keeps several returns unless numReturns is set back to 1. */
  options<const O extends RemoteOptions>(o: ExactOptions<O>): O extends { numReturns: 1 } ? RemoteFunction<A, R> : MultiReturnFunction<A, R>;
}

export type ValueOf<Ref> = Ref extends ObjectRef<infer V> ? V : never;
export type ValuesOf<Refs extends readonly ObjectRef<unknown>[]> = { -readonly [K in keyof Refs]: ValueOf<Refs[K]> };

export interface GetOptions {
  /** Throw GetTimeoutError after this long. */
  timeoutMs?: number;
}

export interface WaitOptions {
  /** Return once this many are ready. Default 1. */
  numReturns?: number;
  timeoutMs?: number;
}

export interface WaitResult<T> {
  ready: ObjectRef<T>[];
  pending: ObjectRef<T>[];
}

/** Where the calling code runs (Ray's get_runtime_context()). */
export interface RuntimeContext {
  jobId: string;
  /** The running task (for an actor's methods: its creation task); null on a driver. */
  taskId: string | null;
  /** The node running it; null on a driver. */
  nodeId: string | null;
  /** The actor whose constructor or method runs; null elsewhere. */
  actorId: string | null;
  /** The task's attempt (0 first; +1 on each retry or re-run). */
  attempt: number;
}

/** A live node as `mesh.nodes()` lists it (Ray's ray.nodes()). */
export interface NodeInfo {
  nodeId: string;
  name: string;
  kind: 'edge' | 'browser';
  alive: boolean;
  /** What it offers: `cpu` (executors) and custom resources. */
  resources: Record<string, number>;
  /** What is free of them now (tasks and live actors hold theirs). */
  available: Record<string, number>;
}

export interface CancelOptions {
  /** Terminate the executor running the task instead of asking the task to stop. */
  force?: boolean;
}

// -- actors (issue 5) --------------------------------------------------------

export interface ActorOptions {
  /**
   * CPUs (executor slots) the actor holds while alive. Unset (Ray's default):
   * it needs 1 CPU to be placed and holds none while alive, on an executor of its own.
   */
  numCpus?: number;
  /** Per-method defaults, e.g. `{ split: { numReturns: 2 } }` (Ray's `@ray.method(num_returns=2)`). */
  methods?: Record<string, { numReturns?: number }>;
  resources?: Record<string, number>;
  /** A name other drivers find it by (mesh.getActor); unique in its namespace while the actor lives. */
  name?: string;
  /** The namespace its name lives in (default: the creating job's, `connect({ namespace })`). */
  namespace?: string;
  /** `'detached'`: it outlives its job until `mesh.kill` (Ray's lifetime="detached"); it needs a name. */
  lifetime?: 'detached' | null;
  /** How many calls of async methods may interleave. Default 1 (one at a time, in order). */
  maxConcurrency?: number;
  /** When its node is lost, restart elsewhere up to this many times: constructor, restore(checkpoint), replay of logged calls. Default 0. */
  maxRestarts?: number;
  /** Retries of a call that was running when the actor died. Default 0. */
  maxTaskRetries?: number;
  /** With checkpoint()/restore(state) on the class: checkpoint after this many calls (default 100), so a restart replays only calls since. */
  checkpointEvery?: number;
  scheduling?: Scheduling;
  /** Packages, ES modules and WebAssembly the actor loads with mesh.import / mesh.wasm (issue 16). */
  runtimeEnv?: RuntimeEnv;
}

export type ExactActorOptions<O> = O & Record<Exclude<keyof O, keyof ActorOptions>, never>;

/** A method of an actor, called remotely. */
export interface RemoteMethod<A extends readonly unknown[], R> {
  remote(...args: RemoteArgs<A>): ObjectRef<Awaited<R>>;
  /** This call's options: with numReturns n > 1, `remote` returns n refs (0: none). */
  options(o: { numReturns?: number }): { remote(...args: RemoteArgs<A>): any };
}

type MethodKeys<T> = { [K in keyof T]: T[K] extends (...args: any[]) => any ? K : never }[keyof T];

/** A handle to a live actor: one RemoteMethod per method of the class. Handles are values: pass them to tasks, store them in objects. */
export type ActorHandle<T> = {
  readonly [K in MethodKeys<T>]: T[K] extends (...args: infer A) => infer R ? RemoteMethod<A, R> : never;
} & { readonly actorId: string; readonly className: string };

export type ActorConstructor = abstract new (...args: any[]) => any;

export interface ActorClass<C extends ActorConstructor> {
  /** Creates the actor (placed like a task); returns a handle at once. */
  remote(...args: RemoteArgs<ConstructorParameters<C>>): ActorHandle<InstanceType<C>>;
  options<const O extends ActorOptions>(o: ExactActorOptions<O>): ActorClass<C>;
}
