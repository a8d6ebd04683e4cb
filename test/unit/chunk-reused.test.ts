// Issue 17, session 12: a tab's chunk messages are written into one reused
// buffer when its channel's send copies them before returning (Blink's
// WebSocket and data channel): the same bytes as a fresh message, the data
// aligned as in the object (a copy out of shared memory is word by word only then).
import { describe, expect, it } from 'vitest';
import { allocBytes } from '../../shared/bytes.js';
import { CHUNK_HEADER_BYTES, readMessage, writeChunk, writeChunkReused } from '../../shared/transfer/wire.js';

describe('chunk messages in a reused buffer', () => {
  it('say what a fresh message says, for shared and plain data at any offset; the buffer is the same each time', () => {
    const shared = allocBytes(3 << 20, true);
    for (let i = 0; i < shared.length; i++) shared[i] = (i * 13 + (i >> 9)) & 255;
    const plain = shared.slice();
    const buffers = new Set<ArrayBufferLike>();
    for (const src of [shared, plain]) {
      for (const [at, len] of [
        [0, 65_536],
        [65_536 * 3, 65_536],
        [7, 1000],
        [21, 1 << 20],
        [(3 << 20) - 5, 5],
      ]) {
        const d = src.subarray(at, at + len);
        const msg = writeChunkReused(4, at, src.length, d);
        // Byte for byte without the matchers' element walk (a 1 MiB message took it 10-80 s under load).
        expect(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength).equals(writeChunk(4, at, src.length, d))).toBe(true);
        expect((msg.byteOffset + CHUNK_HEADER_BYTES) % 8).toBe(d.byteOffset % 8);
        expect(readMessage(msg).chunk).toMatchObject({ x: 4, o: at, n: src.length });
        buffers.add(msg.buffer);
      }
    }
    // Grown once for the 1 MiB chunk, else one buffer.
    expect(buffers.size).toBeLessThanOrEqual(2);
  });
});
