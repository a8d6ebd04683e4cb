// The node's executors and its local queue: tasks whose arguments are here
// wait in `ready` and go to a free executor. Short tasks of one function go
// in batches (one message for many tasks), like a pool's concurrentTasks.
import type { FromExecutor, RunEnv, RunTask, ToExecutor } from '../executor/protocol.js';
import { actorLiveCpu, type FunctionSource } from '../protocol/messages.js';
import { runEnvOf, runTaskOf, type Executor, type LocalTask, type NodeEnv, type SpawnExecutor } from './local-task.js';
import { ReadyQueue } from './ready-queue.js';
import { ExecutorPool } from './executor-pool.js';
import { runColumns } from '../executor/columns.js';

export type { Executor, ExecutorHandle, LocalTask, NodeEnv, SpawnExecutor } from './local-task.js';

export class LocalScheduler {
  private readonly pool: ExecutorPool;
  /** Tasks whose arguments are here, in order, waiting for an executor. */
  private readonly ready = new ReadyQueue();
  /** Paused (issue 3): nothing new starts. */
  paused = false;
  /** Fraction of the time executors work (issue 3): one that worked t ms then rests t * (1 - share) / share. */
  cpuShare = 1;
  private readonly workStart = new WeakMap<Executor, number>();
  /** A function's runtime env (issue 16): sent with its first task on each executor. */
  envOf: (f: FunctionSource) => NodeEnv | undefined = () => undefined;
  constructor(
    spawn: SpawnExecutor,
    private readonly fnSource: (fnId: string) => FunctionSource | undefined,
    onMessage: (ex: Executor, m: FromExecutor) => void,
    onExit: (ex: Executor, why: string) => void,
    private readonly onDispatch: (t: LocalTask) => void,
    public count: number,
    configMsg: () => ToExecutor,
  ) {
    this.pool = new ExecutorPool(spawn, onMessage, onExit, configMsg, count);
  }

  /** The slot executors (actors' own and retiring ones are not among them). */
  get executors(): readonly Executor[] {
    return this.pool.executors;
  }

  /** Functions of ended jobs leave every executor that was sent them (a running task keeps its own reference). */
  forget(fns: readonly string[]): void {
    for (const ex of this.pool.all()) {
      const had = fns.filter((fn) => ex.fns.delete(fn));
      if (had.length > 0) ex.handle.post({ k: 'forget', fns: had }, []);
    }
  }

  /** Whether `ex` is one of this pool's live executors (not one replaced or retired). */
  owns(ex: Executor): boolean {
    return this.pool.owns(ex);
  }

  /** Replaces an executor (after terminate or crash); returns the tasks it had. An actor's own executor is not replaced. */
  restart(ex: Executor): LocalTask[] {
    return this.pool.restart(ex);
  }

  get queued(): number {
    return this.ready.length;
  }

  get running(): number {
    return this.pool.running;
  }

  freeExecutor(): Executor | undefined {
    return this.pool.freeExecutor();
  }

  /** Whether `t` creates an actor that holds no CPU while alive: it runs on an executor of its own. */
  static ownsExecutor(t: LocalTask): boolean {
    return t.spec.actor?.kind === 'create' && actorLiveCpu(t.spec) === 0;
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

  /** Queues tasks in order (a group's slice), then starts what the executors take: one pump for all. */
  enqueueAll(ts: readonly LocalTask[]): void {
    for (const t of ts) {
      t.state = 'ready';
      this.ready.push(t, false);
    }
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
        this.dispatch(this.pool.startDedicated(), [head]);
        continue;
      }
      // A task that needs no CPU (numCpus 0) shares the least busy executor, even one already running.
      const ex = (head.spec.resources.cpu ?? 1) === 0 ? this.pool.leastBusy() : this.pool.freeExecutor();
      if (!ex) break;
      this.dispatch(ex, this.ready.takeBatch(head, this.pool.freeCount()));
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
      const r = runTaskOf(t, source, transfer, ex);
      if (env) r.env = env;
      run.push(r);
      this.onDispatch(t);
    }
    const c = runColumns(run);
    const lent = ex.leases.take();
    ex.handle.post(c ? { k: 'runs', c, lent } : { k: 'run', tasks: run, lent }, transfer);
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
      run.push(runTaskOf(t, undefined, transfer, ex));
    }
    ex.handle.post({ k: 'run', tasks: run, lent: ex.leases.take() }, transfer);
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
    this.pool.resize(want);
    this.count = want;
    this.pump();
  }

  private afterRelease(ex: Executor): void {
    if (!this.pool.afterRelease(ex)) this.rest(ex);
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
    return this.pool.all();
  }

  /** Takes in the executor of an actor an earlier session of this node hosted (issue 15): it serves that actor only. */
  adopt(ex: Executor): void {
    this.pool.adopt(ex);
  }

  /** Terminates every executor but those in `keep` (actors' executors handed to the next session). */
  terminateAll(keep: ReadonlySet<Executor> = new Set()): void {
    this.pool.terminateAll(keep);
  }
}
