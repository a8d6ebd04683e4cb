// The jobs of another coordinator that this one runs tasks of (issue 15):
// guest jobs, never written to the shared GCS (their rows are the owner's).
// A task the peer assigns is submitted here and placed on our own nodes; its
// arguments stored on the peer's side are pending here until the peer says
// they are ready; its outputs' end is reported back as a node's done/failed.
import type { Msg, MsgOf, TaskResult } from '../../shared/protocol/messages.js';
import { functionIdOf } from '../../shared/env/declare.js';
import { randomHex, returnObjectId, taskOfObject, type JobId, type ObjectId, type TaskId } from '../../shared/ids.js';
import { TERMINAL, type JobRecord, type ObjectRecord, type TaskRecord } from '../gcs/tables.js';
import type { Coordinator } from '../coordinator.js';
import type { Session } from '../session.js';
import { JobMembers } from '../jobs/job-members.js';
import { nodeLostFailure } from '../scheduler/task-failures.js';

/** Our link on the peer now: our node id there (our mesh id, every session: nodes/membership.ts) and its session's number. */
export interface LinkNow {
  node: string;
  session: number;
}

export class GuestJobs {
  /** Guest jobs: the peer's jobs we run tasks of. */
  readonly jobs = new Set<JobId>();
  /** The attempt the peer placed each task at (reports name it). */
  private readonly attempts = new Map<TaskId, number>();
  private readonly reported = new Map<TaskId, number>();

  constructor(
    private readonly c: Coordinator,
    private readonly peer: string,
    /** Our side of the link: the guest jobs' driver. */
    private readonly session: Session,
    private readonly send: (m: Msg) => void,
    /** Our link on the peer now (the session it places on), if welcomed. */
    private readonly link: () => LinkNow | null = () => ({ node: 'link', session: 0 }),
  ) {}

  /**
   * The link session each task was placed on (its number: our node id there is the same every session): its end is
   * reported there only. The peer re-queued what a session it closed held; a report on the next session would be a
   * result for a task never assigned to it (an offence: the new link was distrusted and closed, its tasks lost again,
   * issue 14). The run goes on here for the peer's next placement of it, whose report it becomes (assign: an existing record).
   */
  private readonly placedOn = new Map<TaskId, number | null>();

  /** Tasks placed here and not reported yet, with their job: the link's heartbeat counts them without a walk. */
  private readonly unreported = new Map<TaskId, JobId>();

  /** Tasks the peer pinned to us (node affinity naming our link, not `spill`): never given back (give-back.ts). */
  private readonly pinnedHere = new Set<TaskId>();

  /** Whether the peer pinned task `id` to us: it waits for us, as a pin waits for its node while it is alive. */
  pinned(id: TaskId): boolean {
    return this.pinnedHere.has(id);
  }

  /** Tasks placed here and not reported, with the attempt the peer placed each at (give-back.ts: what may go back). */
  *placed(): Iterable<[TaskId, number]> {
    for (const id of this.unreported.keys()) {
      const attempt = this.attempts.get(id);
      if (attempt !== undefined) yield [id, attempt];
    }
  }

  /** The attempt the peer placed `t` at, if it is a task the peer placed here and not reported yet. */
  placedAt(t: TaskRecord): number | undefined {
    return this.unreported.has(t.spec.taskId) ? this.attempts.get(t.spec.taskId) : undefined;
  }

  /** Task `t` goes back to the peer before it started (give-back.ts): no report of its end here, its records go. */
  withdrawn(t: TaskRecord, attempt: number): void {
    this.reported.set(t.spec.taskId, attempt);
    this.unreported.delete(t.spec.taskId);
    this.pinnedHere.delete(t.spec.taskId);
    const ids: ObjectId[] = [];
    for (let i = 0; i < t.spec.numReturns; i++) if (this.c.dir.get(returnObjectId(t.spec.taskId, i))) ids.push(returnObjectId(t.spec.taskId, i));
    this.releaseLater(ids);
  }

  /** Tasks of guest jobs not ended (the link's heartbeat says so). */
  running(): number {
    return this.unreported.size;
  }

  /** The peer is done with a task's outputs: it will not be placed here again. */
  forget(task: TaskId): void {
    this.attempts.delete(task);
    this.placedOn.delete(task);
    this.reported.delete(task);
    this.unreported.delete(task);
    this.pinnedHere.delete(task);
  }

