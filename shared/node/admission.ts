// The tasks a node runs, from admission to their end: arguments resolved (and
// runtime env artifacts fetched), queued on the local scheduler or an actor,
// reported done or failed, cancelled, timed out, handed back when paused, and
// the one path that settles the tasks of an executor that died or restarted.
import { failureOf, type Failure } from '../errors.js';
import { adopt, handOver } from '../bytes.js';
import { asyncHashFrom, contentHash, contentHashAsync } from '../hash.js';
import { returnObjectId, type ObjectId, type TaskId } from '../ids.js';
import type { Msg, TaskResult } from '../protocol/messages.js';
import { DIRECT_TAG } from '../protocol/direct.js';
import { actorDied } from './actor-host.js';
import type { Executor, LocalTask } from './executors.js';
import type { AdmissionContext, TaskTable } from './node-context.js';
import type { QuietRun } from './start-reports.js';
import { sendShortcut } from './result-shortcut.js';
import { CancelsAhead, cancelledFailure } from './cancels-ahead.js';
import { giveBack, handBackWaiting } from './hand-back.js';

/** How a task of a gone executor ends: with this failure, or queued again. */
type Fate = Failure | 'again';

export class NodeTasks implements TaskTable {
  private readonly tasks = new Map<TaskId, LocalTask>();
  /** By actor: the report of its last call still waiting for its hash (or for the call before it). */
  private readonly actorReports = new Map<string, Promise<void>>();
  /** The coordinator's cancels of direct tasks that had not come yet (cancels-ahead.ts). */
  private readonly ahead = new CancelsAhead();

  constructor(private readonly n: AdmissionContext) {}

  get(id: TaskId): LocalTask | undefined {
    return this.tasks.get(id);
  }

  /** Drops the record of an ended task (an actor's host, which ends outside `end`). */
  forget(id: TaskId): void {
    this.tasks.delete(id);
  }

  /** An actor's host task from an earlier session of this node (issue 15): it serves that actor's calls here. */
  adopt(host: LocalTask): void {
    this.tasks.set(host.spec.taskId, host);
  }

  /** Takes a task to run here: resolves its ref arguments, then queues it. */
  admit(spec: LocalTask['spec'], inline?: Map<ObjectId, Uint8Array>, sc?: string): void {
    const n = this.n;
    const had = this.tasks.get(spec.taskId);
    if (had && !this.supersede(had, spec)) {
      if (had.spec === spec) had.sc = sc; // its run was kept under this attempt: so is the tag
      return;
    }
    const t: LocalTask = { spec, args: [], missing: 0, state: 'resolving', executor: null, blocked: false, holds: [], timer: null, calledOut: false, sc };
    this.tasks.set(spec.taskId, t);
    if (this.ahead.size > 0 && this.ahead.take(spec.taskId, spec.attempt)) return this.end(t, { failure: cancelledFailure(spec.taskId, spec.name) });
    if (spec.actor?.kind === 'call' && !n.actors.addCall(spec.actor.id, t)) {
      return this.end(t, { failure: actorDied(spec, 'the actor does not live on this node') });
    }
    // A function with a runtime env (issue 16): its artifacts are here before its first task runs.
    const env = spec.actor?.kind === 'call' ? undefined : n.fns.get(spec.fnId)?.env;
    const side = n.opts.kind === 'browser' ? 'b' : 'e';
    if (env && !n.envCache.ready(env, side)) {
      t.missing++;
      n.envCache.ensure(env, side).then(
        () => {
          if (t.state === 'resolving' && --t.missing === 0) this.argsReady(t);
        },
        (e: Error) => {
          if (t.state === 'resolving') this.end(t, { failure: { ...failureOf('TASK_ERROR', spec.taskId, spec.name, e), name: e.name } });
        },
      );
    }
    for (let i = 0; i < spec.args.length; i++) {
      const a = spec.args[i];
      if (a.v) {
        t.args.push(a.v);
        continue;
      }
      const v = inline?.get(a.r) ?? n.store.getSync(a.r);
      if (v) {
        t.args.push(v);
        continue;
      }
      t.args.push(null);
      t.missing++;
      const idx = i;
      const ref = a.r;
      n.access.resolve(ref, true).then(
        (f) => {
          if (t.state !== 'resolving') return;
          if (f.failure) return this.end(t, { failure: f.failure });
          t.args[idx] = f.bytes;
          if (--t.missing === 0) this.argsReady(t);
        },
        (e: unknown) => {
          // The node is closing (its tasks go back to the coordinator's queue), or its store failed to read.
          if (t.state === 'resolving' && !n.closed) this.end(t, { failure: failureOf('OBJECT_LOST', ref, '', e) });
        },
      );
    }
    if (t.missing === 0) this.argsReady(t);
  }

