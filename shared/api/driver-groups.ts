// A driver's task groups (issue 14, session 26; shared/protocol/group.ts, docs/decisions.md "Task groups"):
// consecutive calls of one remote function in one synchronous turn, with inline arguments only, leave as one
// `submitGroup`; the driver owns the group (Ray's owner model): it keeps the message until every member ended,
// learns members' ends from `groupReady` (no subscribe per member), drops members with `groupRelease`, and turns
// a member into an ordinary task (`materialize`) before its ref escapes (an argument, a nested ref, a borrow, a
// cancel). Ids are the per-task ones: member i is childTaskId(parent, first + i), output returnObjectId(.., 0).
import { returnObjectId, type ObjectId, type TaskId } from '../ids.js';
import { MAX_GROUP, MIN_GROUP } from '../protocol/group.js';
import type { Msg, MsgOf, TaskSpec } from '../protocol/messages.js';
import type { HeldObject, HeldObjects } from './held-objects.js';
import type { ObjectClient, ReadyInfo } from './object-client.js';
import { ENDED, groupable, OUT, OwnedGroup, RELEASED } from './owned-group.js';

export { OwnedGroup, refsOf } from './owned-group.js';

/** What the groups need of the driver (DriverCore). */
export interface GroupHost {
  readonly held: HeldObjects;
  readonly objects: ObjectClient;
  /** To the coordinator, in order with all else. */
  send(m: Msg): void;
  /** As `send`, riding on a later frame (a release). */
  sendLater(m: Msg): void;
  /** Today's per-task submit (direct submission and all): a group of fewer than MIN_GROUP members goes so. */
  submitAlone(spec: TaskSpec): void;
  /**
   * Sends what is queued now, in one frame: a submitGroup ends its frame (the outbox counts a message it does not know
   * as 64 bytes, frame.ts payloadBytes: twenty groups of 1 MiB in one frame would pass the coordinator's 8 MiB).
   */
  flush(): void;
}

/** A group closes before its members' inline arguments pass this many bytes (with the frame flushed after it: one frame of at most ~1 MiB). */
export const GROUP_MAX_BYTES = 1 << 20;

export class DriverGroups {
  /** The coordinator's welcome said `groups: true`: eligible calls group; else every task goes alone. */
  on = false;
  /** Members of groups sent: while 0 no hook has anything to look for but the open group (the sequential path's). */
  members = 0;
  /** Groups sent, and tasks of closed groups too small that went alone. */
  readonly counts = { groups: 0, members: 0, alone: 0, materialized: 0 };
  private openGroup: OwnedGroup | null = null;
  private closeQueued = false;
  /** Sent groups with members neither ended nor out, by id. */
  private readonly byG = new Map<TaskId, OwnedGroup>();
  /** Members released this turn, per group: one `groupRelease` a group a turn. */
  private releases = new Map<OwnedGroup, number[]>();
  private releaseQueued = false;

  constructor(private readonly host: GroupHost) {}

  /** A welcome: groups on or off; after a resume with a coordinator that takes none, members not ended become plain submits. */
  welcomed(on: boolean, resumed: boolean): void {
    this.on = on;
    if (!resumed) return;
    this.closeOpen();
    if (!on) this.dissolve();
  }

  /** `push` less its subscribes' members (a resume's messages, which go straight to the outbox). */
  filtered(push: (m: Msg) => void): (m: Msg) => void {
    return (m) => {
      const x = m.t === 'subscribe' ? this.subscribe(m) : m;
      if (x) push(x);
    };
  }

  /** A group is open or was sent: a spec's refs may name members. */
  get active(): boolean {
    return this.members > 0 || this.openGroup !== null;
  }

  /** Groups with members not ended (kept for a resume). */
  get pending(): number {
    return this.byG.size;
  }

  /**
   * Takes `spec` (the call of RemoteFunction `key` at the parent's submit index `index`) into the open group: false
   * when it may not group (the caller submits it alone, which closes the open group first).
   */
  add(spec: TaskSpec, key: object, index: number): boolean {
    if (!this.on || !groupable(spec)) return false;
    let o = this.openGroup;
    let bytes = 8;
    for (let k = 0; k < spec.args.length; k++) bytes += spec.args[k].v!.byteLength + 4;
    if (o !== null && (o.key !== key || o.first + o.ids.length !== index || o.bytes + bytes > GROUP_MAX_BYTES)) {
      this.closeOpen();
      o = null;
    }
    if (o === null) {
      o = this.openGroup = new OwnedGroup(key, index);
      if (!this.closeQueued) {
        this.closeQueued = true;
        queueMicrotask(this.endOfTurn);
      }
    }
    const id = returnObjectId(spec.taskId, 0);
    const r = this.host.held.open(id);
    r.group = o;
    r.idx = o.ids.length;
    o.ids.push(id);
    o.specs!.push(spec);
    o.bytes += bytes;
    if (o.ids.length >= MAX_GROUP) this.closeOpen();
    return true;
  }

