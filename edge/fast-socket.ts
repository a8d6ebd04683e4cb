// The framing of a fast link (issue 17): after the handshake both sides send
// frames of a 4-byte little-endian length and a link message
// (shared/transfer/wire.ts).
import type { Socket } from 'node:net';
import type { RawPeer } from '../shared/transfer/raw-peer.js';
import { LINK_CHUNK_BYTES } from '../shared/transfer/wire.js';

/** Largest frame a peer may send (a chunk plus headroom); more closes the link. */
const MAX_FRAME = LINK_CHUNK_BYTES + 4096;

/** A RawPeer over a connected, authenticated socket. */
export function attachSocket(
  raw: RawPeer & { bufferedNow: () => number },
  s: Socket,
  onGone: () => void,
): { send: (b: Uint8Array) => void; sendv: (parts: Uint8Array[]) => void; destroy: () => void } {
  s.setNoDelay(true);
  let bufs: Buffer[] = [];
  let have = 0;
  let closed = false;
  const gone = (why: string) => {
    if (closed) return;
    closed = true;
    onGone();
    s.destroy();
    raw.onClose(why);
  };
  s.on('data', (d: Buffer) => {
    bufs.push(d);
    have += d.length;
    while (have >= 4) {
      const head = bufs[0].length >= 4 ? bufs[0] : Buffer.concat(bufs);
      if (head !== bufs[0]) bufs = [head];
      const len = head.readUInt32LE(0);
      if (len > MAX_FRAME) return gone(`a frame of ${len} bytes from the peer`);
      if (have < 4 + len) return;
      let msg: Uint8Array;
      if (bufs[0].length >= 4 + len) {
        msg = bufs[0].subarray(4, 4 + len);
        const rest = bufs[0].subarray(4 + len);
        if (rest.length) bufs[0] = rest;
        else bufs.shift();
      } else {
        const all = Buffer.concat(bufs);
        msg = all.subarray(4, 4 + len);
        const rest = all.subarray(4 + len);
        bufs = rest.length ? [rest] : [];
      }
      have -= 4 + len;
      try {
        raw.onData(msg);
      } catch (e) {
        return gone(`error: ${(e as Error).message}`);
      }
      if (closed) return;
    }
  });
  s.on('drain', () => raw.onDrain());
  s.resume();
  s.on('close', () => gone('closed by the other side'));
  s.on('error', (e) => gone(`error: ${e.message}`));
  const lenOf = (n: number) => {
    const h = Buffer.allocUnsafe(4);
    h.writeUInt32LE(n, 0);
    return h;
  };
  return {
    send: (b) => {
      s.write(lenOf(b.byteLength));
      s.write(b);
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
      onGone();
      s.destroy();
    },
  };
}