  private guestJob(id: JobId): JobRecord | null {
    const c = this.c;
    const j = c.gcs.jobs.get(id);
    if (j && j.state === 'running') return j.guest === this.peer ? j : null; // ours (taken over), or a third's
    const job: JobRecord = {
      id,
      state: 'running',
      driver: this.session,
      startedAt: Date.now(),
      endedAt: 0,
      tasks: new JobMembers<TaskRecord>(),
      objects: new JobMembers<ObjectRecord>(),
      counts: { submitted: 0, finished: 0, failed: 0, cancelled: 0 },
      secret: randomHex(24),
      parked: null,
      graceTimer: null,
      guest: this.peer,
    };
    c.gcs.jobs.set(id, job);
    this.jobs.add(id);
    return job;
  }

  assign(m: MsgOf<'assign'>): void {
    const c = this.c;
    const spec = m.spec;
    if (m.fn && !c.gcs.functions.has(m.fn.fnId)) {
      if (functionIdOf(m.fn) !== m.fn.fnId) return this.refuse(spec.taskId, spec.attempt, `function id ${m.fn.fnId} does not match its source`);
      c.gcs.addFunction(m.fn);
    }
    const own = c.gcs.jobs.get(spec.jobId);
    if (own && own.state === 'running' && !own.guest && c.jobs.mesh) {
      // The peer places a task of a job we think we run: it may have taken it over while we were paused
      // past the lease. Ask the lease; once let go, the task runs here as the peer's guest.
      void c.jobs.leaseHeld(spec.jobId).then((ours) => {
        if (ours) this.refuse(spec.taskId, spec.attempt, `job ${spec.jobId} is run by coordinator ${c.meshId}, not by ${this.peer}`);
        else if (!this.session.closed) this.assign(m);
      });
      return;
    }
    if (!this.guestJob(spec.jobId)) return this.refuse(spec.taskId, spec.attempt, `job ${spec.jobId} is not run for coordinator ${this.peer} here`);
    this.attempts.set(spec.taskId, spec.attempt);
    this.placedOn.set(spec.taskId, this.link()?.session ?? null);
    const existing = c.gcs.tasks.get(spec.taskId);
    if (existing) {
      // Placed on us again (a retry): report what it came to, or let it finish.
      if (TERMINAL.has(existing.state)) this.report(existing);
      return;
    }
    for (const a of m.inline) {
      if (c.dir.get(a.id)) continue;
      const o = c.dir.create(a.id, spec.jobId, 0);
      c.dir.hold(this.session, a.id);
      c.dir.setReady(o, { v: a.v, size: a.v.byteLength, contains: [] });
    }
    // Arguments stored on the peer's side: pending here until it says where they are.
    const remote: ObjectId[] = [];
    for (const id of [...spec.args.flatMap((a) => (a.r === undefined ? [] : [a.r])), ...spec.nested]) {
      if (c.dir.get(id)) continue;
      c.dir.create(id, spec.jobId, 0);
      c.dir.hold(this.session, id);
      remote.push(id);
    }
    if (remote.length) this.send({ t: 'subscribe', ids: remote });
    this.pinnedToUs(spec);
    // Its end is reported from the task manager's onEnded (ended()), not through subscriptions to its outputs:
    // unreported first, since a task whose argument failed ends inside submit.
    this.unreported.set(spec.taskId, spec.jobId);
    const err = c.tasks.submit(spec, this.session, null);
    if (err) {
      this.unreported.delete(spec.taskId);
      return this.refuse(spec.taskId, spec.attempt, err);
    }
  }

  /**
   * A pin to our link names all of this coordinator: here the task is placed as a plain one (our nodes do not know
   * the peer's id for us: a hard pin failed here as pinned to a node not in the mesh, and came back as lost). A
   * pin that does not `spill` waits for us as for its node (Ray: a busy node keeps it), so it is not given back.
   */
  private pinnedToUs(spec: MsgOf<'assign'>['spec']): void {
    const s = spec.scheduling;
    if (typeof s !== 'object' || s === null || s.node !== this.link()?.node) return;
    if (!s.soft || !s.spill) this.pinnedHere.add(spec.taskId);
    spec.scheduling = undefined;
  }

  /** An argument the peer holds is ready there: here it is ready too, held by this link. */
  argReady(m: MsgOf<'ready'>): void {
    const o = this.c.dir.get(m.id);
    if (!o || o.state !== 'pending') return;
    if (m.failure) this.c.dir.setFailed(o, m.failure);
    else if (m.v) this.c.dir.setReady(o, { v: m.v, size: m.size, contains: [] });
    else this.c.dir.setReady(o, { size: m.size, hash: m.hash, location: this.session, contains: [] });
  }