  private readonly endOfTurn = (): void => {
    this.closeQueued = false;
    this.closeOpen();
  };

  /** Closes the open group: one submitGroup, or plain submits below MIN_GROUP. Any other message to the coordinator calls it first. */
  closeOpen(): void {
    const o = this.openGroup;
    if (o === null) return;
    this.openGroup = null;
    const specs = o.specs!;
    o.specs = null;
    const n = specs.length;
    if (n < MIN_GROUP) {
      for (let i = 0; i < n; i++) {
        const r = this.host.held.get(o.ids[i]);
        if (r) r.group = null;
        this.counts.alone++;
        this.host.submitAlone(specs[i]);
      }
      return;
    }
    const args = new Array<Uint8Array[]>(n);
    for (let i = 0; i < n; i++) {
      const a = specs[i].args;
      const v = new Array<Uint8Array>(a.length);
      for (let k = 0; k < a.length; k++) v[k] = a[k].v!;
      args[i] = v;
    }
    o.msg = { t: 'submitGroup', spec: { ...specs[0], args: [], nested: [] }, first: o.first, args };
    o.state = new Uint8Array(n);
    o.open = n;
    this.byG.set(o.g, o);
    this.counts.groups++;
    this.counts.members += n;
    this.members += n;
    this.host.send(o.msg);
    this.host.flush();
  }

  /** Whether `r` is a member of a sent group still (its ref has not escaped): no subscribe, release or cancel of its own. */
  private member(r: HeldObject | undefined): r is HeldObject & { group: OwnedGroup } {
    const o = r?.group;
    return o != null && o.specs === null && o.msg !== null && (o.state[r!.idx] & OUT) === 0;
  }

  /** A subscribe to the coordinator less its members (their readiness comes by groupReady); null when none is left. */
  subscribe(m: MsgOf<'subscribe'>): MsgOf<'subscribe'> | null {
    this.closeOpen();
    if (this.members === 0) return m;
    const held = this.host.held;
    let keep: ObjectId[] | null = null;
    for (let i = 0; i < m.ids.length; i++) {
      const id = m.ids[i];
      if (this.member(held.get(id))) keep ??= m.ids.slice(0, i);
      else keep?.push(id);
    }
    if (keep === null) return m;
    return keep.length ? { t: 'subscribe', ids: keep } : null;
  }

  /** `groupReady`: members that ended (values, failures) or that the coordinator materialized (`moved`). */
  onReady(m: MsgOf<'groupReady'>): void {
    const o = this.byG.get(m.g);
    // Every member ended already (an answer to a group sent again after a resume), or not a group of this driver.
    if (!o) return;
    if (m.v.length !== m.ok.length) return bad(`groupReady of ${m.g} has ${m.ok.length} members and ${m.v.length} values`);
    // Checked whole before any of it is taken: a bad report changes nothing.
    const n = o.ids.length;
    const beyond = (i: number): boolean => i >= n;
    const over = m.ok.find(beyond) ?? m.failed?.find((f) => beyond(f.i))?.i ?? m.moved?.find(beyond);
    if (over !== undefined) return bad(`groupReady of ${m.g} names member ${over} of a group of ${n}`);
    for (let k = 0; k < m.ok.length; k++) {
      const v = m.v[k];
      this.ended(o, m.ok[k], { v, size: v.byteLength });
    }
    for (const f of m.failed ?? []) this.ended(o, f.i, { size: 0, failure: f.failure });
    for (const i of m.moved ?? []) this.moved(o, i);
  }

  private ended(o: OwnedGroup, i: number, info: ReadyInfo): void {
    const s = o.state[i];
    if (s & (ENDED | OUT)) return;
    o.state[i] = s | ENDED;
    if (--o.open === 0) this.byG.delete(o.g);
    const id = o.ids[i];
    if (this.host.held.get(id)?.group === o) this.host.objects.resolve(id, info);
  }

  /** The coordinator made member `i` an ordinary object (its result is stored on a node): read as any object. */
  private moved(o: OwnedGroup, i: number): void {
    const s = o.state[i];
    if (s & (ENDED | OUT)) return;
    if (--o.open === 0) this.byG.delete(o.g);
    this.out(o, i, s | ENDED);
    const id = o.ids[i];
    const r = this.host.held.get(id);
    if (r?.group === o && r.waiters?.length && !r.info) {
      r.asked = true;
      this.host.send({ t: 'subscribe', ids: [id] });
    }
  }

