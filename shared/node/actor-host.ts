// Actor hosting on a node: the actors living here (their creation task, kept
// while the actor lives, and their calls in arrival order), handing calls to
// the actor's executor in order, and an actor's end (killed, or its executor
// gone). Named-actor lookups for executors wait here for the coordinator.
import { failureOf, TabmeshError, type Failure } from '../errors.js';
import { returnObjectId, type TaskId } from '../ids.js';
import type { MsgOf, TaskSpec } from '../protocol/messages.js';
import type { LocalTask } from './executors.js';
import type { ActorHostContext, ActorTable } from './node-context.js';
import type { ClusterInfo } from '../api/core.js';

export class ActorHost implements ActorTable {
  private readonly actors = new Map<string, { host: LocalTask; calls: LocalTask[] }>();

  /** Actors living here. */
  get count(): number {
    return this.actors.size;
  }
  /** Answers awaited from the coordinator (`actorInfo`, and cluster `info`), by `x`. */
  private readonly lookups = new Map<number, (m: MsgOf<'actorInfo' | 'info'>) => void>();
  private nextLookup = 1;

  constructor(private readonly n: ActorHostContext) {}

  /** A call arrived for an actor: queued in arrival order (call order), or false if the actor does not live here. */
  addCall(actorId: string, t: LocalTask): boolean {
    const a = this.actors.get(actorId);
    if (!a) return false;
    a.calls.push(t);
    return true;
  }

  /** The actor's constructor returned: it keeps its executor, and its task record serves its calls. */
  started(host: LocalTask): void {
    this.actors.set(host.spec.taskId, { host, calls: [] });
  }

  /** The ids of the actors living here. */
  hosted(): TaskId[] {
    return [...this.actors.values()].map((a) => a.host.spec.taskId);
  }

  /**
   * The session ends but the process stays (issue 15): the actors, with their
   * executors, go to the next session. Calls not ended here are dropped: the
   * coordinator that takes their job over decides their fate. What a host held
   * was held at the old coordinator, so it holds nothing any more.
   */
  handOver(): LocalTask[] {
    const out: LocalTask[] = [];
    for (const a of this.actors.values()) {
      const ex = a.host.executor;
      if (!ex) continue;
      for (const t of [...ex.tasks]) {
        if (t === a.host) continue;
        ex.tasks.delete(t);
        t.executor = null;
        t.state = 'ended';
      }
      a.host.holds = [];
      out.push(a.host);
    }
    this.actors.clear();
    return out;
  }

  /** An actor an earlier session of this node hosted lives on here: its executor and calls are this session's. */
  adopt(host: LocalTask): void {
    if (!host.executor) return;
    this.n.local.adopt(host.executor);
    this.n.tasks.adopt(host);
    this.actors.set(host.spec.taskId, { host, calls: [] });
  }

  /** The executor hosting an actor, if it lives here. */
  executorOf(id: string): LocalTask['executor'] | undefined {
    return this.actors.get(id)?.host.executor;
  }

  isHost(t: LocalTask): boolean {
    return t.spec.actor?.kind === 'create' && this.actors.get(t.spec.taskId)?.host === t;
  }

  /** Hands an actor its calls in order: a call waits for the ones before it to have their arguments. */
  pump(id: string): void {
    const a = this.actors.get(id);
    if (!a) return;
    let n = 0;
    const batch: LocalTask[] = [];
    while (n < a.calls.length) {
      const head = a.calls[n];
      if (head.state !== 'ended') {
        if (head.state !== 'ready') break;
        batch.push(head);
      }
      n++;
    }
    if (n > 0) a.calls.splice(0, n);
    if (batch.length) this.n.local.dispatchCalls(a.host.executor!, batch);
  }

  /** The actor is gone (killed, or its executor died): its calls fail with ActorDiedError. */
  destroy(id: string, why: string): void {
    const a = this.actors.get(id);
    if (!a) return;
    this.actors.delete(id);
    const ex = a.host.executor;
    const failure = actorDied(a.host.spec, why);
    for (const c of a.calls) this.n.tasks.end(c, { failure });
    if (ex) {
      for (const t of [...ex.tasks]) if (t.actorCall && t.spec.actor?.id === id) this.n.tasks.end(t, { failure });
      this.n.local.unkeepActor(a.host);
      // Stop whatever the instance is doing: a fresh executor takes its place.
      this.n.tasks.rehome(ex, `executor restarted: ${why}`, (o) => (o.actorCall ? failure : 'again'));
    }
    a.host.state = 'ended';
    this.n.tasks.forget(a.host.spec.taskId);
    if (a.host.holds.length) this.n.send({ t: 'release', ids: a.host.holds });
    this.n.onEvent(`actor ${a.host.spec.name} ${id.slice(0, 8)} stopped: ${why}`);
  }

  /**
   * Actors among `orphans` (tasks of an executor that is gone) died with it.
   * The coordinator hears of each first, so that it restarts the actor (and
   * retries its running calls) before the calls' own failures arrive, stale.
   */
  lost(orphans: LocalTask[], cause: string): void {
    for (const o of orphans) {
      if (!this.isHost(o)) continue;
      this.n.send({ t: 'failed', taskId: o.spec.taskId, attempt: o.spec.attempt, failure: actorDied(o.spec, cause) });
      o.executor = null;
      this.destroy(o.spec.taskId, cause);
    }
  }

  /** Asks the coordinator for a named actor on behalf of task `t` (which then holds the handle's object). */
  lookup(name: string, ns: string | undefined, t: LocalTask): Promise<{ id: string; className: string }> {
    const x = this.nextLookup++;
    const p = new Promise<{ id: string; className: string }>((resolve, reject) => {
      this.lookups.set(x, (m) => {
        if (m.t === 'actorInfo' && m.id && m.className) {
          t.holds.push(returnObjectId(m.id, 0)); // the coordinator holds it for this node
          resolve({ id: m.id, className: m.className });
        } else reject(new TabmeshError('ACTOR_DIED', (m.t === 'actorInfo' && m.error) || 'no such actor'));
      });
    });
    // The task's job tells the coordinator which namespace a name without one is in.
    this.n.send({ t: 'getActor', name, x, ns, job: t.spec.jobId });
    return p;
  }

  /** Cluster info (nodes, named actors) for task `t` (Ray's nodes(), list_named_actors). */
  ask(c: { q: 'nodes' | 'namedActors'; ns?: string; all?: boolean }, t: LocalTask): Promise<ClusterInfo> {
    const x = this.nextLookup++;
    const p = new Promise<ClusterInfo>((resolve) => this.lookups.set(x, (m) => resolve(m.t === 'info' ? { nodes: m.nodes, actors: m.actors } : {})));
    this.n.send({ t: 'ask', x, q: c.q, ns: c.ns, all: c.all, job: t.spec.jobId });
    return p;
  }

  onActorInfo(m: MsgOf<'actorInfo' | 'info'>): void {
    const f = this.lookups.get(m.x);
    if (!f) return;
    this.lookups.delete(m.x);
    f(m);
  }
}

export function actorDied(spec: TaskSpec, why: string): Failure {
  return {
    ...failureOf('ACTOR_DIED', spec.taskId, spec.name, new Error(`actor ${spec.actor?.id.slice(0, 12) ?? ''} died: ${why}`)),
    name: 'ActorDiedError',
  };
}
