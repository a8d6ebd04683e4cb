// The driver API (issue 2): remote functions, futures, put/get/wait/cancel.
// The same class serves drivers and, as the global `mesh`, tasks. Its
// options' checks and defaults are in options.ts.
export { functionSource } from './options.js';
import { childTaskId, functionId, putObjectId, returnObjectId, type ObjectId } from '../ids.js';
import { decodeValue, encodeValue } from '../codec.js';
import { errorFromFailure, TabmeshError } from '../errors.js';
import type { FunctionSource, TaskSpec } from '../protocol/messages.js';
import type { MeshCore } from './core.js';
import { ObjectRef } from './ref.js';
import { ActorHandleCore, makeActorHandle, type ActorCaller, type MethodDefaults, type MethodOptions } from './actor.js';
import { MeshEnvs } from './mesh-env.js';
import { shippable, type RemoteFactory } from './shipped.js';
import type { EnvBundler, ResolvedEnv } from '../env/env.js';
import { checkNamespace, checkWaitOptions, checkWaitRefs, DEFAULTS, functionSource, validateActorOptions, validateOptions } from './options.js';
import { HandleTable } from './handles.js';
import { MeshBase } from './mesh-base.js';
import { taskSpecOf } from './task-spec.js';
import type {
  ActorClass,
  ActorConstructor,
  ActorHandle,
  ActorOptions,
  ExactActorOptions,
  ExactOptions,
  RemoteFor,
  ValueOf,
  CancelOptions,
  GetOptions,
  MultiReturnFunction,
  RemoteFunction,
  RemoteOptions,
  ValuesOf,
  WaitOptions,
  WaitResult,
} from './types.js';

export class Mesh extends MeshBase implements ActorCaller {
  // Made at first use (issue 14): an executor builds a Mesh per task, and most tasks never call into it.
  private handleTable: HandleTable | null = null;
  private registeredFns: Set<string> | null = null;
  /** Runtime envs (issue 16): declared by drivers; tasks inherit their function's. */
  private meshEnvs: MeshEnvs | null = null;

  constructor(
    core: MeshCore,
    /** Options every task of this mesh starts from (the job's `verify`, issue 8). */
    private readonly defaults: RemoteOptions = {},
  ) {
    super(core);
    if (defaults.verify) validateOptions(defaults);
  }

  private get handles(): HandleTable {
    return (this.handleTable ??= new HandleTable(this.core, () => this.closed));
  }

  private get registered(): Set<string> {
    return (this.registeredFns ??= new Set());
  }

  private get envs(): MeshEnvs {
    return (this.meshEnvs ??= new MeshEnvs(this.core));
  }

  /** Called by connect(): the job's runtime env (already resolved) and the platform's bundler. */
  useRuntimeEnv(bundler: EnvBundler | undefined, job: ResolvedEnv | undefined): void {
    this.envs.use(bundler, job);
  }

  /** Declares a remote function. Its source ships to the nodes; it must not read outer variables. */
  remote<C extends ActorConstructor>(cls: C): ActorClass<C>;
  remote<C extends ActorConstructor, const O extends ActorOptions>(cls: C, options: ExactActorOptions<O>): ActorClass<C>;
  remote<A extends unknown[], R>(fn: (...args: A) => R): RemoteFunction<A, R>;
  remote<A extends unknown[], R, const O extends RemoteOptions>(fn: (...args: A) => R, options: ExactOptions<O>): RemoteFor<A, R, O>;
  remote<A extends unknown[], R>(
    fn: ((...args: A) => R) | ActorConstructor,
    options: RemoteOptions & ActorOptions = {},
  ): RemoteFunction<A, R> | MultiReturnFunction<A, R> | ActorClass<ActorConstructor> {
    if (typeof fn !== 'function') throw new TabmeshError('BAD_ARGUMENT', 'mesh.remote takes a function or a class');
    const source = functionSource(fn);
    if (/^class\b/.test(source)) {
      const name = fn.name || 'AnonymousActor';
      return this.makeActorClass(this.envs.declare({ fnId: functionId('class', source), kind: 'class', name, source }, options.runtimeEnv), options);
    }
    const name = options.name ?? (fn.name || 'anonymous');
    const f: FunctionSource = this.envs.declare({ fnId: functionId('function', source), kind: 'function', name, source }, options.runtimeEnv);
    return this.makeRemote<A, R>(f, options);
  }

