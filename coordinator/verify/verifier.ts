// Verified execution (issue 8): a task with `verify: { replicas: N }` runs as
// N replicas of the same spec (same ids) on N distinct nodes. Each replica's
// outcome is reduced to a signature (inline values: the hash of their bytes;
// stored ones: the content hash the node reported; failures: code, name and
// message). The outputs settle once a strict majority of N agrees; with no
// majority when every replica has answered, one more replica runs, up to
// 2N+1 in all. Agreeing nodes gain trust, the others lose it. In adaptive
// mode (BOINC's adaptive replication) one replica runs first; if its node is
// trusted it is believed, except for a random spot check, else the other
// N-1 replicas run. Only the chosen holder keeps the stored outputs: the
// other replicas' copies are freed.
import type { Failure } from '../../shared/errors.js';
import { contentHash } from '../../shared/hash.js';
import { returnObjectId, type NodeId, type ObjectId } from '../../shared/ids.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import { taskDone } from '../nodes/load.js';
import { TERMINAL, type NodeRecord, type ReplicaSet, type TaskRecord } from '../gcs/tables.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { Session } from '../session.js';
import type { TrustTable } from '../trust/trust.js';
import { newReplica, replicaCancelled, replicaEnded, replicaPlaced, replicaStarted, verifying } from '../scheduler/task-states.js';

export type Outcome = { done: MsgOf<'done'>; failure?: undefined } | { failure: Failure; done?: undefined };

/** What the verifier needs of the task manager. */
export interface VerifiedTasks {
  unplace(t: TaskRecord): void;
  /** Settles the primary with the accepted result, `holder` keeping its stored outputs. */
  completeDone(t: TaskRecord, m: MsgOf<'done'>, holder: Session): void;
  finishFailed(t: TaskRecord, f: Failure): void;
}

interface Vote {
  sig: string;
  outcome: Outcome;
  /** The sessions (nodes) that reported it, in order; the first holds the outputs. */
  sessions: Session[];
}

export class ReplicaGroup implements ReplicaSet {
  readonly used = new Set<NodeId>();
  readonly records: TaskRecord[] = [];
  readonly votes = new Map<string, Vote>();
  /** Replicas whose agreement settles the task (1 when a trusted node goes unchecked). */
  want: number;
  /** Adaptive mode: the first replica's node decides whether the others run. */
  deciding: boolean;
  closed = false;
  constructor(
    readonly primary: TaskRecord,
    readonly replicas: number,
    adaptive: boolean,
  ) {
    this.want = replicas;
    this.deciding = adaptive;
  }
  /** Replicas allowed in all, disagreements included. */
  get cap(): number {
    return 2 * this.replicas + 1;
  }
}

export function isReplica(t: TaskRecord): boolean {
  return !!t.replicas && t.replicas.primary !== t;
}

/** The signature replicas must agree on. */
export function signature(o: Outcome): string {
  if (o.failure) return `failed:${o.failure.code}:${o.failure.name}:${o.failure.message}`;
  return o.done.results.map((r) => `${r.v ? `v:${contentHash(r.v)}` : `s:${r.hash}:${r.size}`}|${r.refs.join(',')}`).join(';');
}

export class Verifier {
  /** Counters for /api/stats. */
  readonly stats = { verifiedTasks: 0, verifyDisagreements: 0, verifyUnchecked: 0, replicasRun: 0 };

  constructor(
    private readonly gcs: Gcs,
    private readonly scheduler: Scheduler,
    private readonly tasks: VerifiedTasks,
    private readonly trust: TrustTable,
  ) {}

  /** The primary's arguments are ready: its replicas go to the scheduler (or one runs on `local` already). */
  start(t: TaskRecord, local?: NodeRecord, placeOn?: (r: TaskRecord, n: NodeRecord) => void): void {
    const v = t.spec.verify!;
    const g = new ReplicaGroup(t, v.replicas, !!v.adaptive);
    verifying(t, g);
    const first = this.add(g, !local);
    if (local && placeOn) placeOn(first, local);
    if (!g.deciding) for (let i = 1; i < g.replicas; i++) this.add(g);
  }

  private add(g: ReplicaGroup, enqueue = true): TaskRecord {
    const r = newReplica(g);
    g.records.push(r);
    this.stats.replicasRun++;
    if (enqueue) this.scheduler.enqueue(r);
    return r;
  }

  /** A replica was placed on `n` (by the scheduler, or locally). */
  placed(r: TaskRecord, n: NodeRecord): void {
    const g = r.replicas as ReplicaGroup;
    g.used.add(n.id);
    const p = g.primary;
    replicaPlaced(p, n.id);
    if (!g.deciding) return;
    g.deciding = false;
    if (this.trust.skipCheck(n.id)) {
      g.want = 1;
      this.stats.verifyUnchecked++;
    } else for (let i = 1; i < g.replicas; i++) this.add(g);
  }

  /**
   * A node hands back a replica it had not started (it paused, or gave work back): the
   * group may use that node again (issue 14; else, with as many nodes as replicas, the
   * replica could go nowhere, not even back to the node once it resumed).
   */
  handedBack(r: TaskRecord): void {
    const g = r.replicas as ReplicaGroup;
    const n = r.node;
    if (n && !g.records.some((o) => o !== r && o.ranOn === n.id)) g.used.delete(n.id);
  }

