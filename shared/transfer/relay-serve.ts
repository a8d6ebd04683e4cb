// A holder's side of the coordinator's relay (ARCHITECTURE.md "Objects":
// where no peer link comes up): the coordinator asks for an object on
// transfer `x` and the holder streams it in relay chunks. Issue 17: an
// object spilled to disk or IndexedDB streams from its tier a window at a
// time (one being sent, one read ahead), as the peer-link path does
// (source.ts), so serving through the relay never loads it whole. A
// transfer the coordinator opened with a window waits for its credit too
// (relay-credit.ts).
import { expose } from '../bytes.js';
import { RELAY_CHUNK_BYTES, type Msg } from '../protocol/messages.js';
import type { CreditWait } from './relay-credit.js';
import { STREAM_WINDOW, type ObjectSource } from './source.js';

/** What serving through the relay needs of the coordinator connection. */
export interface RelayOut {
  send(m: Msg): void;
  /** Bytes queued on the socket: past `highWater`, the sender waits. */
  bufferedAmount(): number;
  readonly highWater: number;
  /** The connection is gone: stop. */
  closed(): boolean;
  /** Object bytes sent (stats). */
  sent(n: number): void;
  /** Whether the chunk of transfer `x` starting at byte `at` may go (ServeCredits.wait). */
  credit(x: number, at: number): Promise<CreditWait>;
  /** How long `credit` waits before it answers 'stalled' (for the failure's reason). */
  readonly creditStallMs: number;
}

/** How often a sender waiting on the socket looks again. */
const WAIT_MS = 2;

/** Streams object `src` on relay transfer `x` (a failure when it is not held, or cannot be read). */
export async function serveOverRelay(out: RelayOut, x: number, src: Uint8Array | ObjectSource | undefined): Promise<void> {
  if (!src) return out.send({ t: 'xferFail', x, reason: 'object not held here' });
  const bytes = src instanceof Uint8Array ? src : src.bytes;
  const n = bytes ? bytes.byteLength : (src as ObjectSource).size;
  if (n === 0) return out.send({ t: 'chunk', x, o: 0, n: 0, d: new Uint8Array(0) });
  if (bytes) {
    expose(bytes); // sent from in place, over time
    await sendWindow(out, x, bytes, 0, n);
    return;
  }
  const s = src as ObjectSource;
  const read = (at: number): Promise<Uint8Array> => {
    const len = Math.min(STREAM_WINDOW, n - at);
    const p = s.read(at, len).then((b) => {
      if (b.byteLength !== len) throw new Error(`read ${b.byteLength} bytes at ${at}, wanted ${len}`);
      return b;
    });
    p.catch(() => {}); // a read ahead that fails after the send stopped is nobody's error
    return p;
  };
  let next = read(0);
  for (let at = 0; at < n; at += STREAM_WINDOW) {
    let win: Uint8Array;
    try {
      win = await next;
    } catch (e) {
      if (!out.closed()) out.send({ t: 'xferFail', x, reason: `cannot read it: ${(e as Error).message}` });
      return;
    }
    if (at + STREAM_WINDOW < n) next = read(at + STREAM_WINDOW);
    if (!(await sendWindow(out, x, win, at, n))) return;
  }
}

/** Sends `win` (the object's bytes from `at`) in relay chunks; false when the connection went or the transfer stopped. */
async function sendWindow(out: RelayOut, x: number, win: Uint8Array, at: number, n: number): Promise<boolean> {
  for (let o = 0; o < win.byteLength; o += RELAY_CHUNK_BYTES) {
    const c = await out.credit(x, at + o);
    if (c !== 'go') {
      if (c === 'stalled' && !out.closed())
        out.send({ t: 'xferFail', x, reason: `no credit from the coordinator for ${out.creditStallMs / 1000} s (its reader does not read)` });
      return false;
    }
    while (out.bufferedAmount() > out.highWater) {
      if (out.closed()) return false;
      await new Promise((r) => setTimeout(r, WAIT_MS));
    }
    if (out.closed()) return false;
    const d = win.subarray(o, Math.min(win.byteLength, o + RELAY_CHUNK_BYTES));
    out.sent(d.byteLength);
    out.send({ t: 'chunk', x, o: at + o, n, d });
  }
  return true;
}
