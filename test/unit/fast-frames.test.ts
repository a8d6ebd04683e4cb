// The frame reader of fast links (issue 17, edge/fast-frames.ts) against a
// simulated socket: bytes arrive in reads of any size, where the reader said
// (onread) or as the socket's own buffers ('data'); chunks land in their place,
// other frames whole; a transfer that ends while the socket is about to read
// into its window has the read turned away from that memory.
import { describe, expect, it } from 'vitest';
import { FrameReader, MAX_FRAME, readStats, type FrameSink } from '../../edge/fast-frames.js';
import type { Placement } from '../../shared/transfer/placement.js';
import { CHUNK_HEADER_BYTES, readMessage, writeChunk, writeControl } from '../../shared/transfer/wire.js';
import { seeded as rng } from '../sim/net.js';

function frame(msg: Uint8Array): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(msg.byteLength, 0);
  return Buffer.concat([h, msg]);
}

/** A link's side: where chunks of transfer 1 go (one object), what else arrived. */
function sinkOf(size: number) {
  const obj = new Uint8Array(size);
  let live = true;
  const placements: Placement[] = [];
  const placed: { o: number; n: number }[] = [];
  const data: ReturnType<typeof readMessage>[] = [];
  const sink: FrameSink = {
    onData: (b) => data.push(readMessage(b)),
    placeChunk: (x, o, n, len) => {
      if (x !== 1 || !live) return undefined;
      const p: Placement = { dest: obj.subarray(o, o + len), live: () => live };
      placements.push(p);
      return p;
    },
    onChunkPlaced: (_x, o, n) => placed.push({ o, n: n }),
  };
  return { obj, sink, placements, placed, data, end: () => (live = false) };
}

function reader(sink: FrameSink) {
  const r = new FrameReader();
  const broken: string[] = [];
  r.deliver = (f) => (f(), true);
  r.broken = (why) => {
    broken.push(why);
    r.stopped = true;
  };
  r.sink = sink;
  return { r, broken };
}

/** Feeds `stream` to `r` as a dialled socket does: each read fills up to `max` bytes of the buffer nextBuffer gave. */
function feedOnread(r: FrameReader, stream: Buffer, pick: () => number, turned?: { buf: Uint8Array | null }) {
  let at = 0;
  let buf = r.nextBuffer();
  while (at < stream.length) {
    const target = turned?.buf ?? buf;
    if (turned) turned.buf = null;
    const n = Math.min(target.byteLength, stream.length - at, 1 + Math.floor(pick() * 300_000));
    target.set(stream.subarray(at, at + n), 0);
    at += n;
    r.onRead(n);
    buf = r.nextBuffer();
  }
}

const OBJ = 3 * 1024 * 1024 + 4321;

function sample(): { bytes: Uint8Array; stream: Buffer } {
  const bytes = new Uint8Array(OBJ);
  for (let i = 0; i < OBJ; i++) bytes[i] = (i * 2654435761) >>> 24;
  const parts: Buffer[] = [frame(writeControl({ k: 'cancel', x: 9 }))];
  for (let o = 0; o < OBJ; o += 1 << 20) {
    parts.push(frame(writeChunk(1, o, OBJ, bytes.subarray(o, Math.min(OBJ, o + (1 << 20))))));
    parts.push(frame(writeControl({ k: 'fail', x: 7, reason: 'x'.repeat(o % 97) })));
  }
  // A chunk of another transfer (nowhere to place it) arrives whole.
  parts.push(frame(writeChunk(2, 0, 10, new Uint8Array(10).fill(5))));
  return { bytes, stream: Buffer.concat(parts) };
}

