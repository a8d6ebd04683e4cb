// A driver's side of direct submission (issue 14, session 15; shared/protocol/direct.ts):
// while it holds a lease on a node (the coordinator's `lease`) and a TCP link
// to it is open, a plain task with inline arguments goes to that node over the
// link as well as to the coordinator (its `submit` with `to`, in order with all
// else this driver says, is the task's record). Its result comes back by the
// node's shortcut, taken without a tag: this driver knows it sent that task to
// that node. A refusal has the coordinator place the task (`unplaced`); a node
// that dies with it is the coordinator's to handle, as for any task it assigned.
// Results come back without the coordinator, so the driver could run ahead of
// its own records there: it stops at DIRECT_UNRECORDED_MAX tasks whose
// submissions the coordinator has not echoed a barrier behind.
import type { NodeId, TaskId, ObjectId } from '../ids.js';
import { returnObjectId, taskOfObject } from '../ids.js';
import { DIRECT_MAX_IN_FLIGHT, DIRECT_RECEIPT_EVERY, DIRECT_UNRECORDED_MAX, notDirect } from '../protocol/direct.js';
import { encodeFrame } from '../protocol/frame.js';
import type { FunctionSource, Msg, MsgOf, TaskSpec } from '../protocol/messages.js';
import type { PeerLinks } from '../transfer/links.js';
import { writeDirectTask, type Direct } from '../transfer/wire.js';

export class DriverDirect {
  /** Nodes this driver holds a lease on, oldest first. */
  private readonly leases = new Set<string>();
  /** Of those, nodes the coordinator holds (silent with many others): nothing new goes there until they are back. */
  private readonly held = new Set<string>();
  /** Tasks sent straight to a node and not answered yet: the node of each. */
  private readonly pending = new Map<TaskId, string>();
  /** The functions each leased node was sent over its link. */
  private readonly fnsSent = new Map<string, Set<string>>();
  /**
   * `sent`: tasks pushed to nodes; `refused`: of those, refused (then placed by the coordinator); `unrecorded`: not
   * pushed, too far ahead of the coordinator; `refusedLate`: refusals of tasks not in flight there any more (ignored):
   * the coordinator had placed the task on that node from this driver's own submit and its result came first;
   * `linkLost`: tasks in flight when their link closed (the coordinator's to finish).
   */
  readonly counts = { sent: 0, refused: 0, unrecorded: 0, refusedLate: 0, linkLost: 0 };
  /** Of the tasks `sent`, how many the coordinator is known to have handled the submission of. */
  private recorded = 0;
  /** A barrier is on its way behind the latest submissions. */
  private asked = false;
  /** This turn already looked for answered tasks among the `pending`, all of them still in flight. */
  private swept = false;

  constructor(
    private readonly links: PeerLinks,
    private readonly fn: (id: string) => FunctionSource | undefined,
    /** Whether a get still waits on the object (neither known nor released). */
    private readonly awaited: (id: ObjectId) => boolean,
    private readonly push: (m: Msg) => void,
    /** Calls back once the coordinator has handled everything this driver sent before (never if the connection goes first). */
    private readonly receipt: (received: () => void) => void,
  ) {}

  /** The driver's connection came back (a resumed job): barriers asked before it are never echoed; what it sent was replayed. */
  resumed(): void {
    this.recorded = this.counts.sent;
    this.asked = false;
  }

  /** How many leased nodes the coordinator holds now (tests, tools). */
  get heldNodes(): number {
    return this.held.size;
  }

  lease(m: MsgOf<'lease'>): void {
    if (m.on) {
      this.leases.add(m.peer);
      if (m.held === true) this.held.add(m.peer);
      else this.held.delete(m.peer);
      return;
    }
    this.leases.delete(m.peer);
    this.held.delete(m.peer);
    this.fnsSent.delete(m.peer);
  }

  /** Sends `spec` straight to a leased node over an open TCP link: that node, or undefined (it goes through the coordinator). */
  send(spec: TaskSpec): NodeId | undefined {
    if (this.leases.size === 0 || notDirect(spec) !== null) return undefined;
    if (this.counts.sent - this.recorded >= DIRECT_UNRECORDED_MAX) {
      this.counts.unrecorded++;
      return undefined;
    }
    if (this.pending.size >= DIRECT_MAX_IN_FLIGHT) {
      // A batch's submits in one turn found them in flight once: nothing answers them before the turn ends (its 20,000
      // submits looked up the same 4 results 80,000 times, session 18).
      if (this.swept) return undefined;
      this.swept = true;
      queueMicrotask(() => (this.swept = false));
      // Answered by the coordinator (a shortcut lost, the link gone) or released: no longer in flight here.
      for (const t of this.pending.keys()) if (!this.awaited(returnObjectId(t, 0))) this.pending.delete(t);
      if (this.pending.size >= DIRECT_MAX_IN_FLIGHT) return undefined;
    }
    for (const node of this.leases) {
      if (this.held.size > 0 && this.held.has(node)) continue;
      const sent = this.fnsSent.get(node);
      const msgs: Msg[] = [];
      if (!sent?.has(spec.fnId)) {
        const f = this.fn(spec.fnId);
        if (!f) return undefined;
        msgs.push({ t: 'fn', f });
      }
      // `to`: the node takes only tasks meant for its present identity (a node that joined again is another node).
      msgs.push({ t: 'submit', spec, to: node as NodeId });
      if (!this.links.sendDirect(node, writeDirectTask(encodeFrame(msgs, true)))) continue;
      if (sent) sent.add(spec.fnId);
      else this.fnsSent.set(node, new Set([spec.fnId]));
      this.pending.set(spec.taskId, node);
      this.counts.sent++;
      if (!this.asked && this.counts.sent - this.recorded >= DIRECT_RECEIPT_EVERY) this.askReceipt();
      return node as NodeId;
    }
    return undefined;
  }

  /** A barrier behind this turn's submissions (asked after the caller pushed the submission of the task just sent). */
  private askReceipt(): void {
    this.asked = true;
    queueMicrotask(() => {
      const mark = this.counts.sent;
      this.receipt(() => {
        this.recorded = Math.max(this.recorded, mark);
        this.asked = false;
      });
    });
  }

  /** Whether `id` is the result of a task sent straight to a node and unanswered (its value comes by the node's shortcut). */
  awaits(id: ObjectId): boolean {
    return this.pending.size > 0 && this.pending.has(taskOfObject(id));
  }

  /** Whether `task` was sent straight to `peer` and is unanswered: its result from `peer` needs no tag. Answered from now on. */
  answeredBy(task: TaskId, peer: string): boolean {
    if (this.pending.get(task) !== peer) return false;
    this.pending.delete(task);
    return true;
  }

  /** A refusal from `peer`: the coordinator places the task. */
  onLink(peer: string, d: Direct): void {
    if (d.k !== 'refuse') return;
    // Answered already (or its link closed): the coordinator has the task, an `unplaced` would be for nothing.
    if (this.pending.get(d.taskId) !== peer) return void this.counts.refusedLate++;
    this.pending.delete(d.taskId);
    this.counts.refused++;
    this.push({ t: 'unplaced', taskId: d.taskId, reason: d.reason.slice(0, 1024) });
  }

  /** The link to `peer` closed: what went there is the coordinator's to finish (the node's done, or its re-queue). */
  linkClosed(peer: string): void {
    for (const [t, n] of this.pending) {
      if (n !== peer) continue;
      this.pending.delete(t);
      this.counts.linkLost++;
    }
    this.fnsSent.delete(peer);
  }
}
