// The node's executors and its local queue: tasks whose arguments are here
// wait in `ready` and go to a free executor. Short tasks of one function go
// in batches (one message for many tasks), like a pool's concurrentTasks.
import type { FromExecutor, RunEnv, RunTask, ToExecutor } from '../executor/protocol.js';
import { actorLiveCpu, type FunctionSource } from '../protocol/messages.js';
import { runEnvOf, runTaskOf, type Executor, type ExecutorHandle, type LocalTask, type NodeEnv, type SpawnExecutor } from './local-task.js';
import { ReadyQueue } from './ready-queue.js';

export type { Executor, ExecutorHandle, LocalTask, NodeEnv, SpawnExecutor } from './local-task.js';

/** Indices (worker names) of actors' own executors start here. */
const ACTOR_EXECUTOR_BASE = 1000;

export class LocalScheduler {
  readonly executors: Executor[] = [];
  /** Tasks whose arguments are here, in order, waiting for an executor. */
  private readonly ready = new ReadyQueue();
  /** Paused (issue 3): nothing new starts. */
  paused = false;
  /** Fraction of the time executors work (issue 3): one that worked t ms then rests t * (1 - share) / share. */
  cpuShare = 1;
  private readonly workStart = new WeakMap<Executor, number>();
  /** A function's runtime env (issue 16): sent with its first task on each executor. */
  envOf: (f: FunctionSource) => NodeEnv | undefined = () => undefined;
  /** Executors beyond a lowered count: they take nothing new and go once their tasks ended. */
  private readonly retiring = new Set<Executor>();
  /**
   * Executors of actors that hold no CPU while alive, one each and outside the
   * slot count (Ray gives every actor a worker of its own): no task shares
   * them, so a force-cancel never takes such an actor down with it (issue 13).
   */
  private readonly dedicated = new Set<Executor>();
  private nextDedicated = 0;

  constructor(
    private readonly spawn: SpawnExecutor,
    private readonly fnSource: (fnId: string) => FunctionSource | undefined,
    private readonly onMessage: (ex: Executor, m: FromExecutor) => void,
    private readonly onExit: (ex: Executor, why: string) => void,
    private readonly onDispatch: (t: LocalTask) => void,
    public count: number,
    private readonly configMsg: () => ToExecutor,
  ) {
    for (let i = 0; i < count; i++) this.executors.push(this.start(i));
  }

  private start(index: number): Executor {
    const ex: Executor = {
      index,
      handle: null as unknown as ExecutorHandle,
      active: 0,
      tasks: new Set(),
      fns: new Set(),
      reserved: 0,
      route: { message: this.onMessage, exit: this.onExit },
    };
    ex.handle = this.spawn(
      index,
      (m) => ex.route.message(ex, m),
      (why) => ex.route.exit(ex, why),
    );
    ex.handle.post(this.configMsg());
    return ex;
  }

  /** Whether `ex` is one of this pool's live executors (not one replaced or retired). */
  owns(ex: Executor): boolean {
    return this.executors[ex.index] === ex || this.dedicated.has(ex);
  }

  /** Replaces an executor (after terminate or crash); returns the tasks it had. An actor's own executor is not replaced. */
  restart(ex: Executor): LocalTask[] {
    if (this.retiring.delete(ex) || this.dedicated.delete(ex) || this.executors[ex.index] !== ex) {
      const gone = [...ex.tasks];
      ex.tasks.clear();
      ex.active = 0;
      this.terminate(ex);
      return gone;
    }
    const orphans = [...ex.tasks];
    ex.tasks.clear();
    ex.active = 0;
    try {
      ex.handle.terminate();
    } catch {
      /* already gone */
    }
    this.executors[ex.index] = this.start(ex.index);
    return orphans;
  }

  get queued(): number {
    return this.ready.length;
  }

  get running(): number {
    let n = 0;
    for (const ex of this.executors) n += ex.tasks.size;
    for (const ex of this.retiring) n += ex.tasks.size;
    for (const ex of this.dedicated) n += ex.tasks.size;
    return n;
  }

