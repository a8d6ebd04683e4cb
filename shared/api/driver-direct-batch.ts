// A driver's batch of direct tasks (issue 14, session 25; Ray's owner pipelining to leased workers): past the
// sequential path's DIRECT_MAX_IN_FLIGHT, a task for a leased node waits here, unrecorded, and goes to that node
// with the node's next answers, at most DIRECT_BATCH_PER_NODE in flight a node, a turn's tasks for one node in one
// link frame. Its record (`submit` with `to`) and its subscription leave when it leaves for the node, so the
// coordinator hears of it in the driver's order. Any other message to the coordinator that could name a held task's
// output (a submit, a release, a put...) first spills every held task to the coordinator as a plain submit: what the
// coordinator reads is always in the order this driver made it.
import type { NodeId, ObjectId, TaskId } from '../ids.js';
import { returnObjectId } from '../ids.js';
import { DIRECT_BATCH_PER_NODE, DIRECT_BATCH_UNRECORDED_MAX, DIRECT_RECEIPT_EVERY } from '../protocol/direct.js';
import { encodeFrame } from '../protocol/frame.js';
import type { FunctionSource, Msg, TaskSpec } from '../protocol/messages.js';
import type { PeerLinks } from '../transfer/links.js';
import { writeDirectTask } from '../transfer/wire.js';

export interface BatchHost {
  readonly links: PeerLinks;
  /** Leased nodes, oldest first. */
  readonly leases: ReadonlySet<string>;
  readonly fnsSent: Map<string, Set<string>>;
  /** Tasks in flight at nodes (sequential and batch): the node of each. */
  readonly pending: Map<TaskId, string>;
  readonly counts: { sent: number };
  fn(id: string): FunctionSource | undefined;
  /** Whether someone waits on the object (its subscription leaves with its record). */
  awaited(id: ObjectId): boolean;
  /** To the coordinator, in order, on a later frame (a record, a subscription). */
  later(m: Msg): void;
  /** To the coordinator, in order, now (a spilled submit). */
  now(m: Msg): void;
  /** How many tasks sent are not known recorded at the coordinator. */
  unrecorded(): number;
  askReceipt(): void;
}

export class DirectBatch {
  /** Tasks waiting here for a leased node's slot, oldest first (`head`: the next one). */
  private held: TaskSpec[] = [];
  private head = 0;
  private readonly heldIds = new Set<TaskId>();
  /** Batch tasks in flight at each node. */
  private readonly inNode = new Map<string, number>();
  private pumpDue = false;
  readonly counts = { held: 0, spilled: 0, frames: 0 };

  constructor(private readonly h: BatchHost) {}

  get holding(): boolean {
    return this.head < this.held.length;
  }

  holds(task: TaskId): boolean {
    return this.heldIds.size > 0 && this.heldIds.has(task);
  }

  /** Holds `spec` for the next leased node with room (it leaves within this turn if one has room). */
  hold(spec: TaskSpec): void {
    this.held.push(spec);
    this.heldIds.add(spec.taskId);
    this.counts.held++;
    this.schedule();
  }

  /** A batch task at `node` was answered (its result, a refusal, or the node gone): room for the next. */
  answered(node: string): void {
    const k = this.inNode.get(node);
    if (k === undefined) return;
    if (k <= 1) this.inNode.delete(node);
    else this.inNode.set(node, k - 1);
    if (this.holding) this.schedule();
  }

  /** The receipt window moved: held tasks may go. */
  receipt(): void {
    if (this.holding) this.schedule();
  }

  private schedule(): void {
    if (this.pumpDue) return;
    this.pumpDue = true;
    queueMicrotask(() => {
      this.pumpDue = false;
      this.pump();
    });
  }

  /** Sends held tasks to leased nodes with room, one link frame a node; with no leased node left, spills them. */
  private pump(): void {
    const h = this.h;
    if (!this.holding) return;
    let open = 0;
    for (const node of h.leases) {
      if (!h.links.isOpen(node)) continue;
      open++;
      let room = DIRECT_BATCH_PER_NODE - (this.inNode.get(node) ?? 0);
      if (room <= 0) continue;
      room = Math.min(room, DIRECT_BATCH_UNRECORDED_MAX - h.unrecorded());
      if (room <= 0) break;
      const msgs: Msg[] = [];
      const specs: TaskSpec[] = [];
      let sent = h.fnsSent.get(node);
      while (room > 0 && this.holding) {
        const spec = this.held[this.head];
        if (!sent?.has(spec.fnId)) {
          const f = h.fn(spec.fnId);
          if (!f) break;
          msgs.push({ t: 'fn', f });
          if (!sent) h.fnsSent.set(node, (sent = new Set()));
          sent.add(spec.fnId);
        }
        msgs.push({ t: 'submit', spec, to: node as NodeId });
        specs.push(spec);
        this.take();
        room--;
      }
      if (specs.length === 0) continue;
      if (!h.links.sendDirect(node, writeDirectTask(encodeFrame(msgs, true), true))) {
        // The link closed under us: these go back to the front.
        this.held.splice(this.head - specs.length, specs.length, ...specs);
        this.head -= specs.length;
        for (const s of specs) this.heldIds.add(s.taskId);
        h.fnsSent.delete(node);
        continue;
      }
      this.counts.frames++;
      this.inNode.set(node, (this.inNode.get(node) ?? 0) + specs.length);
      const subs: ObjectId[] = [];
      for (const spec of specs) {
        h.pending.set(spec.taskId, node);
        h.counts.sent++;
        h.later({ t: 'submit', spec, to: node as NodeId });
        const out = returnObjectId(spec.taskId, 0);
        if (h.awaited(out)) subs.push(out);
      }
      // One subscription for the frame's tasks, behind their records.
      if (subs.length > 0) h.later({ t: 'subscribe', ids: subs });
      if (h.unrecorded() >= DIRECT_RECEIPT_EVERY) h.askReceipt();
    }
    if (open === 0) this.spill();
  }

  private take(): void {
    this.heldIds.delete(this.held[this.head].taskId);
    this.head++;
    if (this.head === this.held.length) {
      this.held = [];
      this.head = 0;
    }
  }

  /** Every held task goes to the coordinator as a plain submit, in order (before a message that may name one). */
  spill(): void {
    while (this.holding) {
      const spec = this.held[this.head];
      this.take();
      this.counts.spilled++;
      this.h.now({ t: 'submit', spec });
      const out = returnObjectId(spec.taskId, 0);
      if (this.h.awaited(out)) this.h.now({ t: 'subscribe', ids: [out] });
    }
  }

  /** A node's lease or link is gone: its batch tasks are the coordinator's now. */
  nodeGone(node: string): void {
    this.inNode.delete(node);
    if (this.holding) this.schedule();
  }
}
