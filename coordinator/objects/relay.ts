// The coordinator's relay: when a node (or driver) needs the bytes of an
// object held elsewhere and no peer link exists, the holder streams chunks
// to the coordinator, which forwards them. Counted in stats.bytesRelayed.
// A holder that said `credit` sends under a window the relay grants as the
// reader reads (relay-window.ts); others, as fast as their own socket takes.
import { TreeHasher } from '../../shared/hash.js';
import { isArtifactObject, isPutObject, type ObjectId } from '../../shared/ids.js';
import { RELAY_CHUNK_BYTES, type MsgOf } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { ObjectDirectory } from './directory.js';
import type { Session } from '../session.js';
import { RelayWindows, type WindowOptions } from './relay-window.js';

interface Transfer {
  id: ObjectId;
  /** The relay's transfer number (the holder's `x`). */
  X: number;
  from: Session;
  to: Session;
  /** The requester's transfer number. */
  x: number;
  /** The bytes so far, hashed as they pass (issue 8: a holder serving wrong bytes is caught here too). */
  hash: TreeHasher | null;
  next: number;
  /** Under a window (the holder said `credit`): chunks must start below this byte; null, no window. */
  upTo: number | null;
  /** The object's size, once its first chunk told it (the window's last grant stops there). */
  n: number;
}

export class Relay {
  private readonly transfers = new Map<number, Transfer>();
  private nextX = 1;
  /** A holder could not serve an object it is listed for, or served wrong bytes (node honesty, issue 8). */
  onBadHolder: (holder: Session, id: ObjectId, why: string) => void = () => {};

  readonly windows: RelayWindows;

  constructor(
    private readonly gcs: Gcs,
    private readonly dir: ObjectDirectory,
    windows: Partial<WindowOptions> = {},
  ) {
    this.windows = new RelayWindows((w, why) => {
      const t = this.transfers.get(w.X);
      if (t) this.stop(t, `transfer of ${t.id} stopped: ${why}`);
    }, windows);
  }

  /** `to` asks for the bytes of `id` on its transfer `x`. */
  fetch(to: Session, m: MsgOf<'fetch'>): void {
    const o = this.dir.get(m.id);
    if (!o || o.state !== 'ready') {
      to.send({ t: 'xferFail', x: m.x, reason: o ? `object ${m.id} is ${o.state}` : `object ${m.id} is unknown or was freed` });
      return;
    }
    if (o.v) {
      // Small objects live in the GCS: answer from here.
      const n = o.v.byteLength;
      for (let off = 0; off < n || off === 0; off += RELAY_CHUNK_BYTES) {
        to.send({ t: 'chunk', x: m.x, o: off, n, d: o.v.subarray(off, Math.min(n, off + RELAY_CHUNK_BYTES)) });
        if (n === 0) break;
      }
      return;
    }
    const from = this.dir.holder(o, to);
    if (!from) {
      to.send({ t: 'xferFail', x: m.x, reason: `no live copy of object ${m.id}` });
      return;
    }
    const X = this.nextX++;
    // Bytes are hashed as they pass (issue 8: a bad holder's claim dropped, a node's trust lowered), but a driver's own
    // puts: it gave their hash itself and every reader checks that same hash (transfer/fetcher.ts), so here it would
    // only fail its own job's reads sooner, at ~1.7 ms of this loop per MiB (session 37). Artifacts it serves, which
    // other jobs read, are checked.
    const check = o.hash && !(from.role === 'driver' && isPutObject(m.id) && !isArtifactObject(m.id));
    const upTo = from.credit ? this.windows.window : null;
    this.transfers.set(X, { id: m.id, X, from, to, x: m.x, hash: check ? new TreeHasher() : null, next: 0, upTo, n: Infinity });
    from.send(upTo === null ? { t: 'serve', id: m.id, x: X } : { t: 'serve', id: m.id, x: X, w: upTo });
  }

  /** A chunk from a holder: forward it. */
  chunk(from: Session, m: MsgOf<'chunk'>): string | null {
    const t = this.transfers.get(m.x);
    if (!t) return null; // requester went away; drop
    if (t.from !== from) return `transfer ${m.x} is not yours`;
    if (t.upTo !== null && m.o >= t.upTo) {
      // Past its credit: the holder broke the window (the reader would wait for bytes this relay will not forward).
      const why = `a chunk at byte ${m.o} of transfer ${m.x}, past its credit (${t.upTo})`;
      this.stop(t, `transfer of ${t.id} failed: the holder sent ${why}`);
      return why;
    }
    if (t.hash && m.o !== t.next) t.hash = null; // out of order: the reader still checks
    t.next = m.o + m.d.byteLength;
    t.n = m.n;
    t.hash?.update(m.d);
    const last = m.o + m.d.byteLength >= m.n;
    if (last) {
      this.end(t);
      const want = this.dir.get(t.id)?.hash;
      if (t.hash && want && t.hash.digest() !== want) this.onBadHolder(from, t.id, `served object ${t.id.slice(0, 12)} with a wrong hash`);
    }
    this.gcs.stats.bytesRelayed += m.d.byteLength;
    t.to.send({ t: 'chunk', x: t.x, o: m.o, n: m.n, d: m.d });
    if (!last && t.upTo !== null) this.windows.forwarded(t as Transfer & { upTo: number });
    return null;
  }

  /** `t` is over here: it leaves the table and, under a window, the transfers waiting on their reader. */
  private end(t: Transfer): void {
    this.transfers.delete(t.X);
    if (t.upTo !== null) this.windows.forget(t as Transfer & { upTo: number });
  }

  /** Stops `t` on both sides: its reader is told why, its holder (under a window: it waits for credit) sends no more. */
  private stop(t: Transfer, why: string): void {
    this.end(t);
    t.to.send({ t: 'xferFail', x: t.x, reason: why.slice(0, 1024) });
    this.release(t);
  }

  /** Under a window, `t`'s holder may wait for credit that will not come: it is told to send nothing more. */
  private release(t: Transfer): void {
    if (t.upTo !== null) t.from.send({ t: 'more', x: t.X, upTo: t.upTo, stop: true });
  }

  /** A holder cannot serve: tell the requester, who asks again. */
  fail(from: Session, m: MsgOf<'xferFail'>): void {
    const t = this.transfers.get(m.x);
    if (!t || t.from !== from) return;
    this.end(t);
    // A holder that used its credit and gave up waiting for more failed because of the reader, not of itself.
    const starved = t.upTo !== null && t.next >= t.upTo;
    if (!starved && this.dir.get(t.id)?.locations.has(from))
      this.onBadHolder(from, t.id, `could not serve object ${t.id.slice(0, 12)}, which it claimed to hold (${m.reason.slice(0, 200)})`);
    t.to.send({ t: 'xferFail', x: t.x, reason: m.reason });
  }

  /** A session closed: transfers from it fail, transfers to it stop (and their holders are told). */
  dropSession(s: Session): void {
    for (const t of this.transfers.values()) {
      if (t.from === s) {
        t.to.send({ t: 'xferFail', x: t.x, reason: `holder of ${t.id} disconnected` });
        this.end(t);
      } else if (t.to === s) {
        this.end(t);
        this.release(t); // at once, not at its stall bound
      }
    }
  }

  /** The coordinator stops: the poll timer of waiting transfers goes. */
  close(): void {
    this.windows.stop();
  }
}
