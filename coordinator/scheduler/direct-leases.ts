// Direct-submission leases (issue 14, session 15; shared/protocol/direct.ts).
// The coordinator grants a job's driver a lease on a node when it gives that
// node one of the job's tasks with a result shortcut's tag (so the node and
// the driver both said `direct`, and a link between them is, or is being,
// opened), tells both, and revokes it when the node leaves (a job's end takes
// its leases with it: its driver is gone). While the driver holds one, its
// `submit` with `to` is recorded as assigned to that node, which already has
// the task from the driver. A node's `done` may come before the driver's
// `submit` (two sockets): it is parked here, a few per node, until it does.
import type { TaskId } from '../../shared/ids.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { JobRecord, NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { Session } from '../session.js';

/** Reports a node may have parked at once (the driver pushes at most DIRECT_MAX_IN_FLIGHT; more is a lie or a late one). */
const PARKED_MAX = 16;
/** A parked report whose submission did not come in this long is dropped. */
const PARKED_MS = 30_000;

type Report = MsgOf<'done'> | MsgOf<'failed'>;

export class DirectLeases {
  /** Each job's leased nodes (a job's record goes with its leases). */
  private readonly byJob = new WeakMap<JobRecord, Set<NodeRecord>>();
  /** Each node's jobs, to revoke when it leaves. */
  private readonly byNode = new WeakMap<NodeRecord, Set<JobRecord>>();
  /** Reports that came before their task's submission, by node session. */
  private readonly parked = new WeakMap<Session, Map<TaskId, { m: Report; at: number }>>();
  /** Tasks recorded from a driver's submit with `to` (a node's refusal hands back only those). */
  private readonly sent = new WeakSet<TaskRecord>();
  granted = 0;

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
    n.session.send({ t: 'lease', peer: job.id, on: true });
    d.send({ t: 'lease', peer: n.id, on: true });
  }

  /** Node `n` to which driver `s` sent a task, if `s`'s job holds a lease on it now; else why not. */
  leased(s: Session, nodeId: NodeRecord['id']): NodeRecord | string {
    const job = s.jobId ? this.gcs.jobs.get(s.jobId) : undefined;
    const n = this.gcs.nodes.get(nodeId);
    if (!job || !n || !this.byJob.get(job)?.has(n))
      return `node ${nodeId.slice(0, 12)} is not leased to this job (${!job ? 'no job' : !n ? 'no such node' : this.byJob.get(job) ? 'not among ' + this.byJob.get(job)!.size : 'no lease set'})`;
    return n;
  }

  /** Node `n` left: its drivers are told their leases on it are gone. */
  nodeLeft(n: NodeRecord): void {
    const jobs = this.byNode.get(n);
    if (!jobs) return;
    this.byNode.delete(n);
    for (const job of jobs) {
      this.byJob.get(job)?.delete(n);
      if (job.driver && !job.driver.closed) job.driver.send({ t: 'lease', peer: n.id, on: false });
    }
  }

  /** Task `t` was recorded as sent straight to its node. */
  recorded(t: TaskRecord): void {
    this.sent.add(t);
  }

  /** Whether `t` was recorded as sent straight to its node (and not refused since). Forgotten once asked. */
  refused(t: TaskRecord): boolean {
    return this.sent.delete(t);
  }

  /** A report from node session `s` on a task the coordinator does not know: parked if `s` holds a lease (its task's submission may be on its way). */
  park(s: Session, m: Report): boolean {
    const n = s.nodeId ? this.gcs.nodes.get(s.nodeId) : undefined;
    if (!n || !this.byNode.get(n)?.size) return false;
    let p = this.parked.get(s);
    if (!p) this.parked.set(s, (p = new Map<TaskId, { m: Report; at: number }>()));
    const now = Date.now();
    for (const [id, e] of p) if (now - e.at > PARKED_MS) p.delete(id);
    if (p.size >= PARKED_MAX) return false;
    p.set(m.taskId, { m, at: now });
    return true;
  }

  /** The report node session `s` parked for `taskId`, taken. */
  unpark(s: Session, taskId: TaskId): Report | undefined {
    const p = this.parked.get(s);
    const e = p?.get(taskId);
    if (!e) return undefined;
    p!.delete(taskId);
    return e.m;
  }
}
