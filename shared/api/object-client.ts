// What every client of the coordinator (driver or node) does with objects: subscribe to readiness, fetch the bytes of stored objects through the relay, and
// serve the objects it holds when the coordinator asks for them.
import type { ObjectId } from '../ids.js';
import type { Failure } from '../errors.js';
import type { Msg, MsgOf } from '../protocol/messages.js';
import { TabmeshError } from '../errors.js';
import { allocBytes } from '../bytes.js';
import { copyInto } from '../shared-memory.js';
import { serveOverRelay } from '../transfer/relay-serve.js';
import { ServeCredits } from '../transfer/relay-credit.js';
import type { ObjectSource } from '../transfer/source.js';

export interface ReadyInfo {
  /** The value's bytes when the object is small enough to travel inline. */
  v?: Uint8Array;
  size: number;
  /** Content hash of a stored object, checked when its bytes arrive. */
  hash?: string;
  failure?: Failure;
}

/** What a client knows of an object's readiness. */
export interface Subscription {
  info: ReadyInfo | undefined;
  /** Who waits for it to be ready (null: nobody yet). */
  waiters: Array<(info: ReadyInfo) => void> | null;
  /** A subscribe for it went to the coordinator (and is sent again after a reconnect while someone waits). */
  asked: boolean;
}

/** Where a client keeps its subscriptions: its own map (nodes), or a driver's records of the objects it holds (held-objects.ts), one record an object. */
export interface SubscriptionTable {
  get(id: ObjectId): Subscription | undefined;
  /** Its subscription, made (not asked, not ready) if there was none. */
  open(id: ObjectId): Subscription;
  entries(): IterableIterator<[ObjectId, Subscription]>;
  /** Its readiness reached everyone who waited: kept (a driver's record of what it holds) or forgotten. */
  settled(id: ObjectId, s: Subscription): void;
  readonly size: number;
}

/**
 * A node's subscriptions, while someone waits (issue 14, session 14): a readiness delivered is forgotten, as the coordinator forgets a subscriber once it sent
 * `ready`. The bytes then live in the store (or went to the task that asked); a later reader asks again. Before, a node kept every object it ever awaited,
 * inline values included.
 */
export class OwnSubscriptions implements SubscriptionTable {
  private readonly subs = new Map<ObjectId, Subscription>();
  get size(): number {
    return this.subs.size;
  }
  settled(id: ObjectId): void {
    this.subs.delete(id);
  }
  get(id: ObjectId): Subscription | undefined {
    return this.subs.get(id);
  }
  open(id: ObjectId): Subscription {
    let s = this.subs.get(id);
    if (!s) this.subs.set(id, (s = { info: undefined, waiters: null, asked: false }));
    return s;
  }
  entries(): IterableIterator<[ObjectId, Subscription]> {
    return this.subs.entries();
  }
}

interface Incoming {
  id: ObjectId;
  buf: Uint8Array | null;
  received: number;
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
}

/** Past this many bytes queued on the socket, a sender waits before the next chunk. */
const SEND_HIGH_WATER = 4 << 20;