  /**
   * The task is assigned here again at a higher attempt while this node still
   * holds it: a coordinator let its job go without cancelling it here, and the
   * new owner placed it here again (issue 15). The owner waits for the new
   * attempt only; dropping the assign left it assigned there for ever. Ids are
   * deterministic, so a run that has not started (or one that never called
   * out: no child, put, get or ask under the old owner) makes what the new
   * attempt would: it is kept and reported under that attempt. Any other run
   * starts again under it (Ray runs a task at least once). An actor's tasks
   * are never run twice. True: admit `spec` as a new task.
   */
  private supersede(t: LocalTask, spec: LocalTask['spec']): boolean {
    if (spec.attempt <= t.spec.attempt || spec.actor || t.spec.actor) return false;
    const n = this.n;
    if (t.state === 'resolving' || t.state === 'ready') {
      n.local.remove(t);
      t.state = 'ended'; // its argument fetches in flight see it and stop
      this.tasks.delete(t.spec.taskId);
      return true;
    }
    if (t.state !== 'running' || !t.executor) return false;
    const was = t.spec.attempt;
    const same = !t.calledOut && (spec.gen ?? 0) === (t.spec.gen ?? 0);
    t.spec = spec;
    if (same) {
      t.runAttempt ??= was;
      n.starts.reassigned(t);
      n.onEvent(`task ${spec.name} ${spec.taskId.slice(0, 8)} assigned again as attempt ${spec.attempt}: its run of attempt ${was} goes on for it`);
    } else {
      this.killExecutor(t.executor, t, 'again', `task ${spec.name} ${spec.taskId.slice(0, 8)} runs again as attempt ${spec.attempt}`);
    }
    return false;
  }

  private argsReady(t: LocalTask): void {
    if (t.spec.actor?.kind === 'call') {
      t.state = 'ready';
      this.n.actors.pump(t.spec.actor.id);
    } else this.n.local.enqueue(t);
  }

  /** A task ended here: report it, then give up what it held. */
  end(t: LocalTask, r: { returns?: { bytes: Uint8Array; refs: ObjectId[] }[]; failure?: Failure; ms?: number }): void {
    const n = this.n;
    if (t.state === 'ended') return;
    // A run not reported `started` (it ended within a few ms): its end says where it ran (start-reports.ts).
    const quiet = n.starts.settle(t);
    const ran = quiet?.ex !== undefined ? { ex: quiet.ex } : {};
    if (r.returns && t.spec.actor?.kind === 'create' && t.executor) {
      // The actor is up: it keeps its executor, and its task record serves its calls.
      n.local.keepForActor(t);
      clearTimeout(t.timer);
      n.actors.started(t);
      n.tasksRun++;
      n.send({ t: 'done', taskId: t.spec.taskId, attempt: t.spec.attempt, ms: r.ms ?? 0, ...ran, results: [{ v: r.returns[0].bytes, refs: [] }] });
      n.onEvent(`actor ${t.spec.name} ${t.spec.taskId.slice(0, 8)} started`);
      return;
    }
    t.state = 'ended';
    const ex = t.executor;
    n.local.release(t);
    clearTimeout(t.timer);
    this.tasks.delete(t.spec.taskId);
    const returns = r.returns;
    // A large result is hashed off the main thread (Node's hash pool: an 80 MiB result was 55-90 ms of
    // this thread, which serves links; browsers: WebCrypto, from any stored size, see asyncHashFrom); its
    // report waits for the hash. An actor's calls are reported in their order: one waits for the one before.
    const asyncFrom = Math.max(asyncHashFrom(), n.inlineMax + 1);
    const large = returns !== undefined && returns.some((x) => x.bytes.byteLength >= asyncFrom);
    const actor = t.spec.actor?.id;
    const before = actor === undefined ? undefined : this.actorReports.get(actor);
    if (!large && !before) return this.report(t, r, quiet, ex, []);
    const hashes = large
      ? Promise.all(returns.map((x) => (x.bytes.byteLength > n.inlineMax ? contentHashAsync(x.bytes).then((h) => h.hash) : Promise.resolve(undefined))))
      : Promise.resolve([]);
    const reported = Promise.all([hashes, before ?? Promise.resolve()]).then(
      ([h]) => void (!n.closed && this.report(t, r, quiet, ex, h)),
      () => void (!n.closed && this.report(t, r, quiet, ex, [])),
    );
    if (actor === undefined) return;
    this.actorReports.set(actor, reported);
    void reported.then(() => {
      if (this.actorReports.get(actor) === reported) this.actorReports.delete(actor);
    });
  }

