// The framing of a fast link (issue 17): after the handshake both sides send
// frames of a 4-byte little-endian length and a link message
// (shared/transfer/wire.ts). A chunk's data is copied from the socket's
// buffers straight to where the link wants it (the object's buffer), as it
// arrives: no frame is assembled first.
import type { Socket } from 'node:net';
import type { Placement, RawPeer } from '../shared/transfer/raw-peer.js';
import { Incoming } from './fast-frames.js';
import { CHUNK_HEADER_BYTES, CHUNK_KIND, MAX_LINK_CHUNK_BYTES, readChunkHeader } from '../shared/transfer/wire.js';

/** Largest frame a peer may send (the largest chunk plus headroom); more closes the link. */
const MAX_FRAME = MAX_LINK_CHUNK_BYTES + 4096;

/** A RawPeer over a connected, authenticated socket. */
export function attachSocket(
  raw: RawPeer & { bufferedNow: () => number },
  s: Socket,
  onGone: () => void,
): { send: (b: Uint8Array) => void; sendv: (parts: Uint8Array[]) => void; destroy: () => void } {
  s.setNoDelay(true);
  const inc = new Incoming();
  let closed = false;
  /** The chunk whose data is being copied to its place. */
  let placing: { p: Placement; at: number; x: number; o: number; n: number } | null = null;
  /** The frame at the head was offered to placeChunk and refused: it arrives whole. */
  let whole = false;
  const gone = (why: string, peerFault = false) => {
    if (closed) return;
    closed = true;
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
  s.on('data', (d: Buffer) => {
    inc.push(d);
    while (!closed) {
      if (placing) {
        const { p } = placing;
        const k = Math.min(p.dest.byteLength - placing.at, inc.have);
        // A transfer that ended meanwhile (failed, cancelled) gets no more bytes: the rest is skipped.
        inc.read(p.live() ? p.dest : null, placing.at, k);
        placing.at += k;
        if (placing.at < p.dest.byteLength) return;
        const { x, o, n } = placing;
        placing = null;
        if (p.live() && !deliver(() => raw.onChunkPlaced!(x, o, n, p.dest))) return;
        continue;
      }
      if (inc.have < 4) return;
      const head = inc.peek(Math.min(inc.have, 4 + CHUNK_HEADER_BYTES));
      const len = head.readUInt32LE(0);
      if (len > MAX_FRAME) return gone(`a frame of ${len} bytes from the peer (at most ${MAX_FRAME})`, true);
      if (!whole && raw.placeChunk && raw.onChunkPlaced && len > CHUNK_HEADER_BYTES && head.length > 4 && head[4] === CHUNK_KIND) {
        if (head.length < 4 + CHUNK_HEADER_BYTES) return; // the rest of its header
        let h: ReturnType<typeof readChunkHeader> = null;
        try {
          h = readChunkHeader(head.subarray(4));
        } catch (e) {
          return gone(`bad chunk from the peer: ${(e as Error).message}`, true);
        }
        const { x, o, n } = h!;
        const p = raw.placeChunk(x, o, n, len - CHUNK_HEADER_BYTES);
        if (p) {
          inc.read(null, 0, 4 + CHUNK_HEADER_BYTES);
          placing = { p, at: 0, x, o, n };
          continue;
        }
        whole = true;
      }
      if (inc.have < 4 + len) return;
      inc.read(null, 0, 4);
      const msg = inc.take(len);
      whole = false;
      if (!deliver(() => raw.onData(msg))) return;
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
