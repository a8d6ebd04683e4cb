// Direct-submission leases (issue 14, session 15; shared/protocol/direct.ts).
// The coordinator grants a job's driver a lease on a node when it gives that
// node one of the job's tasks with a result shortcut's tag (so the node and
// the driver both said `direct`, and a link between them is, or is being,
// opened), tells both, and revokes it when the node leaves (a job's end takes
// its leases with it: its driver is gone). While the driver holds one, its
// `submit` with `to` is recorded as assigned to that node, which already has
// the task from the driver. The node's messages about such a task may come
// before the driver's `submit` (two sockets): they wait in the inbox
// (record-waits.ts) until it is handled, or are parked (parked-messages.ts)
// when it is late. A driver keeps at most DIRECT_UNRECORDED_MAX tasks sent
// that this coordinator has not handled the submission of (driver-direct.ts),
// so an honest node never parks more.
// A submission naming a node that left while the job held a lease on it may
// have run there: it runs again as its next attempt (as a lost node's tasks).
// A held node (coordinator/nodes/hold.ts, session 38) keeps its leases: what is
// on its way there is recorded as any submission, and waits there, not lost;
// drivers that said `suspend` are told to send it nothing new until it is back
// (an older driver goes on sending, and its tasks wait there as on a slow node).
import type { NodeId, TaskId } from '../../shared/ids.js';
import type { Gcs } from '../gcs/gcs.js';
import type { JobRecord, NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { Session } from '../session.js';
import { markTagged } from './shortcuts.js';

/** Nodes a job remembers having lost while it held a lease on them (a submission naming one may still be on its way). */
const LOST_MAX = 64;

/** What a driver's submission with `to` names: a node the job holds a lease on, a leased node that left, or why neither. */
export type Leased = { node: NodeRecord } | { lost: NodeId } | { why: string };

export class DirectLeases {
  /** Each job's leased nodes (a job's record goes with its leases). */
  private readonly byJob = new WeakMap<JobRecord, Set<NodeRecord>>();
  /** Each node's jobs, to revoke when it leaves. */
  private readonly byNode = new WeakMap<NodeRecord, Set<JobRecord>>();
  /** Each job's nodes that left while it held a lease on them, oldest first. */
  private readonly lost = new WeakMap<JobRecord, Set<NodeId>>();
  /** Tasks recorded from a driver's submit with `to` (a node's refusal hands back only those). */
  private readonly sent = new WeakSet<TaskRecord>();
  granted = 0;
  revoked = 0;
  /** Leases whose drivers were told their node is held, and told it is back. */
  suspended = 0;
  resumed = 0;
  /** A driver's submission naming node session `s` was handled (record-waits.ts wakes what `s` holds). */
  onSubmitted: (s: Session) => void = () => {};
  /** Whether node session `s` gave up its messages about task `taskId` (parked-messages.ts spoiled): asked once, at its submission. */
  givenUp: (s: Session, taskId: TaskId) => boolean = () => false;

  constructor(private readonly gcs: Gcs) {}

  /** Node `n` was given a tagged task of job `jobId`: its driver gets a lease on it, if both take direct tasks and it has none yet. */
  grant(jobId: JobRecord['id'], n: NodeRecord): void {
    if (!n.session.direct) return;
    const job = this.gcs.jobs.get(jobId);
    const d = job?.driver;
    if (!job || !d?.direct || d.closed) return;
    let nodes = this.byJob.get(job);
    if (nodes?.has(n)) return;
    if (!nodes) this.byJob.set(job, (nodes = new Set()));
    nodes.add(n);
    let jobs = this.byNode.get(n);
    if (!jobs) this.byNode.set(n, (jobs = new Set()));
    jobs.add(job);
    this.granted++;
    this.gcs.event('lease-granted', `job ${job.id} may send tasks straight to node ${n.id}`, { job: job.id, node: n.id });
    n.session.send({ t: 'lease', peer: job.id, on: true });
    d.send({ t: 'lease', peer: n.id, on: true });
  }

  /** Node `nodeId` to which driver `s` sent a task, if `s`'s job holds a lease on it now or lost it; else why not. */
  leased(s: Session, nodeId: NodeId): Leased {
    const job = s.jobId ? this.gcs.jobs.get(s.jobId) : undefined;
    if (!job) return { why: `node ${nodeId.slice(0, 12)} is not leased to this job (no job)` };
    const n = this.gcs.nodes.get(nodeId);
    const nodes = this.byJob.get(job);
    if (n && nodes?.has(n)) return { node: n };
    if (this.lost.get(job)?.has(nodeId)) return { lost: nodeId };
    return { why: `node ${nodeId.slice(0, 12)} is not leased to this job (${!n ? 'no such node' : nodes ? 'not among ' + nodes.size : 'no lease set'})` };
  }

  /** Node `n` left: its drivers are told their leases on it are gone. */
  nodeLeft(n: NodeRecord): void {
    const jobs = this.byNode.get(n);
    if (!jobs) return;
    this.byNode.delete(n);
    for (const job of jobs) {
      this.byJob.get(job)?.delete(n);
      let lost = this.lost.get(job);
      if (!lost) this.lost.set(job, (lost = new Set()));
      lost.add(n.id);
      if (lost.size > LOST_MAX) lost.delete(lost.values().next().value!);
      this.revoked++;
      this.gcs.event('lease-revoked', `job ${job.id} no longer sends tasks straight to node ${n.id}: the node left`, { job: job.id, node: n.id });
      if (job.driver && !job.driver.closed) job.driver.send({ t: 'lease', peer: n.id, on: false });
    }
  }

  /**
   * Node `n` is held (`held`) or back: the drivers of the running jobs holding a lease on it, that said `suspend`,
   * send it nothing new while it is held (no revocation: the submissions on their way are recorded, not lost).
   */
  held(n: NodeRecord, held: boolean): void {
    for (const d of this.driversOf(n.session)) {
      if (!d.suspend) continue;
      if (held) this.suspended++;
      else this.resumed++;
      d.send(held ? { t: 'lease', peer: n.id, on: true, held: true } : { t: 'lease', peer: n.id, on: true });
    }
  }

  /** Task `t` was recorded as sent straight to its node: its value may reach its driver before its end reaches here. */
  recorded(t: TaskRecord): void {
    this.sent.add(t);
    markTagged(t);
  }

  /** Whether `t` was recorded as sent straight to its node and not refused since (its report may wait there for a frame). */
  sentStraight(t: TaskRecord): boolean {
    return this.sent.has(t);
  }

  /** Whether `t` was recorded as sent straight to its node (and not refused since). Forgotten once asked. */
  refused(t: TaskRecord): boolean {
    return this.sent.delete(t);
  }

  /** Whether node session `s` holds a lease of a running job (a task of it may be on its way to being recorded). */
  leasedOn(s: Session): boolean {
    return this.jobsOf(s).length > 0;
  }

  /** How many running jobs hold a lease on node session `s` (what it may park is bounded per lease, parked-messages.ts). */
  leaseCount(s: Session): number {
    return this.jobsOf(s).length;
  }

  /** The driver sessions of the running jobs holding a lease on node session `s`. */
  driversOf(s: Session): Session[] {
    const out: Session[] = [];
    for (const job of this.jobsOf(s)) if (job.driver && !job.driver.closed) out.push(job.driver);
    return out;
  }

  /** A driver's submission with `to` naming node `nodeId` was handled, whatever came of it. */
  submitted(nodeId: NodeId): void {
    const n = this.gcs.nodes.get(nodeId);
    if (n) this.onSubmitted(n.session);
  }

  /** The running jobs holding a lease on node session `s` (ended ones are forgotten here: a job's end is not told). */
  private jobsOf(s: Session): JobRecord[] {
    const n = s.nodeId ? this.gcs.nodes.get(s.nodeId) : undefined;
    const jobs = n && n.session === s ? this.byNode.get(n) : undefined;
    if (!jobs) return [];
    const out: JobRecord[] = [];
    for (const job of jobs) {
      if (job.state === 'running') out.push(job);
      else jobs.delete(job);
    }
    return out;
  }
}