  /** Member `i` leaves its group: an ordinary submission of the driver from now on. */
  private out(o: OwnedGroup, i: number, s: number): void {
    o.state[i] = s | OUT;
    this.counts.materialized++;
    if ((s & RELEASED) === 0) this.host.held.materialized(o.ids[i], o.memberSpec(i));
  }

  /**
   * Before a message that lets these refs escape the driver (a task's argument, a ref nested in a value, a borrow,
   * a cancel): members among them are materialized (their group's submitGroup first, if still open). Returns the
   * ids that were not members (a borrow of a member needs none: the materialize holds it).
   */
  escape(ids: readonly ObjectId[]): readonly ObjectId[] {
    if (ids.length === 0) return ids;
    this.closeOpen();
    if (this.members === 0) return ids;
    const held = this.host.held;
    let per: Map<OwnedGroup, number[]> | null = null;
    let rest: ObjectId[] | null = null;
    // Waited on here (their subscribe was not sent): asked of the coordinator once they are ordinary.
    let waited: ObjectId[] | null = null;
    for (let k = 0; k < ids.length; k++) {
      const r = held.get(ids[k]);
      if (!this.member(r)) {
        rest?.push(ids[k]);
        continue;
      }
      rest ??= ids.slice(0, k);
      if (r.waiters?.length && !r.info) (waited ??= []).push(ids[k]);
      const o = r.group;
      const s = o.state[r.idx];
      if ((s & ENDED) === 0 && --o.open === 0) this.byG.delete(o.g);
      this.out(o, r.idx, s);
      per ??= new Map();
      const idx = per.get(o);
      if (idx) idx.push(r.idx);
      else per.set(o, [r.idx]);
    }
    if (per) for (const [o, idx] of per) this.host.send({ t: 'materialize', g: o.g, idx });
    if (waited) this.host.send({ t: 'subscribe', ids: waited });
    return rest ?? ids;
  }

  /** The driver dropped its handles to these objects: members among them leave by `groupRelease` (one a group a turn); returns the rest. */
  release(ids: readonly ObjectId[]): readonly ObjectId[] {
    this.closeOpen();
    if (this.members === 0) return ids;
    const held = this.host.held;
    let rest: ObjectId[] | null = null;
    for (let k = 0; k < ids.length; k++) {
      const r = held.get(ids[k]);
      const o = r?.group;
      if (!o?.msg) {
        rest?.push(ids[k]);
        continue;
      }
      o.state[r!.idx] |= RELEASED;
      if (!this.member(r)) {
        // Out of its group: released as any object.
        rest?.push(ids[k]);
        continue;
      }
      rest ??= ids.slice(0, k);
      const idx = this.releases.get(o);
      if (idx) idx.push(r!.idx);
      else this.releases.set(o, [r!.idx]);
    }
    if (this.releases.size > 0 && !this.releaseQueued) {
      this.releaseQueued = true;
      queueMicrotask(this.sendReleases);
    }
    return rest ?? ids;
  }

  private readonly sendReleases = (): void => {
    this.releaseQueued = false;
    const all = this.releases;
    this.releases = new Map();
    for (const [o, idx] of all) this.host.sendLater({ t: 'groupRelease', g: o.g, idx });
  };

  /**
   * After a resume, before anything that names them: each group with members not ended again, then what became of
   * its members here (materialized ones, and those released).
   */
  replay(push: (m: Msg) => void): void {
    for (const o of this.byG.values()) {
      this.host.flush();
      push(o.msg!);
      const out: number[] = [];
      const released: number[] = [];
      const outReleased: ObjectId[] = [];
      for (let i = 0; i < o.ids.length; i++) {
        const s = o.state[i];
        if (s & OUT) out.push(i);
        if ((s & (OUT | RELEASED)) === RELEASED) released.push(i);
        if ((s & (OUT | RELEASED)) === (OUT | RELEASED)) outReleased.push(o.ids[i]);
      }
      if (out.length) push({ t: 'materialize', g: o.g, idx: out });
      if (outReleased.length) push({ t: 'release', ids: outReleased });
      if (released.length) push({ t: 'groupRelease', g: o.g, idx: released });
    }
  }

  /** Resumed with a coordinator that takes no groups: members not ended become ordinary submissions (the resume sends them). */
  private dissolve(): void {
    for (const o of this.byG.values()) {
      for (let i = 0; i < o.ids.length; i++) {
        const s = o.state[i];
        if ((s & (ENDED | OUT | RELEASED)) === 0) this.out(o, i, s);
      }
      o.open = 0;
    }
    this.byG.clear();
  }
}

function bad(what: string): void {
  console.error(`tabmesh: bad message from the coordinator: ${what}`);
}