  freeExecutor(): Executor | undefined {
    let best: Executor | undefined;
    for (const ex of this.executors) if (ex.active === 0 && ex.reserved === 0 && (!best || ex.tasks.size < best.tasks.size)) best = ex;
    return best;
  }

  /** For a task that needs no CPU: the least busy executor, one no actor holds if there is one. */
  private leastBusy(): Executor | undefined {
    let best: Executor | undefined;
    for (const ex of this.executors) if (ex.reserved === 0 && (!best || ex.tasks.size < best.tasks.size)) best = ex;
    if (best) return best;
    for (const ex of this.executors) if (!best || ex.tasks.size < best.tasks.size) best = ex;
    return best;
  }

  /** Whether `t` creates an actor that holds no CPU while alive: it runs on an executor of its own. */
  static ownsExecutor(t: LocalTask): boolean {
    return t.spec.actor?.kind === 'create' && actorLiveCpu(t.spec) === 0;
  }

  private startDedicated(): Executor {
    const ex = this.start(ACTOR_EXECUTOR_BASE + this.nextDedicated++);
    this.dedicated.add(ex);
    return ex;
  }

  /** Whether a new task would start at once. */
  hasFreeSlot(): boolean {
    return !this.paused && this.queued === 0 && this.freeExecutor() !== undefined;
  }

  enqueue(t: LocalTask, front = false): void {
    t.state = 'ready';
    this.ready.push(t, front);
    this.pump();
  }

  /**
   * Drops a task that has not started: the queue skips it from now on. Its
   * state is the caller's to end (marking it ended here would make the
   * caller's endTask a no-op, and its end would never be reported).
   */
  remove(t: LocalTask): boolean {
    if (t.state !== 'ready') return false;
    t.state = 'resolving';
    this.ready.dropped();
    return true;
  }

  recordRun(fnId: string, ms: number): void {
    this.ready.recordRun(fnId, ms);
  }

  pump(): void {
    if (this.paused) return;
    for (let head = this.ready.peek(); head; head = this.ready.peek()) {
      if (LocalScheduler.ownsExecutor(head)) {
        // The coordinator placed it by its placement CPUs; here it needs no slot, only an executor of its own.
        this.ready.shift();
        this.dispatch(this.startDedicated(), [head]);
        continue;
      }
      // A task that needs no CPU (numCpus 0) shares the least busy executor, even one already running.
      const ex = (head.spec.resources.cpu ?? 1) === 0 ? this.leastBusy() : this.freeExecutor();
      if (!ex) break;
      let free = 0;
      for (const e of this.executors) if (e.active === 0 && e.reserved === 0) free++;
      this.dispatch(ex, this.ready.takeBatch(head, free));
    }
    this.ready.compact();
  }

  private dispatch(ex: Executor, batch: LocalTask[]): void {
    const run: RunTask[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const t of batch) {
      t.state = 'running';
      t.executor = ex;
      ex.tasks.add(t);
      if (ex.active === 0) this.workStart.set(ex, performance.now());
      ex.active++;
      const s = t.spec;
      let source: string | undefined;
      let env: RunEnv | undefined;
      if (!ex.fns.has(s.fnId)) {
        const f = this.fnSource(s.fnId);
        source = f?.source;
        env = f && runEnvOf(this.envOf(f), (ex.envs ??= new Set()));
        ex.fns.add(s.fnId);
      }
      const r = runTaskOf(t, source, transfer);
      if (env) r.env = env;
      run.push(r);
      this.onDispatch(t);
    }
    ex.handle.post({ k: 'run', tasks: run }, transfer);
  }

  /** Sends an actor's method calls, in order, to the executor that holds the actor (one message for all). */
  dispatchCalls(ex: Executor, calls: LocalTask[]): void {
    const run: RunTask[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const t of calls) {
      t.state = 'running';
      t.executor = ex;
      t.actorCall = true;
      ex.tasks.add(t);
      this.onDispatch(t);
      run.push(runTaskOf(t, undefined, transfer));
    }
    ex.handle.post({ k: 'run', tasks: run }, transfer);
  }