  private makeActorClass(f: FunctionSource, opts: ActorOptions): ActorClass<ActorConstructor> {
    validateActorOptions(opts);
    return shippable('class', f, opts, {
      remote: (...args: unknown[]) => {
        const resources: Record<string, number> = { ...(opts.resources ?? {}), cpu: opts.numCpus ?? 1 };
        const [ref] = this.submit(f, { name: f.name, numReturns: 1, maxRetries: 0, scheduling: opts.scheduling }, args, resources, (taskId) => ({
          kind: 'create',
          id: taskId,
          name: opts.name,
          // Ray's default actor: 1 CPU to be placed, none while it lives; an explicit numCpus is held.
          liveCpu: opts.numCpus === undefined ? 0 : undefined,
          maxConcurrency: opts.maxConcurrency,
          maxRestarts: opts.maxRestarts,
          maxTaskRetries: opts.maxTaskRetries,
          checkpointEvery: opts.checkpointEvery,
          namespace: opts.namespace,
          detached: opts.lifetime === 'detached' || undefined,
        }));
        return this.handle(ref.id.slice(0, 32), f.name, ref, opts.methods) as unknown as ActorHandle<unknown>;
      },
      options: (o: ActorOptions) => this.makeActorClass(o.runtimeEnv !== undefined ? this.envs.reEnv(f, o.runtimeEnv) : f, { ...opts, ...o }),
    }) as unknown as ActorClass<ActorConstructor>;
  }

  private handle(actorId: string, className: string, ref: ObjectRef, methods?: MethodDefaults): ActorHandleCore {
    return makeActorHandle(new ActorHandleCore(actorId, className, ref, this, methods));
  }

  /** Submits a method call on an actor (what `handle.method.remote(...)` does). */
  callActor(h: ActorHandleCore, method: string, args: unknown[], opts: MethodOptions = {}): ObjectRef | ObjectRef[] | undefined {
    const numReturns = opts.numReturns ?? 1;
    if (!(Number.isInteger(numReturns) && numReturns >= 0 && numReturns <= 1024)) {
      throw new TabmeshError('BAD_ARGUMENT', `method option numReturns of ${h.className}.${method} must be an integer in [0, 1024]`);
    }
    const f: FunctionSource = { fnId: '' as FunctionSource['fnId'], kind: 'class', name: `${h.className}.${method}`, source: '' };
    const refs = this.submit(f, { numReturns, maxRetries: 0 }, args, {}, () => ({ kind: 'call', id: h.actorId as TaskSpec['taskId'], method }), h.ref);
    if (numReturns === 1) return refs[0];
    return numReturns === 0 ? undefined : refs;
  }

  /** The handle of a named actor in this job's namespace, or in `namespace` (Ray's get_actor). */
  async getActor<T = unknown>(name: string, options: { namespace?: string } = {}): Promise<ActorHandle<T>> {
    this.assertOpen();
    if (typeof name !== 'string' || name.length === 0) throw new TabmeshError('BAD_ARGUMENT', 'getActor takes a non-empty actor name');
    checkNamespace(options.namespace, 'getActor option namespace');
    const info = await this.core.getActor(name, options.namespace);
    const ref = this.track(returnObjectId(info.id as TaskSpec['taskId'], 0), true);
    return this.handle(info.id, info.className, ref) as unknown as ActorHandle<T>;
  }

  /** Stops an actor: its slot is freed, pending and later calls fail with ActorDiedError. */
  kill(handle: ActorHandle<unknown> | ActorHandleCore): void {
    this.assertOpen();
    if (!(handle instanceof ActorHandleCore)) throw new TabmeshError('BAD_ARGUMENT', 'kill takes an actor handle');
    this.core.killActor(handle.actorId);
  }

  private makeRemote<A extends unknown[], R>(f: FunctionSource, opts: RemoteOptions): RemoteFunction<A, R> | MultiReturnFunction<A, R> {
    validateOptions(opts);
    const numReturns = opts.numReturns ?? DEFAULTS.numReturns;
    // This function with these options: its calls in one turn may travel as one task group (driver-groups.ts).
    const key = {};
    return shippable('function', f, opts, {
      remote: (...args: unknown[]) => {
        const ids = this.submit(f, opts, args, undefined, undefined, undefined, key);
        return numReturns === 1 ? ids[0] : ids;
      },
      options: (o: RemoteOptions) =>
        this.makeRemote<A, R>(
          { ...(o.runtimeEnv !== undefined ? this.envs.reEnv(f, o.runtimeEnv) : f), name: o.name ?? opts.name ?? f.name },
          { ...opts, ...o },
        ),
    }) as unknown as RemoteFunction<A, R>;
  }

