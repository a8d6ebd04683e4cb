// Node membership: joins, heartbeats and failure detection. A node is dead when its socket closes or it misses heartbeats for `deadAfterMs` (the sweep looks at
// the nodes whose deadline came, liveness.ts), unless many miss theirs together: then they are held (hold.ts) up to a longer bound.
import { isHexId, newNodeId, NODE_ID_BYTES, randomHex, type NodeId } from '../../shared/ids.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord } from '../gcs/tables.js';
import type { Session } from '../session.js';
import { hostKeyHash } from '../actors/handover.js';
import { Deadlines } from './liveness.js';
import { NodeChanges } from './changes.js';
import { NodeTotals } from './totals.js';
import { holdsNothing, NO_TASKS } from './load.js';
import { holdOptions, MassHold, type Hidden, type HoldOptions } from './hold.js';
import { Silence } from './silence.js';

export interface MembershipEvents {
  joined(n: NodeRecord): void;
  lost(n: NodeRecord, why: string): void;
  /** `n` missed its deadline with many others (hold.ts): it takes no new work until it speaks or is lost. */
  held(n: NodeRecord): void;
  /** A held node spoke: it takes work again, its tasks as they were. */
  released(n: NodeRecord): void;
}

export class Membership {
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Nodes that are other coordinators' links (coordinator/mesh), counted as they come and go. */
  links = 0;
  /** Session secrets, for a node that reconnects (issue 6). */
  readonly secrets = new Map<NodeId, string>();
  /** Nodes by when they could first be dead: a sweep looks at those due only (issue 14). */
  readonly deadlines: Deadlines;
  /** Nodes whose record changed, for readers that work on what changed (the dashboard, issue 14). */
  readonly changes = new NodeChanges();
  /** Own nodes (not other coordinators' links), their CPUs and tasks in flight, kept as they change: read in O(1) (issue 14). */
  readonly totals = new NodeTotals();
  /** Nodes joined, and lost by cause, since the start (`/api/stats`: a reconnect storm read in counts, issue 14). */
  readonly counts = { nodesJoined: 0, nodesLostClosed: 0, nodesLostSilent: 0, nodesHeld: 0, nodesReleased: 0, nodesLostAfterHold: 0 };
  /** Nodes held because many missed their deadline together (hold.ts, session 37). */
  readonly hold: MassHold;
  /** Own nodes by when they were last heard: how many are silent now (the first of a group comes due alone). */
  private readonly silence: Silence;
  /** Held nodes that spoke since the last sweep, and the longest they were held (one event a sweep, not one a node). */
  private releasedNow = { count: 0, longestMs: 0 };

  constructor(
    private readonly gcs: Gcs,
    private readonly on: MembershipEvents,
    readonly heartbeatMs: number,
    readonly deadAfterMs: number,
    /** A node that holds nothing and was given nothing since it said so is dead after this long silent (issue 14). */
    readonly idleDeadAfterMs = deadAfterMs,
    hold: HoldOptions = holdOptions(undefined, deadAfterMs),
  ) {
    this.deadlines = new Deadlines(this.tickMs, Date.now(), (n) => this.deadline(n));
    // Nodes that went silent at once missed their deadlines up to a keepalive window apart, seen by sweeps a tick apart.
    this.silence = new Silence(this.tickMs, (n) => n.saidIdle === true && holdsNothing(n));
    this.hold = new MassHold(hold, this.quietMs + 2 * this.tickMs, this.quietMs, this.tickMs);
  }

  /** How often the sweep runs. */
  get tickMs(): number {
    return Math.max(100, Math.floor(this.heartbeatMs / 2));
  }

  /**
   * A time every node counts as heard at: set when our own event loop stalled (a long GC, a busy embedding
   * process), when nodes could not be heard, which is not their fault. One number instead of a walk that moved
   * every node's lastSeen (issue 14: at 20,000 nodes under load, stalls were frequent and each walked them all).
   */
  private heardFloor = -Infinity;

  /** When `n` was last heard from, as failure detection counts it (its last frame, or our last stall's floor). */
  private heard(n: NodeRecord): number {
    return Math.max(n.lastSeen, this.heardFloor);
  }

  /**
   * When `n` could first be dead: its last frame plus its window (the idle one while it holds nothing and said so).
   * Held, the hold's bound: as much later as hold.deadAfterMs is past deadAfterMs (a node that holds work: 30 s of
   * silence by default; one that holds nothing, past its idle window by as much, not at it: held for nothing else).
   */
  private deadline(n: NodeRecord): number {
    const held = n.heldSince !== undefined ? this.hold.o.deadAfterMs - this.deadAfterMs : 0;
    if (n.saidIdle === true && holdsNothing(n)) return this.heard(n) + this.idleDeadAfterMs + held;
    return Math.max(this.heard(n), n.busySince ?? 0) + this.deadAfterMs + held;
  }