  /**
   * A task the peer placed here ended (its outputs settled): the peer hears it. Not a task a guest task submitted
   * (its child, ours to run): the peer never placed it, and took its report for a lie (the link was distrusted).
   */
  ended(t: TaskRecord): void {
    if (this.jobs.has(t.spec.jobId) && this.attempts.has(t.spec.taskId)) this.report(t);
  }

  private report(t: TaskRecord): void {
    const spec = t.spec;
    const attempt = this.attempts.get(spec.taskId) ?? spec.attempt;
    if (this.reported.get(spec.taskId) === attempt) return;
    if (this.placedOn.has(spec.taskId) && this.placedOn.get(spec.taskId) !== (this.link()?.session ?? null)) return; // a session the peer closed
    const outs = Array.from({ length: spec.numReturns }, (_, i) => this.c.dir.get(returnObjectId(spec.taskId, i)));
    if (outs.some((o) => o?.state === 'pending')) return;
    this.reported.set(spec.taskId, attempt);
    this.unreported.delete(spec.taskId);
    this.pinnedHere.delete(spec.taskId);
    const failure = outs.find((o) => o?.state === 'failed')?.failure;
    if (t.state !== 'finished' || failure || outs.some((o) => !o)) {
      // No value and no failure of its own to give (its outputs' records went here): not the object's loss but this
      // node's, as the owner sees it. It has the task's lineage and runs it again (a next attempt, within maxRetries).
      const f = failure ?? nodeLostFailure(spec, `coordinator ${this.c.meshId} kept no result of task ${spec.name} (${t.state} here)`);
      this.send({ t: 'failed', taskId: spec.taskId, attempt, failure: f });
      // The failure is the owner's now, as inline values are: the records go (they stayed until the job ended).
      this.releaseLater(outs.filter((o) => o !== undefined).map((o) => o.id));
      return;
    }
    const results: TaskResult[] = outs.map((o) => (o!.v ? { v: o!.v, refs: o!.contains } : { size: o!.size, hash: o!.hash, refs: o!.contains }));
    // The run time our nodes measure (their average for the function), not end minus start here, which adds our
    // queue and the node's hops: the owner sizes every node's pipeline from it (a few ms for an empty task cut it 30x).
    const f = this.c.gcs.functions.get(spec.fnId);
    const ms = f && f.runs > 0 && f.ewmaMs >= 0 ? f.ewmaMs : Math.max(0, t.endedAt - t.startedAt);
    this.send({ t: 'done', taskId: spec.taskId, attempt, ms, results });
    // Values that travelled inline are the owner's now: nothing here serves them, so the task's records go (they
    // stayed until the guest job ended: 20,000 empty tasks left 20,000 records). A retry placed here runs it again.
    if (outs.every((o) => o!.v)) this.releaseLater(outs.map((o) => o!.id));
  }

  /** After this turn: a report may run inside the directory's fan-out of the same objects. */
  private releaseLater(ids: ObjectId[]): void {
    if (ids.length === 0) return;
    if (this.released.length === 0) setImmediate(() => this.release());
    for (const id of ids) this.released.push(id);
  }

  /** Outputs reported inline, let go of at the end of the turn. */
  private released: ObjectId[] = [];

  private release(): void {
    const ids = this.released;
    this.released = [];
    for (const id of ids) {
      this.c.dir.unhold(this.session, id);
      this.forget(taskOfObject(id));
    }
  }

  private refuse(taskId: TaskId, attempt: number, why: string): void {
    this.send({
      t: 'failed',
      taskId,
      attempt,
      failure: { code: 'NODE_LOST', name: 'NodeLostError', message: `coordinator ${this.c.meshId} cannot run it: ${why}`, stack: '', functionName: '', taskId },
    });
  }

  /** Guest job `id` ends here (its owner is gone, or we took it over): its tasks stop, its records go. */
  dropJob(id: JobId): void {
    if (!this.jobs.delete(id)) return;
    for (const [task, job] of this.unreported) if (job === id) this.unreported.delete(task);
    const j = this.c.gcs.jobs.get(id);
    if (!j?.guest) return;
    // The link's handles and reports go with the records (endJob frees them whatever their count). Left behind, a later
    // release (the agent's close) counted down records made again under the same ids: a takeover reads the rows back.
    for (const o of j.objects) this.session.held.delete(o.id);
    for (const t of j.tasks) this.forget(t.spec.taskId);
    this.c.endJob(id);
    this.c.gcs.jobs.delete(id);
  }

  /** Every guest job ends (the peer is gone, or we stop). */
  dropAll(): void {
    for (const id of [...this.jobs]) this.dropJob(id);
  }
}
