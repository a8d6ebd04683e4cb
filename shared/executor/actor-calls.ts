// An actor's method calls inside its executor: run in arrival order, at most
// maxConcurrency at a time, with a checkpoint every checkpointEvery calls.
import { encodeValue, decodeValue, type EncodedValue } from '../codec.js';
import { failureOf, TaskCancelledError } from '../errors.js';
import type { TaskId } from '../ids.js';
import type { FromExecutor, RunResult, RunTask } from './protocol.js';
import { explain } from './task-code.js';
import { RunningTask, type LiveActor } from './running.js';
import { transferable } from './node-calls.js';

/** What the actor calls need of the executor they run in. */
export interface ActorCallHost {
  readonly running: Map<TaskId, RunningTask>;
  finish(result: RunResult): void;
  encodeReturns(t: RunTask, value: unknown): EncodedValue[];
  /** A function's source, to point at the failing line. */
  sourceOf(fnId: string): string | undefined;
  post(m: FromExecutor, transfer?: ArrayBuffer[]): void;
}

export class ActorCalls {
  readonly actors = new Map<string, LiveActor>();

  constructor(private readonly host: ActorCallHost) {}

  enqueue(t: RunTask): void {
    const a = this.actors.get(t.actor!.id);
    if (!a) {
      this.host.finish({
        taskId: t.taskId,
        attempt: t.attempt,
        ms: 0,
        ok: false,
        failure: {
          ...failureOf('ACTOR_DIED', t.taskId, t.name, new Error(`actor ${t.actor!.id.slice(0, 12)} does not live in this executor`)),
          name: 'ActorDiedError',
        },
      });
      return;
    }
    a.queue.push(t);
    this.pump(a);
  }

  /** Runs an actor's calls in arrival order, at most maxConcurrency at a time. */
  private pump(a: LiveActor): void {
    while (a.running < a.maxConcurrency && a.queue.length > 0) {
      const t = a.queue.shift()!;
      a.running++;
      void this.run(a, t).finally(() => {
        a.running--;
        this.pump(a);
      });
    }
  }

  /** Every checkpointEvery calls, the actor's checkpoint() goes to the GCS: a restart replays only the calls after it. */
  private async maybeCheckpoint(a: LiveActor, t: RunTask): Promise<void> {
    if (a.checkpointEvery === 0 || ++a.sinceCheckpoint < a.checkpointEvery) return;
    a.sinceCheckpoint = 0;
    try {
      let state = (a.instance.checkpoint as () => unknown).call(a.instance);
      if (state !== null && typeof state === 'object' && typeof (state as PromiseLike<unknown>).then === 'function')
        state = await (state as PromiseLike<unknown>);
      const bytes = encodeValue(state).bytes;
      this.host.post({ k: 'checkpoint', actorId: a.id as TaskId, after: t.taskId, state: bytes }, transferable([bytes]));
    } catch (e) {
      a.console.error(`checkpoint() of ${t.name.split('.')[0]} failed; the next restart replays from the previous one:`, e);
    }
  }

  private async run(a: LiveActor, t: RunTask): Promise<void> {
    const start = performance.now();
    const r = new RunningTask(t);
    this.host.running.set(t.taskId, r);
    let result: RunResult;
    try {
      const method = t.actor!.method!;
      const fn = a.instance[method];
      if (typeof fn !== 'function') throw new TypeError(`${t.name.split('.')[0]} has no method '${method}'`);
      const args = t.args.map((x) => decodeValue(x, undefined, a.mesh.actorFactory, a.mesh.remoteFactory));
      let value = (fn as (...args: unknown[]) => unknown).apply(a.instance, args);
      if (value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function')
        value = await (value as PromiseLike<unknown>);
      if (r.cancelled) throw new TaskCancelledError(t.taskId);
      result = { taskId: t.taskId, attempt: t.attempt, ms: performance.now() - start, ok: true, returns: this.host.encodeReturns(t, value) };
      await this.maybeCheckpoint(a, t);
    } catch (e) {
      const code = r.cancelled || e instanceof TaskCancelledError ? 'TASK_CANCELLED' : 'TASK_ERROR';
      result = {
        taskId: t.taskId,
        attempt: t.attempt,
        ms: performance.now() - start,
        ok: false,
        failure: failureOf(code, t.taskId, t.name, explain(e, t.name, this.host.sourceOf(t.fnId))),
      };
    }
    this.host.running.delete(t.taskId);
    this.host.finish(result);
  }
}
