// Reading a fast link's frames (issue 17): the bytes a socket gave and the
// link has not consumed yet.
import { copyInto } from '../shared/bytes.js';

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
