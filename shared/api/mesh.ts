// The driver API (issue 2): remote functions, futures, put/get/wait/cancel.
// The same class serves drivers and, as the global `mesh`, tasks.
import { childTaskId, functionId, putObjectId, returnObjectId, type ObjectId } from '../ids.js';
import { decodeValue, encodeValue } from '../codec.js';
import { errorFromFailure, TabmeshError } from '../errors.js';
import type { Arg, FunctionSource, TaskSpec } from '../protocol/messages.js';
import type { MeshCore } from './core.js';
import { ObjectRef } from './ref.js';
import { ActorHandleCore, makeActorHandle, type ActorCaller, type MethodDefaults, type MethodOptions } from './actor.js';
import { EnvDeclarer, functionIdOf } from '../env/declare.js';
import { RuntimeEnvError, type EnvBundler, type ResolvedEnv, type RuntimeEnv } from '../env/env.js';
import type { EnvDecl } from '../protocol/messages.js';
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
  RuntimeContext,
  ValuesOf,
  WaitOptions,
  WaitResult,
} from './types.js';

const DEFAULTS = { numCpus: 1, maxRetries: 3, numReturns: 1, timeoutMs: 0 };

/** Makes a function's source an expression that evaluates to the function. */
export function functionSource(fn: Function): string {
  const src = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) {
    throw new TabmeshError('BAD_ARGUMENT', `cannot ship ${fn.name || 'a function'}: native and bound functions have no source`);
  }
  if (/^class\b/.test(src)) return src;
  // Method shorthand (`{ f(x) {…} }.f`) prints as `f(x) {…}`, which is not an expression.
  if (!/^(async\s+)?function\b/.test(src) && !/^(async\s*)?(\([^)]*\)|[\w$]+)\s*=>/.test(src)) {
    const m = /^(async\s+)?(\*\s*)?([\w$]+)\s*\(/.exec(src);
    if (m) return `${m[1] ?? ''}function${m[2] ? '*' : ''} ${src.slice((m[1] ?? '').length + (m[2] ?? '').length)}`;
  }
  return src;
}

interface RefEntry {
  count: number;
}

export class Mesh implements ActorCaller {
  private readonly handles = new Map<ObjectId, RefEntry>();
  private readonly finalizer: FinalizationRegistry<ObjectId> | null;
  private readonly registered = new Set<string>();
  private closed = false;
  /** Runtime envs (issue 16): set up by connect() on drivers; tasks inherit their function's. */
  private envs: EnvDeclarer | null = null;

  constructor(
    readonly core: MeshCore,
    /** Options every task of this mesh starts from (the job's `verify`, issue 8). */
    private readonly defaults: RemoteOptions = {},
  ) {
    if (defaults.verify) validateOptions(defaults);
    this.finalizer = core.tracksHandles ? new FinalizationRegistry((id) => this.dropHandle(id)) : null;
  }

  get jobId(): string {
    return this.core.jobId;
  }

  /** Called by connect(): the job's runtime env (already resolved) and the platform's bundler. */
  useRuntimeEnv(bundler: EnvBundler | undefined, job: ResolvedEnv | undefined): void {
    const core = this.core;
    if (!core.offerArtifact) throw new RuntimeEnvError('NOT_SUPPORTED', 'runtimeEnv is declared by drivers (mesh.remote or connect)');
    // An artifact is an object of the mesh, by content hash: the coordinator asks for its bytes only if no copy is held.
    this.envs = new EnvDeclarer(bundler, (hash, bytes) => core.offerArtifact!(hash, bytes), job);
    this.envs.declare(undefined);
  }

  /** Inside a task: the module `name` of its runtime env (its namespace; loaded once per executor). */
  import<T = any>(name: string): Promise<T> {
    if (!this.core.importModule) return Promise.reject(new RuntimeEnvError('NOT_SUPPORTED', `mesh.import('${name}') works inside tasks only`));
    return this.core.importModule(name) as Promise<T>;
  }

