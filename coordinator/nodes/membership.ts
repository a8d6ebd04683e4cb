// Node membership: joins, heartbeats and failure detection. A node is dead
// when its socket closes or it misses heartbeats for `deadAfterMs`.
import { newNodeId, randomHex, type NodeId } from '../../shared/ids.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord } from '../gcs/tables.js';
import type { Session } from '../session.js';
import { hostKeyHash } from '../actors/handover.js';

export interface MembershipEvents {
  joined(n: NodeRecord): void;
  lost(n: NodeRecord, why: string): void;
}

export class Membership {
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Nodes that are other coordinators' links (coordinator/mesh), counted as they come and go. */
  links = 0;
  /** Session secrets, for a node that reconnects (issue 6). */
  readonly secrets = new Map<NodeId, string>();

  constructor(
    private readonly gcs: Gcs,
    private readonly on: MembershipEvents,
    readonly heartbeatMs: number,
    readonly deadAfterMs: number,
  ) {}

  /**
   * The longest a node may stay silent (told in its welcome): two heartbeats, as
   * before keepalives, and at most half the dead window. Idle nodes send an empty
   * frame this often; busy ones none (any frame is a sign of life).
   */
  get quietMs(): number {
    return Math.max(this.heartbeatMs, Math.min(2 * this.heartbeatMs, Math.floor(this.deadAfterMs / 2)));
  }

  start(): void {
    this.timer = setInterval(() => this.sweep(), Math.max(100, Math.floor(this.heartbeatMs / 2)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  join(s: Session, info: NonNullable<MsgOf<'hello'>['node']>): NodeRecord {
    const id = newNodeId();
    const resources = { ...info.resources };
    resources.cpu = Math.max(0, resources.cpu ?? 1);
    const n: NodeRecord = {
      id,
      session: s,
      kind: info.kind,
      name: info.name,
      resources,
      inflight: {},
      inflightTasks: 0,
      actorCpu: 0,
      tasks: new Set(),
      functions: new Set(),
      joinedAt: Date.now(),
      lastSeen: Date.now(),
      load: { running: 0, queued: 0, storeBytes: 0 },
      tasksDone: 0,
      link: s.meshLink,
      hostKey: info.host ? hostKeyHash(info.host.key) : undefined,
    };
    s.nodeId = id;
    this.gcs.nodeTable.set(id, n);
    if (n.link !== undefined) this.links++;
    this.secrets.set(id, randomHex(16));
    this.gcs.event('node-joined', `${info.kind} node ${id} (${info.name}) joined with ${resources.cpu} cpu`, { node: id });
    this.on.joined(n);
    return n;
  }

  heartbeat(n: NodeRecord, m: MsgOf<'heartbeat'>): void {
    n.lastSeen = Date.now();
    n.load = { running: m.running, queued: m.queued, storeBytes: m.storeBytes };
  }

  /** Any frame from a node is a sign of life (nodes skip unchanged heartbeats, issue 14). */
  seen(n: NodeRecord): void {
    n.lastSeen = Date.now();
  }

  /** A browser node paused, resumed or changed its executor count (issue 3): a paused node offers no CPU. */
  capacity(n: NodeRecord, m: MsgOf<'capacity'>): void {
    n.resources.cpu = m.paused ? 0 : m.cpus;
    this.gcs.event('node-capacity', `node ${n.id} (${n.name}) ${m.paused ? 'paused' : `offers ${m.cpus} cpu`}`, { node: n.id });
  }

  /** Removes a node (socket closed or heartbeats missed). */
  remove(n: NodeRecord, why: string): void {
    if (!this.gcs.nodeTable.delete(n.id)) return;
    if (n.link !== undefined) this.links--;
    this.secrets.delete(n.id);
    this.gcs.event('node-lost', `node ${n.id} (${n.name}) lost: ${why}`, { node: n.id });
    this.on.lost(n, why);
  }

  private lastSweep = Date.now();

  private sweep(): void {
    const now = Date.now();
    const gap = now - this.lastSweep;
    this.lastSweep = now;
    if (gap > 3 * Math.max(100, Math.floor(this.heartbeatMs / 2))) {
      // Our own event loop stalled (a long GC, a busy embedding process): nodes could
      // not be heard, which is not their fault. Give them a fresh window.
      for (const n of this.gcs.nodeTable.values()) n.lastSeen = Math.max(n.lastSeen, now - this.heartbeatMs);
      return;
    }
    // Deleting the entry being visited is safe in a Map walk: no copy of 10,000 nodes twice a second.
    for (const n of this.gcs.nodes.values()) {
      if (now - n.lastSeen > this.deadAfterMs) {
        this.remove(n, `no heartbeat for ${now - n.lastSeen} ms`);
        n.session.fail('NODE_DEAD', 'declared dead after missing heartbeats');
      }
    }
  }
}