  /** The end of a task to the coordinator (large results stored here first), then what it held given up. */
  private report(
    t: LocalTask,
    r: { returns?: { bytes: Uint8Array; refs: ObjectId[] }[]; failure?: Failure; ms?: number },
    quiet: QuietRun | undefined,
    ex: Executor | null,
    hashes: (string | undefined)[],
  ): void {
    const n = this.n;
    const s = t.spec;
    const ran = quiet?.ex !== undefined ? { ex: quiet.ex } : {};
    if (r.returns) {
      const results: TaskResult[] = [];
      for (let i = 0; i < r.returns.length; i++) {
        const { bytes, refs } = r.returns[i];
        if (bytes.byteLength <= n.inlineMax) {
          results.push({ v: bytes, refs });
          n.inlineBytes.out += bytes.byteLength;
        } else {
          const hash = hashes[i] ?? contentHash(bytes);
          n.store.put(returnObjectId(s.taskId, i), bytes, { hash, primary: true });
          // Its memory is this node's once freed; a freed buffer of its size goes to the executor for its next result (issue 17).
          adopt(bytes);
          const spare = ex ? handOver(bytes.byteLength) : null;
          if (spare) ex!.handle.post({ k: 'stock', bufs: [spare] });
          results.push({ size: bytes.byteLength, hash, refs });
        }
      }
      n.tasksRun++;
      if (t.member) n.groups.ended(t, results, undefined, r.ms ?? 0, ex?.index);
      else {
        const sc = sendShortcut(n, t, results);
        if (sc && n.afterShortcut) return n.afterShortcut();
        const done: Msg = { t: 'done', taskId: s.taskId, attempt: s.attempt, ms: r.ms ?? 0, ...ran, results, ...(sc && { sc: true }) };
        // A direct task's value went by the shortcut: its report rides on a later frame (its driver's record lags as
        // much), unless the coordinator asked for it (`hurry`: something there waits on it).
        if (sc && t.sc === DIRECT_TAG && !t.hurried) n.sendLater(done);
        else n.send(done);
      }
    } else if (t.member) n.groups.ended(t, undefined, r.failure!, r.ms, ex?.index);
    else n.send({ t: 'failed', taskId: s.taskId, attempt: s.attempt, failure: r.failure!, ...(quiet && { ms: r.ms ?? quiet.ms, ...ran }) });
    n.onTaskEnd(s.name, r.returns ? 'ok' : r.failure?.code === 'TASK_CANCELLED' ? 'cancelled' : 'failed');
    if (t.holds.length) n.send({ t: 'release', ids: t.holds });
  }