  /** Inside a task: the WebAssembly binary `name` of its runtime env, compiled once per executor. */
  wasm(name: string): Promise<WebAssembly.Module> {
    if (!this.core.wasmModule) return Promise.reject(new RuntimeEnvError('NOT_SUPPORTED', `mesh.wasm('${name}') works inside tasks only`));
    return this.core.wasmModule(name);
  }

  /** The env declarations of a function declared with `env` (or none: the job's, or the running task's). */
  private envFor(env: RuntimeEnv | undefined): EnvDecl[] | undefined {
    if (env !== undefined && !this.envs) {
      throw new RuntimeEnvError(
        'NOT_SUPPORTED',
        'runtimeEnv is declared by drivers (mesh.remote or connect); functions a task declares use the runtime env of that task',
      );
    }
    return this.envs ? this.envs.declare(env) : this.core.inheritedEnv?.();
  }

  private withEnv(f: FunctionSource, env: EnvDecl[] | undefined): FunctionSource {
    if (!env) return f;
    return { ...f, fnId: functionIdOf({ ...f, env }), env };
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
    const env = this.envFor(options.runtimeEnv);
    if (/^class\b/.test(source)) {
      const name = fn.name || 'AnonymousActor';
      return this.makeActorClass(this.withEnv({ fnId: functionId('class', source), kind: 'class', name, source }, env), options);
    }
    const name = options.name ?? (fn.name || 'anonymous');
    const f: FunctionSource = this.withEnv({ fnId: functionId('function', source), kind: 'function', name, source }, env);
    return this.makeRemote<A, R>(f, options);
  }