  /** A replica started at `at` (ms since the epoch). */
  started(r: TaskRecord, at: number): void {
    replicaStarted((r.replicas as ReplicaGroup).primary, at);
  }

  /** The replica of `p` that session `s` runs at `attempt`, if any. */
  replicaOn(p: TaskRecord, s: Session, attempt: number): TaskRecord | undefined {
    const g = p.replicas as ReplicaGroup | undefined;
    return g?.records.find((r) => r.node?.session === s && r.spec.attempt === attempt);
  }

  /** Whether session `s` runs a replica of `p` now (for its nested tasks, puts and logs). */
  runsOn(p: TaskRecord, s: Session): boolean {
    const g = p.replicas as ReplicaGroup | undefined;
    return !!g && g.records.some((r) => r.node?.session === s);
  }

  /** A replica reported its outcome. */
  report(r: TaskRecord, outcome: Outcome, s: Session): null {
    const g = r.replicas as ReplicaGroup;
    const n = r.node;
    if (n) taskDone(n);
    this.tasks.unplace(r);
    replicaEnded(r, outcome.failure ? 'failed' : 'finished');
    const sig = signature(outcome);
    let vote = g.votes.get(sig);
    if (!vote) g.votes.set(sig, (vote = { sig, outcome, sessions: [] }));
    vote.sessions.push(s);
    this.evaluate(g);
    return null;
  }

  /** A replica cannot run (its node was lost past its retries): it counts as no answer. */
  replicaLost(r: TaskRecord): void {
    this.tasks.unplace(r);
    replicaEnded(r, 'failed');
    this.evaluate(r.replicas as ReplicaGroup);
  }

  private evaluate(g: ReplicaGroup): void {
    if (g.closed) return;
    let top: Vote | null = null;
    let second = 0;
    for (const v of g.votes.values()) {
      if (!top || v.sessions.length > top.sessions.length) {
        second = top?.sessions.length ?? 0;
        top = v;
      } else second = Math.max(second, v.sessions.length);
    }
    const quorum = Math.floor(g.want / 2) + 1;
    if (top && top.sessions.length >= quorum && top.sessions.length > second) return this.accept(g, top);
    const outstanding = g.records.filter((r) => !TERMINAL.has(r.state)).length;
    if (outstanding > 0) return;
    if (g.records.length < g.cap && this.gcs.nodes.size > 0) {
      if (g.votes.size > 1) {
        this.stats.verifyDisagreements++;
        this.gcs.event(
          'verify-disagreed',
          `task ${g.primary.spec.name} ${g.primary.spec.taskId.slice(0, 12)}: ${g.votes.size} different results from ${g.records.length} replicas; running one more`,
          {
            task: g.primary.spec.taskId,
            job: g.primary.spec.jobId,
          },
        );
      }
      // A lost replica is replaced; a disagreement is settled by one more.
      this.add(g);
      return;
    }
    const p = g.primary;
    this.tasks.finishFailed(p, {
      code: 'TASK_ERROR',
      name: 'VerificationError',
      message: `task ${p.spec.name}: no majority of its ${p.spec.verify!.replicas} replicas agreed after ${g.records.length} runs (${g.votes.size} different results)`,
      stack: '',
      functionName: p.spec.name,
      taskId: p.spec.taskId,
    });
  }

  private accept(g: ReplicaGroup, win: Vote): void {
    const p = g.primary;
    const holder = win.sessions[0];
    const checked = g.want > 1;
    this.stats.verifiedTasks++;
    for (const v of g.votes.values()) {
      for (const s of v.sessions) {
        const node = s.nodeId;
        if (node && checked) {
          if (v === win) this.trust.agreed(node);
          else
            this.trust.disagreed(
              node,
              `task ${p.spec.name} ${p.spec.taskId.slice(0, 12)}: its result disagreed with ${win.sessions.length} of ${g.records.length} replicas`,
            );
        }
        if (s !== holder) this.freeStored(s, p, v.outcome);
      }
    }
    if (win.outcome.done) {
      // The winner's node reported first among its peers; its copies are the outputs.
      this.tasks.completeDone(p, win.outcome.done, holder);
    } else this.tasks.finishFailed(p, win.outcome.failure);
  }

  /** A replica's stored outputs are not needed: its node may drop them. */
  private freeStored(s: Session, p: TaskRecord, o: Outcome): void {
    if (!o.done || s.closed) return;
    const ids: ObjectId[] = [];
    o.done.results.forEach((r, i) => {
      if (!r.v) ids.push(returnObjectId(p.spec.taskId, i));
    });
    if (ids.length) s.send({ t: 'free', ids });
  }

  /** The primary ended (settled, failed, cancelled): replicas still running are stopped. */
  close(p: TaskRecord): void {
    const g = p.replicas as ReplicaGroup | undefined;
    if (!g || g.closed) return;
    g.closed = true;
    for (const r of g.records) {
      if (TERMINAL.has(r.state)) continue;
      const n = r.node;
      if (n) n.session.send({ t: 'cancelTask', taskId: r.spec.taskId, force: true });
      this.tasks.unplace(r);
      replicaCancelled(r);
    }
  }
}