export class ObjectClient {
  private incoming = new Map<number, Incoming>();
  private nextX = 1;
  private nextSync = 1;
  private readonly syncs = new Map<number, () => void>();
  /** Barriers that count only when echoed (see `onReceipt`): dropped with the connection, never passed. */
  private readonly receipts = new Map<number, () => void>();
  private closedWith: Error | null = null;
  /** Bytes received through the relay (for stats). */
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    private readonly send: (m: Msg) => void,
    private readonly bufferedAmount: () => number,
    private readonly subs: SubscriptionTable = new OwnSubscriptions(),
    /** The credit of the windowed relay transfers this client serves. */
    readonly credits = new ServeCredits(),
  ) {}

  /** Resolves when the coordinator says the object is ready (or failed). */
  whenReady(id: ObjectId): Promise<ReadyInfo> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const s = this.subs.open(id);
    if (s.info) return Promise.resolve(s.info);
    return new Promise((resolve) => this.wait(id, s, resolve));
  }

  /**
   * As whenReady with a callback, called at once when the object is known (a get of many objects waits on one
   * promise for all: driver-fetch.ts). Answers the error the client closed with (`ready` is not called), or null.
   */
  onceReady(id: ObjectId, ready: (info: ReadyInfo) => void): Error | null {
    if (this.closedWith) return this.closedWith;
    const s = this.subs.open(id);
    if (s.info) ready(s.info);
    else this.wait(id, s, ready);
    return null;
  }

  private wait(id: ObjectId, s: Subscription, ready: (info: ReadyInfo) => void): void {
    if (!s.asked) {
      s.asked = true;
      this.send({ t: 'subscribe', ids: [id] });
    }
    (s.waiters ??= []).push(ready);
  }

  /** Resolves once the coordinator has answered everything sent before: the objects that were ready then are known here by then. */
  sync(): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const x = this.nextSync++;
    return new Promise((resolve) => {
      this.syncs.set(x, resolve);
      this.send({ t: 'sync', x });
    });
  }

  /** Calls `received` once the coordinator has handled everything sent before (the echo of a barrier); never if the connection goes first. */
  onReceipt(received: () => void): void {
    if (this.closedWith) return;
    const x = this.nextSync++;
    this.receipts.set(x, received);
    this.send({ t: 'sync', x });
  }

  onSync(x: number): void {
    const f = this.syncs.get(x);
    if (f) {
      this.syncs.delete(x);
      return f();
    }
    const r = this.receipts.get(x);
    if (r) {
      this.receipts.delete(x);
      r();
    }
  }

  /** Whether someone may still wait on the object here: held (or subscribed) and not known ready. */
  awaits(id: ObjectId): boolean {
    const s = this.subs.get(id);
    return s !== undefined && s.info === undefined;
  }

  /** What is known of an object without asking. */
  known(id: ObjectId): ReadyInfo | undefined {
    return this.subs.get(id)?.info;
  }

  /** Marks an object as ready locally (an own put): no subscription needed. */
  setReady(id: ObjectId, info: ReadyInfo): void {
    this.resolveSub(id, this.subs.open(id), info);
  }

  /** Objects this client keeps a subscription (or a driver's record) of. */
  get subscriptions(): number {
    return this.subs.size;
  }

  /** Forgets that an object was ready (a transfer of it failed): the next whenReady asks the GCS again. */
  invalidate(id: ObjectId): void {
    const s = this.subs.get(id);
    if (s?.info) {
      s.info = undefined;
      s.asked = false;
    }
  }

  onReady(m: MsgOf<'ready'>): void {
    const info: ReadyInfo = { size: m.size };
    if (m.v) info.v = m.v;
    if (m.hash) info.hash = m.hash;
    if (m.failure) info.failure = m.failure;
    const s = this.subs.get(m.id);
    if (!s) return; // released (or delivered and forgotten) meanwhile
    this.resolveSub(m.id, s, info);
  }

  /**
   * A small value a node sent straight here (api/driver-shortcuts.ts, checked there): ready now, if it is held and not known yet (true). The coordinator sends
   * no `ready` for it (the node's `done` said it went).
   */
  onShortcut(id: ObjectId, v: Uint8Array): boolean {
    const s = this.subs.get(id);
    if (!s || s.info) return false;
    this.resolveSub(id, s, { v, size: v.byteLength });
    return true;
  }

  /** A readiness learnt without a `ready` (a task group's `groupReady`, driver-groups.ts): taken if the object is held here and not known yet. */
  resolve(id: ObjectId, info: ReadyInfo): boolean {
    const s = this.subs.get(id);
    if (!s || s.info) return false;
    this.resolveSub(id, s, info);
    return true;
  }

  /**
   * Asks the coordinator again for objects whose readiness it was told went
   * here straight (a `done` with `sc`) and that did not come (the shortcut was
   * refused, or the link carrying it closed): `id`, or every one still waited on.
   */
  reask(id?: ObjectId): void {
    if (id !== undefined) {
      const s = this.subs.get(id);
      if (s && !s.info && s.asked) this.send({ t: 'subscribe', ids: [id] });
      return;
    }
    const ids = this.waitingIds();
    if (ids.length) this.send({ t: 'subscribe', ids });
  }

  private resolveSub(id: ObjectId, s: Subscription, info: ReadyInfo): void {
    s.info = info;
    const w = s.waiters;
    s.waiters = null;
    this.subs.settled(id, s);
    if (w !== null) for (const f of w) f(info);
  }

  /** Fetches the bytes of a stored object through the coordinator's relay. */
  fetchBytes(id: ObjectId): Promise<Uint8Array> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const x = this.nextX++;
    return new Promise((resolve, reject) => {
      this.incoming.set(x, { id, buf: null, received: 0, resolve, reject });
      this.send({ t: 'fetch', id, x });
    });
  }

  onChunk(m: MsgOf<'chunk'>): void {
    const t = this.incoming.get(m.x);
    if (!t) return;
    if (t.buf === null) t.buf = allocBytes(m.n);
    if (m.n !== t.buf.byteLength || m.o + m.d.byteLength > m.n) {
      this.incoming.delete(m.x);
      t.reject(new TabmeshError('BAD_MESSAGE', `transfer of ${t.id}: chunk does not fit the object`));
      return;
    }
    copyInto(t.buf, m.o, m.d);
    t.received += m.d.byteLength;
    this.bytesIn += m.d.byteLength;
    if (t.received >= m.n) {
      this.incoming.delete(m.x);
      t.resolve(t.buf);
    }
  }

  onXferFail(m: MsgOf<'xferFail'>): void {
    const t = this.incoming.get(m.x);
    if (!t) return;
    this.incoming.delete(m.x);
    t.reject(new TabmeshError('OBJECT_LOST', `transfer of ${t.id} failed: ${m.reason}`));
  }

  /**
   * Streams an object on relay transfer `x`: its bytes, or a source read from a lower tier a window at a time
   * (relay-serve.ts); `w`: the coordinator's window, the transfer then waits for its credit (relay-credit.ts). The
   * credit opens before `src` resolves: a `more` may come while the holder still looks the object up.
   */
  async serve(x: number, src: Uint8Array | ObjectSource | undefined | Promise<ObjectSource | undefined>, w?: number): Promise<void> {
    if (w !== undefined) this.credits.open(x, w);
    try {
      await serveOverRelay(
        {
          send: (m) => this.send(m),
          bufferedAmount: () => this.bufferedAmount(),
          highWater: SEND_HIGH_WATER,
          closed: () => this.closedWith !== null,
          sent: (n) => (this.bytesOut += n),
          credit: (cx, at) => this.credits.wait(cx, at),
          creditStallMs: this.credits.stallMs,
        },
        x,
        await src,
      );
    } finally {
      if (w !== undefined) this.credits.close(x);
    }
  }

  /** The coordinator's credit for a transfer served here (one that already ended is no error: the grant crossed its end). */
  onMore(m: MsgOf<'more'>): void {
    this.credits.grant(m);
  }

  /** Fails the transfers in flight (the connection dropped; subscriptions stay, to be sent again). */
  failTransfers(err: Error): void {
    for (const t of this.incoming.values()) t.reject(err);
    this.incoming.clear();
    this.releaseSyncs();
    this.credits.stopAll(); // serves waiting for credit: the coordinator that would grant it is gone
  }

  /** Who hears the error the client closes with: gets waiting for readiness that will not come (onClose). */
  private readonly closeWatchers = new Set<(err: Error) => void>();

  /** `fail` hears the error this client closes with, from now (closed already: never; onceReady says so); the answer stops that. */
  onClose(fail: (err: Error) => void): () => void {
    if (this.closedWith) return () => {};
    this.closeWatchers.add(fail);
    return () => void this.closeWatchers.delete(fail);
  }

  /** Fails everything in flight (the connection closed for good), gets that wait for readiness included. */
  close(err: Error): void {
    this.closedWith = err;
    this.failTransfers(err);
    const watchers = [...this.closeWatchers];
    this.closeWatchers.clear();
    for (const f of watchers) f(err);
  }

  /** Barriers whose echo will not come (the socket went): they pass. */
  private releaseSyncs(): void {
    const all = [...this.syncs.values()];
    this.syncs.clear();
    this.receipts.clear();
    for (const f of all) f();
  }

  /** Ids with someone waiting: subscribed again after a reconnect. */
  waitingIds(): ObjectId[] {
    const out: ObjectId[] = [];
    for (const [id, s] of this.subs.entries()) if (!s.info && s.waiters?.length) out.push(id);
    return out;
  }
}