  /**
   * Whether `n` is silent a heartbeat past the longest silence it was allowed (its keepalive window, the idle one
   * while it holds nothing and said so): alive still for failure detection, but likely starved. A retried task goes
   * to a node that is not, when one has room (scheduler.ts): its last run was most likely lost on a starved node.
   */
  overdue(n: NodeRecord, now = Date.now()): boolean {
    if (n.saidIdle === true && holdsNothing(n)) return now - this.heard(n) > (this.idleQuietMs ?? this.quietMs) + this.heartbeatMs;
    return now - Math.max(this.heard(n), n.busySince ?? 0) > this.quietMs + this.heartbeatMs;
  }

  /**
   * The longest a node may stay silent (told in its welcome): two heartbeats, as before keepalives, and at most half the dead window. Idle nodes send an empty
   * frame this often; busy ones none (any frame is a sign of life).
   */
  get quietMs(): number {
    return Math.max(this.heartbeatMs, Math.min(2 * this.heartbeatMs, Math.floor(this.deadAfterMs / 2)));
  }

  /**
   * How long a node that said it holds nothing may stay silent: half the idle window (undefined when that window is no longer than the other), so a keepalive
   * may come up to that late. A third before (issue 14, session 19): each keepalive costs the coordinator ~19 µs of CPU, mostly the socket read (10,000 idle
   * nodes: 1,000 a second, now 667), and a hung node that holds nothing is still dead within the idle window; one declared dead for a late keepalive lost
   * nobody's work and joins again.
   */
  get idleQuietMs(): number | undefined {
    if (this.idleDeadAfterMs <= this.deadAfterMs) return undefined;
    return Math.max(this.quietMs, Math.floor(this.idleDeadAfterMs / 2));
  }

