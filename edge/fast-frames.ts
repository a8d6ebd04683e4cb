// Reading a fast link's frames (issue 17): frames of a 4-byte little-endian
// length and a link message (shared/transfer/wire.ts). A chunk's data goes
// straight to where the link wants it (the object's buffer) as it arrives: no
// frame is assembled first.
import { copyInto } from '../shared/shared-memory.js';
import type { RawPeer } from '../shared/transfer/raw-peer.js';
import { CHUNK_HEADER_BYTES, CHUNK_KIND, MAX_LINK_CHUNK_BYTES, readChunkHeader } from '../shared/transfer/wire.js';

/** Bytes received and not yet consumed, as the socket gave them (no joining). */
export class Incoming {
  private bufs: Buffer[] = [];
  private off = 0;
  have = 0;

  push(d: Buffer): void {
    this.bufs.push(d);
    this.have += d.length;
  }

  /** Consumes `n` bytes (n <= have), copying them to `dst` at `at` unless dst is null. */
  read(dst: Uint8Array | null, at: number, n: number): void {
    while (n > 0) {
      const b = this.bufs[0];
      const k = Math.min(n, b.length - this.off);
      if (dst) copyInto(dst, at, this.off === 0 && k === b.length ? b : b.subarray(this.off, this.off + k));
      at += k;
      n -= k;
      this.have -= k;
      this.off += k;
      if (this.off === b.length) {
        this.bufs.shift();
        this.off = 0;
      }
    }
  }

  /** The next `n` bytes (n <= have), consumed: a view when they lie in one buffer, else a copy. */
  take(n: number): Uint8Array {
    const b = this.bufs[0];
    if (b.length - this.off >= n) {
      const v = b.subarray(this.off, this.off + n);
      this.read(null, 0, n);
      return v;
    }
    const out = Buffer.allocUnsafe(n);
    this.read(out, 0, n);
    return out;
  }

  /** A copy of the next `n` bytes (n <= have), not consumed. */
  peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    for (let i = 0, off = this.off; at < n; i++, off = 0) {
      const b = this.bufs[i];
      const k = Math.min(n - at, b.length - off);
      out.set(b.subarray(off, off + k), at);
      at += k;
    }
    return out;
  }
}

/** Largest frame a peer may send (the largest chunk plus headroom); more closes the link. */
export const MAX_FRAME = MAX_LINK_CHUNK_BYTES + 4096;
/** Bytes the reader needs to see whether a frame is a chunk and where it goes. */
const HEAD_BYTES = 4 + CHUNK_HEADER_BYTES;
/** Scratch for headers and for the bytes of a chunk whose transfer ended (skipped). */
const SCRATCH_BYTES = 64 * 1024;
/**
 * A read while no chunk of the link's own transfers is on its way takes up to
 * this much (issue 14): a small frame (a direct task, a result) in one read,
 * not its head and then the rest (two syscalls and a third that finds nothing).
 */
const WIDE_READ = 16 * 1024;

/** Bytes this process's fast links read: straight to where they go (onread: a chunk's place, a frame's own buffer), and through socket buffers or the scratch (copied on). */
export const readStats = { direct: 0, copied: 0 };

/** What a frame reader hands frames to: the link (its RawPeer). */
export type FrameSink = Pick<RawPeer, 'onData' | 'placeChunk' | 'onChunkPlaced' | 'awaitingChunks'>;

/** A frame whose bytes are being written to their place: a chunk's place in its object, or a whole frame's own buffer. */
interface Filling {
  dest: Uint8Array;
  at: number;
  live: () => boolean;
  /** All of dest arrived: hand it on. */
  done: () => void;
}

/**
 * The frames of one socket. Sockets this process accepted feed it their
 * buffers ('data' events: `push`). Sockets it dialled read through `onread`
 * (`nextBuffer`, `onRead`): a chunk's data straight into its place in the
 * object (no socket buffer, no copy), headers and small frames into a small
 * scratch buffer. A transfer that ends while the socket waits to write into
 * its window has the socket turned to the scratch (`Placement.onEnd`): its
 * memory may be another writer's by then (a swarm run taken over, a resume
 * from another holder).
 */
export class FrameReader {
  private readonly inc = new Incoming();
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  private filling: Filling | null = null;
  /** The window of `filling` the socket reads into now (onread), else null: it reads into the scratch. */
  private target: Filling | null = null;
  /** The socket reads up to WIDE_READ into the scratch now (onread): no chunk was awaited when nextBuffer ran. */
  private wide = false;
  /** Set once the link takes the frames; until then (the handshake) `greet` gets the first byte and reading pauses. */
  sink: FrameSink | null = null;
  greet: ((b: number) => void) | null = null;
  stopped = false;
  /** Turns the socket's read buffer to `b` now (onread sockets; where it cannot, it closes the link: not the peer's fault). */
  retarget: (b: Uint8Array) => void = () => {};

  /** Runs f, a call into the link; false when the link is gone (f threw, or closed it). */
  deliver: (f: () => void) => boolean = () => false;
  /** The peer broke the framing. */
  broken: (why: string) => void = () => {};

  push(d: Buffer): void {
    readStats.copied += d.length;
    this.inc.push(d);
    this.pump();
  }