  /** The coordinator cancels attempt `attempt` of task `taskId` (a direct task may not be here yet: kept for it). */
  cancel(taskId: TaskId, force: boolean, attempt?: number): void {
    const t = this.tasks.get(taskId);
    if (!t) return void (attempt !== undefined && this.ahead.add(taskId, attempt));
    const failure = cancelledFailure(taskId, t.spec.name);
    if (t.state === 'resolving' || t.state === 'ready') {
      this.n.local.remove(t);
      this.end(t, { failure });
    } else if (t.state === 'running') {
      if (force) this.killExecutor(t.executor!, t, failure, failure.message);
      else t.executor!.handle.post({ k: 'cancel', taskId });
    }
  }

  /** Called when a task is dispatched: arm its timeout. */
  armTimeout(t: LocalTask): void {
    if (t.spec.timeoutMs <= 0) return;
    t.timer = setTimeout(() => {
      if (t.state !== 'running' || !t.executor) return;
      const failure: Failure = {
        ...failureOf('TASK_TIMEOUT', t.spec.taskId, t.spec.name, new Error(`task ${t.spec.name} ran longer than its timeoutMs of ${t.spec.timeoutMs} ms`)),
        name: 'TaskTimeoutError',
      };
      this.killExecutor(t.executor, t, failure, failure.message);
    }, t.spec.timeoutMs);
  }

  /** Terminates an executor (`why`): `target` ends as `fate` says, the other tasks on it run again. */
  private killExecutor(ex: Executor, target: LocalTask, fate: Fate, why: string): void {
    const cause = `its executor was restarted: ${why}`;
    this.rehome(ex, cause, (o) => (o === target ? fate : o.actorCall ? actorDied(o.spec, cause) : 'again'));
    this.n.onEvent(`executor ${ex.index} restarted: ${why}`);
  }

  /** An executor died (the worker crashed or exited): a system failure, retried by the coordinator within maxRetries. */
  onExecutorExit(ex: Executor, why: string): void {
    if (this.n.closed || !this.n.local.owns(ex)) return;
    this.rehome(ex, `its executor crashed: ${why}`, (o) => {
      if (o.actorCall) return actorDied(o.spec, `its executor crashed while running this call: ${why}`);
      if (o.spec.actor?.kind === 'create') return actorDied(o.spec, `its executor crashed while running the constructor: ${why}`);
      return {
        ...failureOf('WORKER_CRASHED', o.spec.taskId, o.spec.name, new Error(`the executor running task ${o.spec.name} crashed: ${why}`)),
        name: 'WorkerCrashedError',
      };
    });
  }

  /**
   * The one "an executor died or was restarted" path: a fresh executor takes
   * its place, the actors it hosted die (`cause`), and each other task it held
   * ends as `fate` says or is queued again.
   */
  rehome(ex: Executor, cause: string, fate: (o: LocalTask) => Fate): void {
    const orphans = this.n.local.restart(ex);
    this.n.actors.lost(orphans, cause);
    for (const o of orphans) {
      o.executor = null;
      o.blocked = false;
      if (o.state === 'ended') continue;
      const f = fate(o);
      if (f !== 'again') this.end(o, { failure: f });
      else {
        clearTimeout(o.timer);
        this.n.local.enqueue(o, true);
      }
    }
    // The fresh executor is free: without this, tasks queued behind a lone killed task wait for the next assign, maybe forever.
    this.n.local.pump();
  }

  /** The functions the tasks here run (resolving, queued or running): their sources stay through a `forget`. */
  functionsUsed(): Set<string> {
    const used = new Set<string>();
    for (const t of this.tasks.values()) used.add(t.spec.fnId);
    return used;
  }

  /** No task here at all (resolving, queued or running). */
  get empty(): boolean {
    return this.tasks.size === 0;
  }

  /** Paused: the tasks not started yet go back to the coordinator (an actor's calls stay with it). */
  handBackWaiting(): number {
    return handBackWaiting(this.n, this.tasks);
  }

  /** The coordinator asks for up to `count` tasks that have not started (hand-back.ts). */
  giveBack(count: number, ids?: readonly TaskId[]): void {
    giveBack(this.n, this.tasks, count, ids);
  }
}
