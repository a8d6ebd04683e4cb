// What runs inside an executor: compile a function once, run tasks as async
// functions (a task awaiting mesh.get frees its slot), and give each task its
// own `mesh` and `console`, bound lexically so that concurrent tasks in one
// executor never mix up whose child tasks are whose.
import { Mesh } from '../api/mesh.js';
import { decodeValue, encodeValue, type EncodedValue } from '../codec.js';
import { stock } from '../bytes.js';
import { failureOf, TabmeshError, TaskCancelledError } from '../errors.js';
import type { TaskId } from '../ids.js';
import type { ExecutorConfig, ExecutorEndpoint, RunResult, RunTask, ToExecutor } from './protocol.js';
import { ExecutorEnv, type FunctionEnv, type ModuleLoader } from './env.js';
import { classInstanceIn, compile, explain, ownsNothing, TaskLog, type Factory, type TaskConsole } from './task-code.js';
import { RunningTask } from './running.js';
import { TaskCore, type TaskHost } from './task-core.js';
import { NodeCalls, transferable } from './node-calls.js';
import { doneColumns, runsOf } from './columns.js';
import { ActorCalls } from './actor-calls.js';
import { ViewRelease, type Collect } from './view-release.js';
import { IdleCollect, type HeapBytes } from './idle-collect.js';

/** Results this large leave their values as garbage worth collecting soon (view-release.ts madeGarbage). */
const LARGE_GARBAGE_BYTES = 32 << 20;

export class ExecutorCore implements TaskHost {
  /** `shared`: the function itself when its source names neither `mesh` nor `console` (task-code.ts ownsNothing): made once, not per task. */
  private readonly fns = new Map<
    string,
    { name: string; factory: Factory; source: string; warned: boolean; env?: FunctionEnv; shared?: (...args: unknown[]) => unknown }
  >();
  /** Runtime envs (issue 16): artifacts by content hash, loaded once per executor. */
  readonly env: ExecutorEnv;
  private readonly running = new Map<TaskId, RunningTask>();
  /** A task's calls to the node runtime, and their replies. */
  readonly calls: NodeCalls;
  private readonly actorCalls: ActorCalls;
  /** Shared views the node lent: their leases go back when collected (issue 17). */
  private readonly views: ViewRelease;
  /** Collects once idle after tasks grew the heap, where the platform can (idle-collect.ts). */
  private readonly idle: IdleCollect | null;
  private config: ExecutorConfig = { inlineMax: 64 * 1024, nodeName: '?' };
  get nodeId(): string | null {
    return this.config.nodeId ?? null;
  }
  private results: RunResult[] = [];
  private flushScheduled = false;

  constructor(
    private readonly ep: ExecutorEndpoint,
    /** How this platform evaluates an ES module's source (runtime envs, issue 16). */
    loadModule?: ModuleLoader,
    /** Forces a garbage collection where the platform can (edge/worker.ts): lent views come back sooner. */
    collect?: Collect,
    /** This thread's heap size where the platform can measure it (edge/worker.ts): it collects once idle after growth. */
    heapBytes?: HeapBytes,
  ) {
    this.env = new ExecutorEnv(loadModule);
    this.views = new ViewRelease(ep, collect);
    // A live actor's creation stays in `running` for the actor's life: it is not work in flight.
    this.idle = collect && heapBytes ? new IdleCollect(collect, heapBytes, () => this.running.size - this.actorCalls.actors.size) : null;
    this.calls = new NodeCalls(ep);
    this.actorCalls = new ActorCalls({
      running: this.running,
      finish: (r) => this.finish(r),
      encodeReturns: (t, v) => this.encodeReturns(t, v),
      sourceOf: (fnId) => this.fns.get(fnId)?.source,
      post: (m, transfer) => ep.post(m, transfer),
    });
    ep.onMessage((m) => this.onMessage(m));
  }

  private onMessage(m: ToExecutor): void {
    switch (m.k) {
      case 'config':
        this.config = m.config;
        return;
      case 'run':
      case 'runs':
        this.idle?.busy();
        this.views.watch(m.lent);
        for (const t of m.k === 'run' ? m.tasks : runsOf(m.c)) {
          if (t.actor?.kind === 'call') this.actorCalls.enqueue(t);
          else void this.run(t);
        }
        return;
      case 'reply':
        if (m.ok) this.views.watch(m.lent);
        this.calls.onReply(m);
        return;
      case 'reclaim':
        this.views.reclaim(m.ids);
        return;
      case 'stock':
        stock(m.bufs);
        return;
      case 'forget':
        for (const fn of m.fns) this.fns.delete(fn);
        return;
      case 'cancel': {
        const r = this.running.get(m.taskId);
        if (!r) return;
        r.cancelled = true;
        this.calls.cancelled(r, m.taskId);
        return;
      }
    }
  }