  /** onread: where the next read goes. */
  nextBuffer = (): Uint8Array => {
    this.target = null;
    this.wide = false;
    const f = this.filling;
    if (!this.greet && f && this.inc.have === 0 && !this.stopped) {
      if (f.live()) {
        this.target = f;
        return f.dest.subarray(f.at);
      }
      return this.scratch.subarray(0, Math.min(SCRATCH_BYTES, f.dest.byteLength - f.at));
    }
    if (this.greet) return this.scratch.subarray(0, 1);
    // A chunk's data goes to its place only if its head is read alone: wide reads while none is awaited.
    if (!this.sink?.awaitingChunks?.()) {
      this.wide = true;
      return this.scratch.subarray(0, WIDE_READ);
    }
    return this.scratch.subarray(0, Math.max(1, HEAD_BYTES - this.inc.have));
  };

  /** The link is about to ask for chunks: a wide read the socket waits in becomes a read of the head (onread sockets). */
  expectChunks(): void {
    if (!this.wide || this.stopped) return;
    this.wide = false;
    this.retarget(this.scratch.subarray(0, Math.max(1, HEAD_BYTES - this.inc.have)));
  }

  /** The link took the socket: frames read with the dial's answer go to it now. */
  attached(): void {
    if (this.inc.have > 0) this.pump();
  }

  /** onread: `n` bytes arrived where nextBuffer said; false pauses reading. */
  onRead = (n: number): boolean => {
    if (this.stopped) return false;
    if (this.greet) {
      const g = this.greet;
      this.greet = null;
      // A wide read (its buffer was asked for before the dial set `greet`) may hold the peer's first frames after its
      // answer: kept for the link (attached()), where they were dropped (a driver's direct task lost, session 28).
      if (n > 1) this.inc.push(Buffer.from(this.scratch.subarray(1, n)));
      g(this.scratch[0]);
      return false; // paused until the link takes the socket
    }
    // Until nextBuffer runs again (right after this) the socket reads nowhere: nothing to turn away.
    this.target = null;
    this.wide = false;
    const f = this.filling;
    if (f && this.inc.have === 0) {
      // Into the window, or skipped through the scratch (its transfer ended).
      readStats.direct += n;
      f.at += n;
      if (f.at === f.dest.byteLength) {
        this.filling = null;
        f.done();
      }
    } else {
      readStats.copied += n;
      this.inc.push(Buffer.from(this.scratch.subarray(0, n))); // a copy: the scratch is read into again
    }
    this.pump();
    return !this.stopped;
  };

  private pump(): void {
    const sink = this.sink;
    while (!this.stopped && sink) {
      const f = this.filling;
      if (f) {
        const k = Math.min(f.dest.byteLength - f.at, this.inc.have);
        // A transfer that ended meanwhile (failed, cancelled) gets no more bytes: the rest is skipped.
        this.inc.read(f.live() ? f.dest : null, f.at, k);
        f.at += k;
        if (f.at < f.dest.byteLength) return;
        this.filling = null;
        f.done();
        continue;
      }
      if (this.inc.have < 4) return;
      const head = this.inc.peek(Math.min(this.inc.have, HEAD_BYTES));
      const len = head.readUInt32LE(0);
      if (len > MAX_FRAME) return this.broken(`a frame of ${len} bytes from the peer (at most ${MAX_FRAME})`);
      if (sink.placeChunk && sink.onChunkPlaced && len > CHUNK_HEADER_BYTES && head.length > 4 && head[4] === CHUNK_KIND) {
        if (head.length < HEAD_BYTES) return; // the rest of its header
        let h: ReturnType<typeof readChunkHeader> = null;
        try {
          h = readChunkHeader(head.subarray(4));
        } catch (e) {
          return this.broken(`bad chunk from the peer: ${(e as Error).message}`);
        }
        const { x, o, n } = h!;
        const p = sink.placeChunk(x, o, n, len - CHUNK_HEADER_BYTES);
        if (p) {
          this.inc.read(null, 0, HEAD_BYTES);
          const placed = sink.onChunkPlaced;
          const fill: Filling = {
            dest: p.dest,
            at: 0,
            live: p.live,
            done: () => {
              p.onEnd = undefined;
              if (p.live()) this.deliver(() => placed(x, o, n, p.dest));
            },
          };
          p.onEnd = () => this.ended(fill);
          this.filling = fill;
          continue;
        }
      }
      if (this.inc.have >= 4 + len) {
        this.inc.read(null, 0, 4);
        const msg = this.inc.take(len);
        if (!this.deliver(() => sink.onData(msg))) return;
        continue;
      }
      // A whole frame still coming: into its own buffer as it arrives.
      this.inc.read(null, 0, 4);
      const dest = Buffer.allocUnsafe(len);
      this.filling = { dest, at: 0, live: () => true, done: () => void this.deliver(() => sink.onData(dest)) };
    }
  }

  /** The transfer of `f` ended: if the socket is about to read into its window, it reads into the scratch instead. */
  private ended(f: Filling): void {
    if (this.target !== f) return;
    this.target = null;
    this.retarget(this.scratch.subarray(0, Math.min(SCRATCH_BYTES, f.dest.byteLength - f.at)));
  }
}