  private submit(
    f: FunctionSource,
    opts: RemoteOptions,
    args: unknown[],
    resourcesOverride?: Record<string, number>,
    actor?: (taskId: TaskSpec['taskId']) => NonNullable<TaskSpec['actor']>,
    actorRef?: ObjectRef,
    key?: object,
  ): ObjectRef[] {
    this.assertOpen();
    const core = this.core;
    // Method calls name no function of their own (no source to register).
    if (f.source && !this.registered.has(f.fnId)) {
      core.registerFunction(f);
      this.registered.add(f.fnId);
    }
    const index = core.nextSubmitIndex();
    const taskId = childTaskId(core.parentTask, index, core.generation);
    const spec = taskSpecOf(
      core,
      { taskId, f, opts, args, resourcesOverride, actor: actor?.(taskId), actorRef, verify: this.defaults.verify },
      (enc) => this.putEncoded(enc).id,
    );
    const numReturns = spec.numReturns;
    core.submit(spec, key, index);
    const refs: ObjectRef[] = [];
    for (let i = 0; i < numReturns; i++) refs.push(this.track(returnObjectId(taskId, i), true));
    return refs;
  }

  /** Stores a value in the mesh; returns at once, the upload goes on in the background. */
  put<T>(value: T): ObjectRef<T> {
    this.assertOpen();
    if (value instanceof ObjectRef) {
      // As Ray: the ref already names a value; pass it inside a container to keep a ref to it.
      throw new TabmeshError('BAD_ARGUMENT', 'put takes a value, not an ObjectRef (put [ref] or { ref } to store a ref inside a value)');
    }
    return this.putEncoded(encodeValue(value)) as ObjectRef<T>;
  }

  private putEncoded(enc: ReturnType<typeof encodeValue>): ObjectRef {
    const id = putObjectId(this.core.parentTask, this.core.nextPutIndex());
    this.core.put(id, enc);
    return this.track(id, true);
  }

  /** The value of a future, or the values of several in order. */
  get<T>(ref: ObjectRef<T>, options?: GetOptions): Promise<T>;
  get<const Refs extends readonly ObjectRef<unknown>[]>(refs: Refs, options?: GetOptions): Promise<ValuesOf<Refs>>;
  async get(refOrRefs: ObjectRef | readonly ObjectRef[], options: GetOptions = {}): Promise<unknown> {
    this.assertOpen();
    const many = Array.isArray(refOrRefs);
    const refs = (many ? refOrRefs : [refOrRefs]) as ObjectRef[];
    for (const r of refs) if (!(r instanceof ObjectRef)) throw new TabmeshError('BAD_ARGUMENT', 'get takes an ObjectRef or an array of them');
    const fetched = await this.core.fetch(
      refs.map((r) => r.id),
      options.timeoutMs,
    );
    const out = fetched.map((f) => {
      if (f.failure) throw errorFromFailure(f.failure);
      return decodeValue(f.bytes, this.refFactory, this.actorFactory, this.remoteFactory);
    });
    return many ? out : out[0];
  }

  /** Splits refs into ready and pending once `numReturns` are ready or the timeout passes. */
  async wait<const Refs extends readonly ObjectRef<unknown>[]>(refs: Refs, options: WaitOptions = {}): Promise<WaitResult<ValueOf<Refs[number]>>> {
    type T = ValueOf<Refs[number]>;
    this.assertOpen();
    checkWaitRefs(refs);
    const numReturns = checkWaitOptions(options, refs.length);
    const ready = await this.core.wait(
      refs.map((r) => r.id),
      numReturns,
      options.timeoutMs,
    );
    const out: WaitResult<T> = { ready: [], pending: [] };
    for (const r of refs as readonly ObjectRef<T>[]) (ready.has(r.id) && out.ready.length < numReturns ? out.ready : out.pending).push(r);
    return out;
  }

  /**
   * Cancels the task that makes `ref` (or each of `refs`): a queued task never runs, a running one is stopped. A
   * list cancels a task group's members with one message to make them ordinary tasks, not one each.
   */
  cancel(refs: ObjectRef | readonly ObjectRef[], options: CancelOptions = {}): void {
    this.assertOpen();
    const list = Array.isArray(refs) ? (refs as readonly ObjectRef[]) : [refs as ObjectRef];
    this.core.cancel(
      list.map((r) => r.id),
      options.force ?? false,
    );
  }

  /** Gives up these handles now instead of when they are garbage-collected. */
  free(refs: ObjectRef | readonly ObjectRef[]): void {
    this.handles.free(Array.isArray(refs) ? refs : [refs]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.core.close();
  }

  private readonly refFactory = (id: ObjectId): ObjectRef => this.track(id, false);
  readonly actorFactory = (id: string, className: string, ref: ObjectRef, methods?: MethodDefaults): ActorHandleCore =>
    this.handle(id, className, ref, methods);
  /** A remote function or actor class found inside a value, made on this mesh (issue 13). */
  readonly remoteFactory: RemoteFactory = (kind, f, opts) => (kind === 'class' ? this.makeActorClass(f, opts) : this.makeRemote(f, opts));

  private track(id: ObjectId, created: boolean): ObjectRef {
    return this.handles.track(id, created);
  }
}
