// The node's executors (one per slot), the executors of actors that hold no
// CPU (one each, outside the slot count), and executors retiring after the
// pool was made smaller: starting, replacing, resizing and ending them.
import type { FromExecutor, ToExecutor } from '../executor/protocol.js';
import type { Executor, ExecutorHandle, LocalTask, SpawnExecutor } from './local-task.js';
import { ViewLeases } from './view-leases.js';

/** Indices (worker names) of actors' own executors start here. */
const ACTOR_EXECUTOR_BASE = 1000;

export class ExecutorPool {
  readonly executors: Executor[] = [];
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
    private readonly onMessage: (ex: Executor, m: FromExecutor) => void,
    private readonly onExit: (ex: Executor, why: string) => void,
    private readonly configMsg: () => ToExecutor,
    count: number,
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
      leases: new ViewLeases((ids) => ex.handle.post({ k: 'reclaim', ids })),
      route: { message: this.onMessage, exit: this.onExit },
    };
    ex.handle = this.spawn(
      index,
      // Leases come back to the pool that lent them, whichever session the executor serves.
      (m) => (m.k === 'unlent' ? ex.leases.returned(m.ids) : ex.route.message(ex, m)),
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
    this.terminate(ex);
    this.executors[ex.index] = this.start(ex.index);
    return orphans;
  }

  /** Tasks on every live executor. */
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

  /** How many slot executors are free. */
  freeCount(): number {
    let free = 0;
    for (const e of this.executors) if (e.active === 0 && e.reserved === 0) free++;
    return free;
  }

  /** For a task that needs no CPU: the least busy executor, one no actor holds if there is one. */
  leastBusy(): Executor | undefined {
    let best: Executor | undefined;
    for (const ex of this.executors) if (ex.reserved === 0 && (!best || ex.tasks.size < best.tasks.size)) best = ex;
    if (best) return best;
    for (const ex of this.executors) if (!best || ex.tasks.size < best.tasks.size) best = ex;
    return best;
  }

  startDedicated(): Executor {
    const ex = this.start(ACTOR_EXECUTOR_BASE + this.nextDedicated++);
    this.dedicated.add(ex);
    return ex;
  }

  /** Grows or shrinks the slot executors; a surplus executor finishes what it has, then goes. */
  resize(want: number): void {
    while (this.executors.length < want) this.executors.push(this.start(this.executors.length));
    while (this.executors.length > want) {
      const ex = this.executors.pop()!;
      if (ex.tasks.size === 0) this.terminate(ex);
      else this.retiring.add(ex);
    }
  }

  terminate(ex: Executor): void {
    try {
      ex.handle.terminate();
    } catch {
      /* already gone */
    }
    ex.leases.close();
  }

  /** A task left `ex`: an actor's own or a retiring executor goes once empty. True when `ex` is one of those. */
  afterRelease(ex: Executor): boolean {
    if (this.dedicated.has(ex)) {
      // Its actor's constructor failed (or the actor is gone): the executor goes with it.
      if (ex.tasks.size === 0) {
        this.dedicated.delete(ex);
        this.terminate(ex);
      }
      return true;
    }
    if (this.retiring.has(ex)) {
      if (ex.tasks.size === 0) {
        this.retiring.delete(ex);
        this.terminate(ex);
      }
      return true;
    }
    return false;
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
      this.terminate(ex);
    }
  }
}