  private makeActorClass(f: FunctionSource, opts: ActorOptions): ActorClass<ActorConstructor> {
    validateOptions(opts);
    if (opts.name !== undefined && !(typeof opts.name === 'string' && opts.name.length > 0 && opts.name.length <= 256)) {
      throw new TabmeshError('BAD_ARGUMENT', 'actor option name must be a non-empty string of at most 256 characters');
    }
    if (opts.maxConcurrency !== undefined && !(Number.isInteger(opts.maxConcurrency) && opts.maxConcurrency >= 1)) {
      throw new TabmeshError('BAD_ARGUMENT', 'actor option maxConcurrency must be an integer ≥ 1');
    }
    return {
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
        }));
        return this.handle(ref.id.slice(0, 32), f.name, ref, opts.methods) as unknown as ActorHandle<unknown>;
      },
      options: (o: ActorOptions) => this.makeActorClass(o.runtimeEnv !== undefined ? this.reEnv(f, o.runtimeEnv) : f, { ...opts, ...o }),
    } as ActorClass<ActorConstructor>;
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

  /** The handle of a named actor (created by any driver of this mesh). */
  async getActor<T = unknown>(name: string): Promise<ActorHandle<T>> {
    this.assertOpen();
    if (typeof name !== 'string' || name.length === 0) throw new TabmeshError('BAD_ARGUMENT', 'getActor takes a non-empty actor name');
    const info = await this.core.getActor(name);
    const ref = this.track(returnObjectId(info.id as TaskSpec['taskId'], 0), true);
    return this.handle(info.id, info.className, ref) as unknown as ActorHandle<T>;
  }

  /** Where the calling code runs: job, task, node, actor and attempt (Ray's get_runtime_context()). */
  runtimeContext(): RuntimeContext {
    this.assertOpen();
    return this.core.context();
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
    return {
      remote: (...args: unknown[]) => {
        const ids = this.submit(f, opts, args);
        return numReturns === 1 ? ids[0] : ids;
      },
      options: (o: RemoteOptions) =>
        this.makeRemote<A, R>({ ...(o.runtimeEnv !== undefined ? this.reEnv(f, o.runtimeEnv) : f), name: o.name ?? opts.name ?? f.name }, { ...opts, ...o }),
    } as RemoteFunction<A, R>;
  }

  private submit(
    f: FunctionSource,
    opts: RemoteOptions,
    args: unknown[],
    resourcesOverride?: Record<string, number>,
    actor?: (taskId: TaskSpec['taskId']) => NonNullable<TaskSpec['actor']>,
    actorRef?: ObjectRef,
  ): ObjectRef[] {
    this.assertOpen();
    const core = this.core;
    // Method calls name no function of their own: the node runs them on the instance.
    if (f.source && !this.registered.has(f.fnId)) {
      core.registerFunction(f);
      this.registered.add(f.fnId);
    }
    const taskId = childTaskId(core.parentTask, core.nextSubmitIndex(), core.generation);
    const specArgs: Arg[] = [];
    const nested = new Set<ObjectId>();
    for (const a of args) {
      if (a instanceof ObjectRef) {
        specArgs.push({ r: a.id });
        continue;
      }
      const enc = encodeValue(a);
      if (enc.bytes.byteLength > core.inlineMax) {
        specArgs.push({ r: this.putEncoded(enc).id });
      } else {
        specArgs.push({ v: enc.bytes });
        for (const id of enc.refs) nested.add(id);
      }
    }
    const numReturns = opts.numReturns ?? DEFAULTS.numReturns;
    let resources: Record<string, number> = { ...(opts.resources ?? {}) };
    resources.cpu = opts.numCpus ?? DEFAULTS.numCpus;
    if (resourcesOverride) resources = resourcesOverride;
    const fnId = f.fnId || (actorRef ? (actorRef.id.slice(0, 32) as TaskSpec['fnId']) : f.fnId);
    const spec: TaskSpec = {
      taskId,
      jobId: core.jobId,
      parentId: core.parentTask,
      fnId,
      name: opts.name ?? f.name,
      args: specArgs,
      nested: [...nested],
      numReturns,
      resources,
      maxRetries: opts.maxRetries ?? DEFAULTS.maxRetries,
      attempt: 0,
      timeoutMs: opts.timeoutMs ?? DEFAULTS.timeoutMs,
      scheduling: normalizeScheduling(opts.scheduling),
      actor: actor?.(taskId),
      retryExceptions: opts.retryExceptions || undefined,
      verify: verifyOf(actor ? undefined : (opts.verify ?? this.defaults.verify)),
    };
    core.submit(spec);
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

  /** The same function with another runtime env (`.options({ runtimeEnv })`). */
  private reEnv(f: FunctionSource, env: RuntimeEnv): FunctionSource {
    const plain: FunctionSource = { fnId: functionId(f.kind, f.source), kind: f.kind, name: f.name, source: f.source };
    return this.withEnv(plain, this.envFor(env));
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
      return decodeValue(f.bytes, this.refFactory, this.actorFactory);
    });
    return many ? out : out[0];
  }

  /** Splits refs into ready and pending once `numReturns` are ready or the timeout passes. */
  async wait<const Refs extends readonly ObjectRef<unknown>[]>(refs: Refs, options: WaitOptions = {}): Promise<WaitResult<ValueOf<Refs[number]>>> {
    type T = ValueOf<Refs[number]>;
    this.assertOpen();
    checkWaitRefs(refs);
    const numReturns = options.numReturns ?? 1;
    if (!Number.isInteger(numReturns) || numReturns < 0) throw new TabmeshError('BAD_ARGUMENT', 'wait: numReturns must be a non-negative integer');
    if (numReturns > refs.length)
      throw new TabmeshError('BAD_ARGUMENT', `wait: numReturns (${numReturns}) cannot be greater than the number of refs (${refs.length})`);
    const t = options.timeoutMs;
    if (t !== undefined && !(typeof t === 'number' && t >= 0 && Number.isFinite(t)))
      throw new TabmeshError('BAD_ARGUMENT', 'wait: timeoutMs must be a number ≥ 0');
    const ready = await this.core.wait(
      refs.map((r) => r.id),
      numReturns,
      options.timeoutMs,
    );
    const out: WaitResult<T> = { ready: [], pending: [] };
    for (const r of refs as readonly ObjectRef<T>[]) (ready.has(r.id) && out.ready.length < numReturns ? out.ready : out.pending).push(r);
    return out;
  }

  /** Cancels the task that makes `ref`: a queued task never runs, a running one is stopped. */
  cancel(ref: ObjectRef, options: CancelOptions = {}): void {
    this.assertOpen();
    this.core.cancel(ref.id, options.force ?? false);
  }

  /** Gives up these handles now instead of when they are garbage-collected. */
  free(refs: ObjectRef | readonly ObjectRef[]): void {
    for (const r of Array.isArray(refs) ? refs : [refs]) {
      if (this.finalizer?.unregister(r)) this.dropHandle(r.id);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.core.close();
  }

  private readonly refFactory = (id: ObjectId): ObjectRef => this.track(id, false);
  readonly actorFactory = (id: string, className: string, ref: ObjectRef, methods?: MethodDefaults): ActorHandleCore =>
    this.handle(id, className, ref, methods);

  /** Counts a handle; the first one of an id someone else made is borrowed from the GCS. */
  private track(id: ObjectId, created: boolean): ObjectRef {
    const ref = new ObjectRef(id);
    if (!this.finalizer) return ref;
    const e = this.handles.get(id);
    if (e) e.count++;
    else {
      this.handles.set(id, { count: 1 });
      if (!created) this.core.borrow([id]);
    }
    this.finalizer.register(ref, id, ref);
    return ref;
  }

  private dropHandle(id: ObjectId): void {
    const e = this.handles.get(id);
    if (!e) return;
    if (--e.count > 0) return;
    this.handles.delete(id);
    if (!this.closed) this.core.release([id]);
  }

  private assertOpen(): void {
    if (this.closed) throw new TabmeshError('CLOSED', 'this mesh connection is closed');
  }
}