describe('fast link frames', () => {
  for (const seed of [1, 2, 3]) {
    it(`reads of any size (seed ${seed}): chunks in place, other frames whole, in order`, () => {
      const { bytes, stream } = sample();
      for (const mode of ['onread', 'data'] as const) {
        const s = sinkOf(OBJ);
        const { r, broken } = reader(s.sink);
        const pick = rng(seed);
        if (mode === 'onread') feedOnread(r, stream, pick);
        else
          for (let at = 0; at < stream.length;) {
            const n = 1 + Math.floor(pick() * 100_000);
            r.push(stream.subarray(at, (at += n)));
          }
        expect(broken).toEqual([]);
        expect(Buffer.from(s.obj).equals(Buffer.from(bytes))).toBe(true);
        expect(s.placed.map((p) => p.o)).toEqual([0, 1 << 20, 2 << 20, 3 << 20]);
        expect(s.data.map((m) => m.control?.k ?? (m.chunk ? `chunk ${m.chunk.x}` : '?'))).toEqual(['cancel', 'fail', 'fail', 'fail', 'fail', 'chunk 2']);
      }
    });
  }

  it('a transfer ending while the socket is about to read into its window: that read goes to the scratch, the object is not written', () => {
    const { bytes, stream } = sample();
    const s = sinkOf(OBJ);
    const { r, broken } = reader(s.sink);
    const turned: { buf: Uint8Array | null } = { buf: null };
    r.retarget = (b) => void (turned.buf = b);
    // Read up to the middle of the first chunk, then the link ends the transfer (a bad leaf, a cancel).
    const first = frame(writeControl({ k: 'cancel', x: 9 })).length + 4 + CHUNK_HEADER_BYTES + 100_000;
    feedOnread(r, stream.subarray(0, first), () => 1);
    const window = r.nextBuffer();
    expect(window.buffer).toBe(s.obj.buffer); // aimed at the object
    s.end();
    s.placements[0].onEnd!();
    expect(turned.buf).not.toBeNull();
    expect(turned.buf!.buffer).not.toBe(s.obj.buffer);
    feedOnread(r, stream.subarray(first), rng(4), turned);
    expect(broken).toEqual([]);
    // Nothing after the first 100,000 bytes of the chunk was written to the object.
    expect(Buffer.from(s.obj.subarray(0, 100_000)).equals(Buffer.from(bytes.subarray(0, 100_000)))).toBe(true);
    expect(s.obj.subarray(100_000).every((b) => b === 0)).toBe(true);
    expect(s.placed).toEqual([]);
    expect(s.data.map((m) => m.control?.k ?? (m.chunk ? `chunk ${m.chunk.x} at ${m.chunk.o}` : '?'))).toEqual([
      'cancel',
      'fail',
      'chunk 1 at 1048576',
      'fail',
      'chunk 1 at 2097152',
      'fail',
      'chunk 1 at 3145728',
      'fail',
      'chunk 2 at 0',
    ]);
  });

  it('a small frame comes in one read while no chunk is awaited; while one is, a head is read alone and the chunk lands in place', () => {
    const s = sinkOf(64 * 1024);
    let awaiting = false;
    const { r, broken } = reader({ ...s.sink, awaitingChunks: () => awaiting });
    const turned: { buf: Uint8Array | null } = { buf: null };
    r.retarget = (b) => void (turned.buf = b);
    // A direct task or a result: ~50-200 bytes. Each read takes what the buffer allows (a socket holding the frames).
    const small = [frame(writeControl({ k: 'fail', x: 7, reason: 'x'.repeat(150) })), frame(writeControl({ k: 'cancel', x: 9 }))];
    let reads = 0;
    for (const f of small) {
      let at = 0;
      while (at < f.length) {
        const b = r.nextBuffer();
        const n = Math.min(b.byteLength, f.length - at);
        b.set(f.subarray(at, at + n), 0);
        at += n;
        reads++;
        r.onRead(n);
      }
    }
    expect(reads).toBe(2);
    expect(s.data.map((m) => m.control?.k)).toEqual(['fail', 'cancel']);
    // The link asks for an object while the socket waits in a wide read: that read becomes the head's.
    expect(r.nextBuffer().byteLength).toBeGreaterThan(4 + CHUNK_HEADER_BYTES);
    awaiting = true;
    r.expectChunks();
    expect(turned.buf?.byteLength).toBe(4 + CHUNK_HEADER_BYTES);
    const data = new Uint8Array(64 * 1024).map((_, i) => i % 251);
    const direct = readStats.direct;
    feedOnread(r, frame(writeChunk(1, 0, data.byteLength, data)), () => 1, turned);
    expect(broken).toEqual([]);
    expect(s.placed).toEqual([{ o: 0, n: data.byteLength }]);
    expect(Buffer.from(s.obj).equals(Buffer.from(data))).toBe(true);
    expect(readStats.direct - direct).toBe(data.byteLength);
  });

  it('a frame larger than any chunk breaks the link', () => {
    const s = sinkOf(10);
    const { r, broken } = reader(s.sink);
    const h = Buffer.alloc(8);
    h.writeUInt32LE(MAX_FRAME + 1, 0);
    r.push(h);
    expect(broken[0]).toMatch(/a frame of \d+ bytes/);
  });
});