  private async run(t: RunTask): Promise<void> {
    const start = performance.now();
    const r = new RunningTask(t);
    this.running.set(t.taskId, r);
    let result: RunResult;
    try {
      const { fn, mesh, console } = this.instantiate(t, r);
      const args = t.args.length === 0 ? t.args : t.args.map((a) => decodeValue(a, undefined, mesh().actorFactory, mesh().remoteFactory));
      let value: unknown;
      if (t.actor?.kind === 'create') {
        // The instance lives here for the actor's life; the creation's output says it is up.
        const instance = Reflect.construct(fn, args) as Record<string, unknown>;
        if (t.actor.restore && typeof instance.restore === 'function') {
          // A restart: back to the last checkpoint; the calls since are replayed next.
          const r = (instance.restore as (s: unknown) => unknown).call(
            instance,
            decodeValue(t.actor.restore, undefined, mesh().actorFactory, mesh().remoteFactory),
          );
          if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') await (r as PromiseLike<unknown>);
        }
        const every = typeof instance.checkpoint === 'function' && (t.actor.maxRestarts ?? 0) > 0 ? (t.actor.checkpointEvery ?? 100) : 0;
        this.actorCalls.actors.set(t.taskId, {
          id: t.taskId,
          instance,
          mesh: mesh(),
          console: console(),
          queue: [],
          running: 0,
          maxConcurrency: t.actor.maxConcurrency ?? 1,
          sinceCheckpoint: 0,
          checkpointEvery: every,
        });
        value = undefined;
      } else {
        value = fn(...args);
        if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function')
          value = await (value as PromiseLike<unknown>);
      }
      if (r.cancelled) throw new TaskCancelledError(t.taskId);
      result = { taskId: t.taskId, attempt: t.attempt, ms: performance.now() - start, ok: true, returns: this.encodeReturns(t, value) };
    } catch (e) {
      const err = explain(e, t.name, this.fns.get(t.fnId)?.source);
      const code = r.cancelled || err instanceof TaskCancelledError ? 'TASK_CANCELLED' : 'TASK_ERROR';
      result = { taskId: t.taskId, attempt: t.attempt, ms: performance.now() - start, ok: false, failure: failureOf(code, t.taskId, t.name, err) };
    }
    // An actor's creation task stays "running": its mesh serves the actor's calls.
    if (t.actor?.kind !== 'create' || !result.ok) this.running.delete(t.taskId);
    this.finish(result);
  }

  private finish(result: RunResult): void {
    this.results.push(result);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // A batch of sync tasks ends within one macrotask: flush right after it.
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const results = this.results;
    this.results = [];
    this.views.tasksEnded();
    this.idle?.ended();
    let bytes = 0;
    for (const r of results) if (r.ok) for (const x of r.returns) bytes += x.bytes.byteLength;
    if (bytes >= LARGE_GARBAGE_BYTES) this.views.madeGarbage();
    // Results have bytes of their own (encodeValue): moved, not cloned; shared
    // memory (large results on Node) is shared as it is (issue 17).
    this.ep.post({ k: 'dones', c: doneColumns(results) }, transferable(results.flatMap((r) => (r.ok ? r.returns.map((x) => x.bytes) : []))));
  }

  /**
   * The task's function, and its `mesh` and `console` made at first use. A
   * function whose source names neither is made once per executor (issue 14):
   * a task that could not reach them needs no Mesh, TaskCore, TaskLog or run
   * of its factory; an actor's creation keeps its own (its calls use them).
   */
  private instantiate(t: RunTask, r: RunningTask): { fn: (...args: unknown[]) => unknown; mesh: () => Mesh; console: () => TaskConsole } {
    let f = this.fns.get(t.fnId);
    if (!f) {
      if (t.source === undefined) throw new TabmeshError('BAD_MESSAGE', `executor has no source for function ${t.name}`);
      f = { name: t.name, factory: compile(t.name, t.source), source: t.source, warned: false, env: t.env ? this.env.accept(t.env) : undefined };
      this.fns.set(t.fnId, f);
    }
    let mesh: Mesh | null = null;
    let console: TaskConsole | null = null;
    const meshOf = () => (mesh ??= new Mesh(new TaskCore(this, r, this.config.inlineMax, f.env)));
    const consoleOf = () => (console ??= this.consoleFor(t));
    if (f.shared && t.actor === undefined) return { fn: f.shared, mesh: meshOf, console: consoleOf };
    const fn = f.factory(meshOf(), consoleOf());
    if (typeof fn !== 'function') throw new TabmeshError('BAD_ARGUMENT', `the source of ${t.name} does not evaluate to a function`);
    if (f.shared === undefined && t.actor === undefined && ownsNothing(f.source)) f.shared = fn;
    return { fn, mesh: meshOf, console: consoleOf };
  }

  private encodeReturns(t: RunTask, value: unknown): EncodedValue[] {
    if (t.numReturns === 0) return []; // Ray's num_returns=0: whatever it returned is dropped
    if (t.numReturns !== 1 && (!Array.isArray(value) || value.length !== t.numReturns)) {
      throw new TabmeshError(
        'BAD_ARGUMENT',
        `${t.name} has numReturns ${t.numReturns} but returned ${Array.isArray(value) ? `an array of ${value.length}` : 'no array'}`,
      );
    }
    let out: EncodedValue[];
    try {
      out = t.numReturns === 1 ? [encodeValue(value)] : (value as unknown[]).map((v) => encodeValue(v));
    } catch (e) {
      if (!(e instanceof TabmeshError) || e.code !== 'NOT_SERIALIZABLE') throw e;
      // "cannot send a function (at .f)": say it was the return value, and what to do.
      throw new TabmeshError(
        'NOT_SERIALIZABLE',
        `${t.name} returned what cannot be sent: ${e.message}; functions and symbols do not travel as values: return data (a function can run elsewhere as mesh.remote(fn))`,
      );
    }
    this.warnClassInstance(t, value);
    return out;
  }

  /** A class instance arrives as a plain object: say so once per function in this executor. */
  private warnClassInstance(t: RunTask, value: unknown): void {
    const f = this.fns.get(t.fnId);
    if (!f || f.warned) return;
    const found = classInstanceIn(value);
    if (!found) return;
    f.warned = true;
    this.consoleFor(t).warn(
      `tabmesh: ${t.name} returned a ${found.className} instance${found.path ? ` (at ${found.path})` : ''}: it arrives as a plain object, without its class's methods; ` +
        `return plain data (or rebuild the ${found.className} from it where you read it)`,
    );
  }

  private consoleFor(t: RunTask): TaskConsole {
    return new TaskLog(this.ep, t.taskId);
  }
}