  start(): void {
    this.timer = setInterval(() => this.sweep(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * The node id of a session: another coordinator's link is named by that coordinator's mesh id, the same after its
   * link ends and comes back (a pin to it survives a link flap, issue 14); any other node gets a fresh one.
   */
  private idFor(s: Session): NodeId {
    return s.meshLink !== undefined && isHexId(s.meshLink, NODE_ID_BYTES) ? (s.meshLink as NodeId) : newNodeId();
  }

  /** Session `s`'s node record, while it is that session's (a link's id outlives its sessions: an old one's late frames are not the new one's). */
  nodeOf(s: Session): NodeRecord | undefined {
    const n = s.nodeId ? this.gcs.nodeTable.get(s.nodeId) : undefined;
    return n?.session === s ? n : undefined;
  }

  join(s: Session, info: NonNullable<MsgOf<'hello'>['node']>): NodeRecord {
    const id = this.idFor(s);
    // A link's earlier session, closing behind its last frames (coordinator.ts onClose): it is gone now, with what it held.
    const before = this.gcs.nodeTable.get(id);
    if (before && before.session !== s) this.remove(before, 'its coordinator linked again');
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
      tasks: NO_TASKS,
      joinedAt: Date.now(),
      lastSeen: Date.now(),
      load: { running: 0, queued: 0, storeBytes: 0 },
      tasksDone: 0,
      link: s.meshLink,
      hostKey: info.host ? hostKeyHash(info.host.key) : undefined,
    };
    s.nodeId = id;
    this.gcs.nodeTable.set(id, n);
    this.deadlines.watch(n);
    if (n.link === undefined) this.silence.heard(n, n.lastSeen);
    this.changes.watch(n);
    this.totals.add(n);
    if (n.link !== undefined) this.links++;
    this.secrets.set(id, randomHex(16));
    this.counts.nodesJoined++;
    this.gcs.event('node-joined', `${info.kind} node ${id} (${info.name}) joined with ${resources.cpu} cpu`, { node: id });
    this.on.joined(n);
    return n;
  }

  heartbeat(n: NodeRecord, m: MsgOf<'heartbeat'>): void {
    const wasIdle = n.saidIdle === true;
    n.lastSeen = Date.now();
    // Written in place: a new object each heartbeat was an old record pointing at a young object (issue 14, session 38).
    const load = n.load;
    load.running = m.running;
    load.queued = m.queued;
    load.storeBytes = m.storeBytes;
    n.saidIdle = m.idle === true;
    if (n.link === undefined) this.silence.heard(n, n.lastSeen);
    this.changes.mark(n);
    if (n.heldSince !== undefined) this.release(n);
    // No longer idle: the short window applies from now, sooner than it was filed for.
    else if (wasIdle && !n.saidIdle) this.deadlines.refile(n);
  }

  /** Any frame from a node is a sign of life (nodes skip unchanged heartbeats, issue 14). */
  seen(n: NodeRecord): void {
    n.lastSeen = Date.now();
    if (n.link === undefined) this.silence.heard(n, n.lastSeen);
    if (n.heldSince !== undefined) this.release(n);
  }

  /** A held node spoke: back with its tasks, under its own window again (sooner than the hold's bound it was filed at). */
  private release(n: NodeRecord): void {
    const heldMs = Date.now() - n.heldSince!;
    n.heldSince = undefined;
    this.hold.release(n);
    this.deadlines.refile(n);
    this.changes.mark(n);
    this.counts.nodesReleased++;
    this.releasedNow.count++;
    this.releasedNow.longestMs = Math.max(this.releasedNow.longestMs, heldMs);
    this.on.released(n);
  }

  /** A browser node paused, resumed or changed its executor count (issue 3): a paused node offers no CPU. */
  capacity(n: NodeRecord, m: MsgOf<'capacity'>): void {
    const before = n.resources.cpu ?? 0;
    n.resources.cpu = m.paused ? 0 : m.cpus;
    this.totals.cpusChanged(n, before);
    this.changes.mark(n);
    this.gcs.event('node-capacity', `node ${n.id} (${n.name}) ${m.paused ? 'paused' : `offers ${m.cpus} cpu`}`, { node: n.id });
  }

  /** Removes a node (socket closed, or `silent`: heartbeats missed). */
  remove(n: NodeRecord, why: string, silent = false): void {
    if (!this.gcs.nodeTable.delete(n.id)) return;
    this.hold.release(n);
    if (silent) this.counts.nodesLostSilent++;
    else this.counts.nodesLostClosed++;
    this.deadlines.forget(n);
    this.silence.forget(n);
    this.changes.gone(n);
    this.totals.remove(n);
    if (n.link !== undefined) this.links--;
    this.secrets.delete(n.id);
    this.gcs.event('node-lost', `node ${n.id} (${n.name}) lost: ${why}`, { node: n.id });
    this.on.lost(n, why);
  }

  private lastSweep = Date.now();

  /**
   * Looks at the nodes whose deadline came (liveness.ts): dead ones go, unless many are late together (hold.ts:
   * held instead), and the others are filed under their new deadline. Held nodes past the hold's bound go too.
   */
  private sweep(): void {
    const now = Date.now();
    const gap = now - this.lastSweep;
    this.lastSweep = now;
    const due = this.deadlines.due(now);
    // A gap that could make a node late though it spoke every quietMs is a stall too (a heartbeat near the window's half).
    if (gap > Math.min(3 * this.tickMs, this.deadAfterMs - this.quietMs)) {
      // Our own event loop stalled (a long GC, a busy embedding process): nodes could not be heard, which is not their fault. Every node counts as heard a
      // heartbeat ago (no walk: the nodes not due yet meet the floor when their deadline comes). Timers run before the loop reads its sockets: the frames that
      // waited through the stall are read after this sweep, before the next.
      this.heardFloor = Math.max(this.heardFloor, now - this.heartbeatMs);
      for (const n of due) if (this.gcs.nodeTable.get(n.id) === n) this.deadlines.file(n, Math.max(now + 1, this.deadline(n) + 1));
      return;
    }
    const late: NodeRecord[] = [];
    for (const n of due) {
      if (this.gcs.nodeTable.get(n.id) !== n) continue;
      const d = this.deadline(n);
      if (now <= d) this.deadlines.file(n, d + 1);
      // Held and still silent at the bound; or another coordinator's link (not ours to count: lost as before).
      else if (n.heldSince !== undefined || n.link !== undefined) this.lose(n, now, 'past the bound');
      else late.push(n);
    }
    const live = this.totals.nodes;
    const judging = late.length > 0 || this.hold.size > 0;
    const silent = judging ? this.silentNow(now) : [];
    const hidden = judging ? this.hidden(late) : undefined;
    if (this.hold.judge(now, late.length, live, silent, hidden) === 'hold' && late.length > 0) this.holdAll(late, now, live);
    else for (const n of late) this.lose(n, now);
    const mass = this.hold.mass;
    for (const n of this.hold.due(now)) this.lose(n, now, mass ? 'taken at the hold rate' : 'too few together to be a mass');
    if (this.releasedNow.count > 0) {
      const { count, longestMs } = this.releasedNow;
      this.gcs.event('nodes-released', `${count} held node(s) spoke again and take work again (held up to ${longestMs} ms); ${this.hold.size} still held`);
      this.releasedNow = { count: 0, longestMs: 0 };
    }
  }

  /**
   * Own nodes silent a heartbeat past the longest silence allowed them (as overdue() counts; a keepalive may come up to
   * its window late), or counted from our own last stall's floor.
   */
  private silentNow(now: number): [number, number][] {
    const cut = (allowed: number) => (now - allowed - this.heartbeatMs <= this.heardFloor ? -Infinity : now - allowed - this.heartbeatMs);
    const [busy, idle] = this.silence.silent(cut(this.quietMs), cut(this.idleQuietMs ?? this.quietMs));
    const [busyOf, idleOf] = this.silence.population;
    return [
      [busy, busyOf],
      [idle, idleOf],
    ];
  }

  /** The newest last frame of the late nodes judged since the hold began (hidden()). */
  private quietSince = -Infinity;

  /**
   * Own nodes that said they hold nothing not heard since the late ones' last frames (session 38: bench:scale's 20 s stop of 5,000 of 10,000 nodes lost its 133
   * busy ones at 5 s, few among the busy, while its idle ones might keep quiet 15 s): silent with them, perhaps; by `until` their silence shows in silentNow().
   */
  private hidden(late: readonly NodeRecord[]): Hidden | undefined {
    if (this.idleQuietMs === undefined) return undefined;
    if (this.hold.size === 0) this.quietSince = -Infinity;
    for (const n of late) this.quietSince = Math.max(this.quietSince, this.heard(n), n.busySince ?? 0);
    if (this.quietSince === -Infinity) return undefined;
    // What stopped them may have come up to a keepalive window (and a heartbeat's lateness) after their last frame: idle ones
    // heard before then may be silent with them. Counted by tick: one heard in the cut's tick counts too.
    const cut = Math.min(Date.now(), this.quietSince + this.quietMs + this.heartbeatMs);
    const [, count] = this.silence.silent(-Infinity, (Math.floor(cut / this.tickMs) + 1) * this.tickMs);
    // Their silence shows a keepalive window (and a heartbeat) after that, or after our own last stall's floor, from
    // which silentNow() counts (a loaded coordinator's stall must not end the wait before the count can show).
    return { count, until: Math.max(cut, this.heardFloor) + this.idleQuietMs + this.heartbeatMs + 2 * this.tickMs };
  }

  private holdAll(late: NodeRecord[], now: number, live: number): void {
    for (const n of late) {
      n.heldSince = now;
      this.hold.hold(n);
      this.deadlines.file(n, this.deadline(n) + 1);
      this.changes.mark(n);
      this.counts.nodesHeld++;
      this.on.held(n);
    }
    const { o, peak, mass, size } = this.hold;
    this.gcs.event(
      'nodes-held',
      `${late.length} node(s) held, not lost: ${peak} of ${live} missed their deadline within ${this.hold.windowMs} ms or are silent ` +
        (mass
          ? `(a mass: at least ${o.share * 100}%; held until they speak, at most ${o.deadAfterMs} ms silent, ${o.evictPerSec}/s lost before)`
          : `(at least ${o.minNodes}; lost in ${Math.max(this.hold.windowMs, this.hold.waitUntil - now)} ms unless ${o.share * 100}% of the nodes miss theirs` +
            (this.hold.waitUntil > now ? `: as many idle ones are not heard since, their silence shows by then)` : ')')) +
        `; ${size} held; first ${late[0].id} (${late[0].name})`,
      { node: late[0].id },
    );
  }

  /** `n` is declared dead for its silence (`held`: why a held one goes now). */
  private lose(n: NodeRecord, now: number, held?: string): void {
    const idle = n.saidIdle === true && holdsNothing(n);
    const silent = idle ? now - this.heard(n) : now - Math.max(this.heard(n), n.busySince ?? 0);
    const heldMs = n.heldSince !== undefined ? now - n.heldSince : undefined;
    if (heldMs !== undefined) this.counts.nodesLostAfterHold++;
    this.remove(n, `no heartbeat for ${silent} ms` + (heldMs !== undefined ? ` (held ${heldMs} ms, ${held ?? 'silent still'})` : ''), true);
    n.session.fail('NODE_DEAD', 'declared dead after missing heartbeats');
  }
}
