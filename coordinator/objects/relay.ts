// The coordinator's relay: when a node (or driver) needs the bytes of an
// object held elsewhere and no peer link exists, the holder streams chunks
// to the coordinator, which forwards them. Counted in stats.bytesRelayed.
import { TreeHasher } from '../../shared/hash.js';
import { isArtifactObject, isPutObject, type ObjectId } from '../../shared/ids.js';
import { RELAY_CHUNK_BYTES, type MsgOf } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { ObjectDirectory } from './directory.js';
import type { Session } from '../session.js';

interface Transfer {
  id: ObjectId;
  from: Session;
  to: Session;
  /** The requester's transfer number. */
  x: number;
  /** The bytes so far, hashed as they pass (issue 8: a holder serving wrong bytes is caught here too). */
  hash: TreeHasher | null;
  next: number;
}

export class Relay {
  private readonly transfers = new Map<number, Transfer>();
  private nextX = 1;
  /** A holder could not serve an object it is listed for, or served wrong bytes (node honesty, issue 8). */
  onBadHolder: (holder: Session, id: ObjectId, why: string) => void = () => {};

  constructor(
    private readonly gcs: Gcs,
    private readonly dir: ObjectDirectory,
  ) {}

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
    this.transfers.set(X, { id: m.id, from, to, x: m.x, hash: check ? new TreeHasher() : null, next: 0 });
    from.send({ t: 'serve', id: m.id, x: X });
  }

  /** A chunk from a holder: forward it. */
  chunk(from: Session, m: MsgOf<'chunk'>): string | null {
    const t = this.transfers.get(m.x);
    if (!t) return null; // requester went away; drop
    if (t.from !== from) return `transfer ${m.x} is not yours`;
    if (t.hash && m.o !== t.next) t.hash = null; // out of order: the reader still checks
    t.next = m.o + m.d.byteLength;
    t.hash?.update(m.d);
    if (m.o + m.d.byteLength >= m.n) {
      this.transfers.delete(m.x);
      const want = this.dir.get(t.id)?.hash;
      if (t.hash && want && t.hash.digest() !== want) this.onBadHolder(from, t.id, `served object ${t.id.slice(0, 12)} with a wrong hash`);
    }
    this.gcs.stats.bytesRelayed += m.d.byteLength;
    t.to.send({ t: 'chunk', x: t.x, o: m.o, n: m.n, d: m.d });
    return null;
  }

  /** A holder cannot serve: tell the requester, who asks again. */
  fail(from: Session, m: MsgOf<'xferFail'>): void {
    const t = this.transfers.get(m.x);
    if (!t || t.from !== from) return;
    this.transfers.delete(m.x);
    if (this.dir.get(t.id)?.locations.has(from))
      this.onBadHolder(from, t.id, `could not serve object ${t.id.slice(0, 12)}, which it claimed to hold (${m.reason.slice(0, 200)})`);
    t.to.send({ t: 'xferFail', x: t.x, reason: m.reason });
  }

  /** A session closed: transfers from it fail, transfers to it stop. */
  dropSession(s: Session): void {
    for (const [X, t] of this.transfers) {
      if (t.from === s) {
        t.to.send({ t: 'xferFail', x: t.x, reason: `holder of ${t.id} disconnected` });
        this.transfers.delete(X);
      } else if (t.to === s) this.transfers.delete(X);
    }
  }
}
