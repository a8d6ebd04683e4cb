// The directory's readiness messages (a part of the object directory, issue 12):
// who waits on which pending object, and the `ready` message each is sent when
// it settles or is freed. Writes only `subscribers` of object records.
import type { ObjectId } from '../../shared/ids.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { ObjectRecord } from '../gcs/tables.js';
import type { Session } from '../session.js';
import { BySession } from './by-session.js';
import { ShortcutAcks } from './shortcut-acks.js';

/** A `ready` message carrying ObjectLostError for `id` (`why`: "is unknown or was freed", "was freed"). */
function lostMessage(id: ObjectId, why: string): MsgOf<'ready'> {
  return {
    t: 'ready',
    id,
    size: 0,
    v: undefined,
    failure: { code: 'OBJECT_LOST', name: 'ObjectLostError', message: `object ${id} ${why}`, stack: '', functionName: '', taskId: id },
  };
}

export class Subscriptions {
  /** Objects each session waits on (issue 14: a session's close costs what it had). */
  private readonly waits = new BySession<ObjectRecord>();
  /** Drivers told of a result by a node's shortcut, until they say they took it. */
  private readonly acks = new ShortcutAcks((s, ids) => this.subscribe(s, ids));

  constructor(
    private readonly gcs: Gcs,
    /** `s` began to wait on pending `o`. */
    private readonly awaited: (o: ObjectRecord, s: Session) => void = () => {},
  ) {}

  readyMessage(o: ObjectRecord): MsgOf<'ready'> {
    const m: MsgOf<'ready'> = { t: 'ready', id: o.id, size: o.size, v: undefined, failure: undefined };
    if (o.v) m.v = o.v;
    else if (o.hash) m.hash = o.hash;
    if (o.failure) m.failure = o.failure;
    return m;
  }

  /** Tells `s` when each object is ready (at once for those that are). */
  subscribe(s: Session, ids: ObjectId[]): void {
    for (const id of ids) {
      const o = this.gcs.objects.get(id);
      if (!o) s.send(lostMessage(id, 'is unknown or was freed'));
      else if (o.state !== 'pending') {
        // Its job's driver, told of it by a node's shortcut before it subscribed: held back as the others.
        if (s.jobId === o.job && s.role === 'driver' && this.acks.claim(id)) this.acks.expect(s, id);
        else s.send(this.readyMessage(o));
      } else {
        const subs = o.subscribers;
        // One subscriber is kept as it is (no set an object): a second makes the set.
        if (subs === null) o.subscribers = s;
        else if (subs instanceof Set) subs.add(s);
        else if (subs !== s) o.subscribers = new Set([subs, s]);
        this.waits.add(s, o);
        this.awaited(o, s);
      }
    }
  }

  /** Sends the subscribers of `o` its ready message (or, with `freed`, that it was freed) and forgets them. */
  notify(o: ObjectRecord, freed = false): void {
    const subs = o.subscribers;
    if (!subs) return;
    const m = freed ? lostMessage(o.id, 'was freed') : this.readyMessage(o);
    o.subscribers = null;
    if (subs instanceof Set) {
      for (const s of subs) {
        s.send(m);
        this.waits.delete(s, o);
      }
    } else {
      subs.send(m);
      this.waits.delete(subs, o);
    }
  }

  /**
   * A node says it sent `o`'s value straight to `s` (a result shortcut, shared/protocol/shortcut.ts): `s` is sent no
   * `ready` now, but it is owed one unless it says `took` soon (shortcut-acks.ts): a node's word is not proof.
   */
  shortcut(o: ObjectRecord, s: Session): void {
    if (this.unsubscribe(o, s)) this.acks.expect(s, o.id);
    else this.acks.unsubscribed(o.id);
  }

  /** Driver `s` took `o`'s value from a node's shortcut: it no longer waits on it, and is owed nothing. */
  took(s: Session, id: ObjectId): void {
    if (this.acks.took(s, id)) return;
    const o = this.gcs.objects.get(id);
    if (o) this.unsubscribe(o, s); // came before the node's `done`
  }

  private unsubscribe(o: ObjectRecord, s: Session): boolean {
    if (!dropSubscriber(o, s)) return false;
    this.waits.delete(s, o);
    return true;
  }

  /** A closing session waits on nothing. */
  dropSession(s: Session): void {
    for (const o of this.waits.take(s)) dropSubscriber(o, s);
  }
}

/** `s` no longer waits on `o`: whether it did. */
function dropSubscriber(o: ObjectRecord, s: Session): boolean {
  const subs = o.subscribers;
  if (subs === s) {
    o.subscribers = null;
    return true;
  }
  if (!(subs instanceof Set) || !subs.delete(s)) return false;
  if (subs.size === 0) o.subscribers = null;
  return true;
}

/** The sessions waiting on `o` (a new list: for tests and tools). */
export function subscribersOf(o: Readonly<ObjectRecord>): Session[] {
  const subs = o.subscribers;
  return subs === null ? [] : subs instanceof Set ? [...subs] : [subs];
}
