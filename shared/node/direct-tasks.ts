// A node's side of direct submission (issue 14, session 15; shared/protocol/direct.ts):
// the tasks a driver pushes over its TCP link, taken under the job's lease
// (the coordinator's `lease`) when a slot is free, else refused at once, so
// that the driver has the coordinator place them. A taken task runs as an
// assigned one: its small result goes back by the shortcut, its `done` to the
// coordinator (which has the driver's own record of it, or parks the `done`
// until that comes).
import { functionIdOf } from '../env/declare.js';
import type { TaskId } from '../ids.js';
import { DIRECT_TAG, notDirect } from '../protocol/direct.js';
import { decodeFrame } from '../protocol/frame.js';
import type { FunctionSource, Msg, MsgOf } from '../protocol/messages.js';
import type { PeerLinks } from '../transfer/links.js';
import { writeDirectRefuse, type Direct } from '../transfer/wire.js';
import type { LocalScheduler } from './executors.js';
import type { TaskTable } from './node-context.js';

/** Jobs a node keeps leases of at most (a job's end is not told to its nodes: the oldest go first). */
const MAX_LEASES = 1024;

export interface DirectContext {
  readonly tasks: TaskTable;
  readonly local: LocalScheduler;
  readonly fns: Map<string, FunctionSource>;
  readonly links: PeerLinks | null;
  readonly paused: boolean;
  /** This session's node id (null before the welcome). */
  readonly nodeId: string | null;
  log(text: string): void;
  /** Sends now what waits for a later frame (a direct task's report, Outbox.later). */
  flushLater(): void;
}

export class DirectTasks {
  /** Jobs (their drivers' peer ids) holding a lease on this node. */
  private readonly jobs = new Set<string>();
  readonly counts = { taken: 0, refused: 0 };

  constructor(private readonly n: DirectContext) {}

  /** A new session: leases were its predecessor's. */
  reset(): void {
    this.jobs.clear();
  }

  /** The coordinator granted or revoked a job's lease here. */
  lease(m: MsgOf<'lease'>): void {
    if (!m.on) return void this.jobs.delete(m.peer);
    if (this.jobs.size >= MAX_LEASES) this.jobs.delete(this.jobs.values().next().value!);
    this.jobs.add(m.peer);
  }

  /**
   * The coordinator waits on these direct tasks (`hurry`): a report already queued goes now, one still to come goes
   * the moment its task ends (admission.ts). A task not here yet (the ask overtook it) reports on the next frame.
   */
  hurry(ids: TaskId[]): void {
    for (const id of ids) {
      const t = this.n.tasks.get(id);
      if (t) t.hurried = true;
    }
    this.n.flushLater();
  }

  /** A direct message from `peer` over a link: a task to take or refuse (a refusal is for drivers: ignored). */
  onLink(peer: string, d: Direct): void {
    if (d.k !== 'task') return;
    let msgs: Msg[];
    try {
      msgs = decodeFrame(d.frame);
    } catch (e) {
      return this.n.log(`a direct task from ${peer.slice(0, 12)} is not a valid frame: ${(e as Error).message}`);
    }
    const submit = msgs.find((m): m is MsgOf<'submit'> => m.t === 'submit');
    const fn = msgs.find((m): m is MsgOf<'fn'> => m.t === 'fn')?.f;
    if (!submit || msgs.length > (fn ? 2 : 1)) return this.n.log(`a direct task from ${peer.slice(0, 12)} is not [fn?, submit]`);
    const spec = submit.spec;
    const wrong = this.notLeased(peer, submit, fn);
    // A leased job's function is kept even when its task is refused for want of a slot: the coordinator counts this
    // node as holding it from the driver's submit on, and may place a task or a group of it here meanwhile without
    // its source (session 27: "executor has no source", a TaskError).
    if (wrong === null && fn) this.n.fns.set(fn.fnId, fn);
    const why = wrong ?? this.busy(spec);
    if (why !== null) {
      this.counts.refused++;
      // No open TCP link back: the driver hears nothing, and its coordinator has the task's record (as for any task in flight on a link that closed).
      if (this.n.links?.sendDirect(peer, writeDirectRefuse(spec.taskId, why)) !== true) {
        this.n.log(`could not refuse task ${spec.taskId.slice(0, 12)} of ${peer.slice(0, 12)} (${why}): no open TCP link to it`);
      }
      return;
    }
    this.counts.taken++;
    this.n.tasks.admit(spec, undefined, DIRECT_TAG);
  }

  /** Why `peer` may not send this node `submit` at all, or null. */
  private notLeased(peer: string, submit: MsgOf<'submit'>, fn: FunctionSource | undefined): string | null {
    const spec = submit.spec;
    // Meant for the node this process was in an earlier session: the coordinator no longer knows that id.
    if (submit.to === undefined || submit.to !== this.n.nodeId) return `sent to node ${String(submit.to).slice(0, 12)}, not to this node`;
    if (!this.jobs.has(peer)) return `this node holds no lease of job ${peer.slice(0, 12)}`;
    if (spec.jobId !== peer) return `task ${spec.taskId.slice(0, 12)} is not of the sender's job`;
    const not = notDirect(spec);
    if (not !== null) return `not a task to send straight to a node: ${not}`;
    if (fn && (fn.fnId !== spec.fnId || functionIdOf(fn) !== fn.fnId)) return 'its function does not match its id';
    if (!fn && !this.n.fns.has(spec.fnId)) return 'its function is unknown here';
    return null;
  }

  /** Why this node does not take `spec` now (no slot for it), or null. */
  private busy(spec: MsgOf<'submit'>['spec']): string | null {
    if (this.n.paused) return 'this node is paused';
    if (this.n.tasks.get(spec.taskId)) return 'this node holds the task already';
    if (!this.n.local.hasFreeSlot()) return 'busy: no free slot';
    return null;
  }
}