/** Ray's checks on wait's list: refs only (a TypeError there), each once (a ValueError). */
function checkWaitRefs(refs: unknown): void {
  if (!Array.isArray(refs)) throw new TabmeshError('BAD_ARGUMENT', `wait takes an array of ObjectRefs, not ${describe(refs)}`);
  const seen = new Set<string>();
  refs.forEach((r, i) => {
    if (!(r instanceof ObjectRef)) throw new TabmeshError('BAD_ARGUMENT', `wait takes an array of ObjectRefs; element ${i} is ${describe(r)}`);
    if (seen.has(r.id)) throw new TabmeshError('BAD_ARGUMENT', `wait takes each ObjectRef once; ${r.id.slice(0, 12)} is given twice`);
    seen.add(r.id);
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return `an object (${v.constructor?.name ?? 'Object'})`;
  return `a ${typeof v}`;
}

function normalizeScheduling(s: RemoteOptions['scheduling']): TaskSpec['scheduling'] {
  if (s === undefined || s === 'default') return undefined;
  if (s === 'spread') return 'spread';
  return { node: s.node as TaskSpec['taskId'] & never, soft: s.soft ?? false };
}

function verifyOf(v: RemoteOptions['verify']): TaskSpec['verify'] {
  if (!v || (v.replicas <= 1 && !v.adaptive)) return undefined;
  return { replicas: v.replicas, adaptive: v.adaptive || undefined };
}

function validateOptions(o: RemoteOptions): void {
  const bad = (what: string) => {
    throw new TabmeshError('BAD_ARGUMENT', `remote option ${what}`);
  };
  if (o.numCpus !== undefined && !(o.numCpus >= 0 && Number.isFinite(o.numCpus))) bad('numCpus must be a number ≥ 0');
  if (o.numReturns !== undefined && !(Number.isInteger(o.numReturns) && o.numReturns >= 0 && o.numReturns <= 1024))
    bad('numReturns must be an integer in [0, 1024]');
  if (o.maxRetries !== undefined && !(Number.isInteger(o.maxRetries) && o.maxRetries >= 0)) bad('maxRetries must be an integer ≥ 0');
  if (o.timeoutMs !== undefined && !(Number.isInteger(o.timeoutMs) && o.timeoutMs >= 0)) bad('timeoutMs must be an integer ≥ 0');
  if (o.resources) for (const [k, v] of Object.entries(o.resources)) if (!(v >= 0 && Number.isFinite(v))) bad(`resources.${k} must be a number ≥ 0`);
  if (o.verify !== undefined && !(typeof o.verify === 'object' && Number.isInteger(o.verify.replicas) && o.verify.replicas >= 1 && o.verify.replicas <= 16)) {
    bad('verify.replicas must be an integer in [1, 16]');
  }
}
