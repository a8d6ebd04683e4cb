// A fast link's socket (issue 17): after the handshake both sides send frames
// of a 4-byte little-endian length and a link message (shared/transfer/wire.ts),
// read by a FrameReader (edge/fast-frames.ts): straight into the object's
// buffer on a socket this process dialled, from the socket's buffers on one it
// accepted.
import type { Socket } from 'node:net';
import { CLOSED_BY_PEER, type RawPeer } from '../shared/transfer/raw-peer.js';
import { FrameReader } from './fast-frames.js';

/** Messages up to this size are copied behind their length and sent in one write (a task, a result, a control message). */
const ONE_WRITE_MAX = 16 * 1024;

/** The part of a socket's native handle a reader turns to another buffer (Node's own `onread` uses it). */
interface UserBufferHandle {
  useUserBuffer?: (b: Uint8Array) => void;
}

/** A RawPeer over a connected, authenticated socket; `dialled`: the reader the socket was dialled with (onread). */
export function attachSocket(
  raw: RawPeer & { bufferedNow: () => number },
  s: Socket,
  onGone: () => void,
  dialled?: FrameReader,
): { send: (b: Uint8Array) => void; sendv: (parts: Uint8Array[]) => void; destroy: () => void } {
  s.setNoDelay(true);
  let closed = false;
  const gone = (why: string, peerFault = false) => {
    if (closed) return;
    closed = true;
    reader.stopped = true;
    onGone();
    s.destroy();
    raw.onClose(why, peerFault);
  };
  const deliver = (f: () => void): boolean => {
    try {
      f();
    } catch (e) {
      gone(`error: ${(e as Error).message}`);
    }
    return !closed;
  };
  const reader = dialled ?? new FrameReader();
  reader.deliver = deliver;
  reader.broken = (why) => gone(why, true);
  if (dialled) {
    dialled.retarget = (b) => {
      const h = (s as unknown as { _handle?: UserBufferHandle | null })._handle;
      if (!h) return; // closed: nothing more is read
      if (typeof h.useUserBuffer === 'function') h.useUserBuffer(b);
      else gone('this Node cannot turn a socket read away from a transfer that ended');
    };
  } else s.on('data', (d: Buffer) => reader.push(d));
  reader.greet = null;
  reader.sink = raw;
  raw.expectChunks = () => reader.expectChunks();
  s.on('drain', () => raw.onDrain());
  s.resume();
  // After the caller made the link's socket this one and said it connected (fast-link.ts useSocket).
  if (dialled) queueMicrotask(() => !closed && dialled.attached());
  s.on('close', () => gone(CLOSED_BY_PEER));
  s.on('error', (e) => gone(`error: ${e.message}`));
  const lenOf = (n: number) => {
    const h = Buffer.allocUnsafe(4);
    h.writeUInt32LE(n, 0);
    return h;
  };
  return {
    // One write a frame (issue 14): its length and its message as two writes were two syscalls and, with
    // TCP_NODELAY, two segments; the reader could wake for the 4 bytes alone. A small message is copied
    // behind its length; a larger one goes as one writev.
    send: (b) => {
      const n = b.byteLength;
      if (n <= ONE_WRITE_MAX) {
        const f = Buffer.allocUnsafe(4 + n);
        f.writeUInt32LE(n, 0);
        f.set(b, 4);
        s.write(f);
        return;
      }
      s.cork();
      s.write(lenOf(n));
      s.write(b);
      s.uncork();
    },
    sendv: (parts) => {
      let n = 0;
      for (const p of parts) n += p.byteLength;
      s.cork();
      s.write(lenOf(n));
      for (const p of parts) s.write(p);
      s.uncork();
    },
    destroy: () => {
      if (closed) return;
      closed = true;
      reader.stopped = true;
      onGone();
      s.destroy();
    },
  };
}