  /** The actor created by `t` lives on: its executor stays taken while it does (if it holds a CPU). */
  keepForActor(t: LocalTask): void {
    const ex = t.executor;
    if (!ex) return;
    if (actorLiveCpu(t.spec) > 0) ex.reserved++;
    // The creation task no longer counts as running work.
    if (!t.blocked) ex.active--;
    t.blocked = true;
  }

  /** An actor is gone: its executor takes tasks again. */
  unkeepActor(t: LocalTask): void {
    const ex = t.executor;
    if (!ex) return;
    if (actorLiveCpu(t.spec) > 0) ex.reserved = Math.max(0, ex.reserved - 1);
    ex.tasks.delete(t);
    t.executor = null;
    this.pump();
  }

  /** A task left its executor (ended). */
  release(t: LocalTask): void {
    const ex = t.executor;
    if (!ex) return;
    if (ex.tasks.delete(t) && !t.blocked && !t.actorCall) ex.active--;
    t.executor = null;
    this.afterRelease(ex);
  }

  /** Grows or shrinks the pool (issue 3); a surplus executor finishes what it has, then goes. */
  resize(n: number): void {
    const want = Math.max(1, Math.floor(n));
    while (this.executors.length < want) this.executors.push(this.start(this.executors.length));
    while (this.executors.length > want) {
      const ex = this.executors.pop()!;
      if (ex.tasks.size === 0) this.terminate(ex);
      else this.retiring.add(ex);
    }
    this.count = want;
    this.pump();
  }

  private terminate(ex: Executor): void {
    try {
      ex.handle.terminate();
    } catch {
      /* already gone */
    }
  }

  private afterRelease(ex: Executor): void {
    if (this.dedicated.has(ex)) {
      // Its actor's constructor failed (or the actor is gone): the executor goes with it.
      if (ex.tasks.size === 0) {
        this.dedicated.delete(ex);
        this.terminate(ex);
      }
      return;
    }
    if (this.retiring.has(ex)) {
      if (ex.tasks.size === 0) {
        this.retiring.delete(ex);
        this.terminate(ex);
      }
      return;
    }
    this.rest(ex);
  }

  /** CPU share: an executor that just went idle rests in proportion to how long it worked. */
  private rest(ex: Executor): void {
    const start = this.workStart.get(ex);
    if (ex.active !== 0 || start === undefined) return;
    this.workStart.delete(ex);
    if (this.cpuShare >= 1) return;
    const ms = ((performance.now() - start) * (1 - this.cpuShare)) / Math.max(0.01, this.cpuShare);
    if (ms < 1) return;
    ex.active++; // resting holds the executor as a task would
    setTimeout(() => {
      ex.active--;
      this.pump();
    }, ms);
  }

  setBlocked(t: LocalTask, blocked: boolean): void {
    if (t.blocked === blocked || !t.executor || t.actorCall) return;
    t.blocked = blocked;
    if (!blocked && t.executor.active === 0) this.workStart.set(t.executor, performance.now());
    t.executor.active += blocked ? -1 : 1;
    if (blocked) {
      this.rest(t.executor);
      this.pump();
    }
  }

  /** Every live executor: the pool's, retiring ones and actors' own. */
  all(): Executor[] {
    return [...this.executors, ...this.retiring, ...this.dedicated];
  }

  /**
   * Takes in the executor of an actor that an earlier session of this node
   * hosted (issue 15: the actor outlives its coordinator). It serves that
   * actor only, outside the slot count, like an actor's own executor.
   */
  adopt(ex: Executor): void {
    ex.route = { message: this.onMessage, exit: this.onExit };
    ex.active = 0;
    this.dedicated.add(ex);
    ex.handle.post(this.configMsg());
  }

  /** Terminates every executor but those in `keep` (actors' executors handed to the next session). */
  terminateAll(keep: ReadonlySet<Executor> = new Set()): void {
    for (const ex of [...this.retiring, ...this.dedicated, ...this.executors]) {
      if (keep.has(ex)) continue;
      try {
        ex.handle.terminate();
      } catch {
        /* gone */
      }
    }
  }
}
