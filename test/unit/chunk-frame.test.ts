// Chunk frames (shared/protocol/chunk-frame.ts): a relay chunk as a header and its bytes, sent as two WebSocket
// fragments where `ws` can and read without joining them; refused with a clear error when truncated, oversized or
// inconsistent. Real `ws` sockets on loopback for the fragments.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { CHUNK_HEAD_BYTES, chunkFrame, chunkHead, decodeChunkFrame, framePartsIn, isChunkParts, type FrameIn } from '../../shared/protocol/chunk-frame.js';
import { decodeFrame, encodeFrame, Outbox } from '../../shared/protocol/frame.js';
import { MAX_VALUE_BYTES, type Msg, type MsgOf } from '../../shared/protocol/messages.js';
import { frameCount } from '../../coordinator/message-slices.js';
import { NodeWebSocket } from '../../edge/ws.js';
import { ProtocolError } from '../../shared/errors.js';

const chunk = (x: number, o: number, n: number, d: Uint8Array): MsgOf<'chunk'> => ({ t: 'chunk', x, o, n, d });
const bytes = (len: number, k = 7) => Uint8Array.from({ length: len }, (_, i) => (i * 31 + k) & 0xff);

/** The ProtocolError decoding `data` throws (its code and message). */
function refusal(data: FrameIn): ProtocolError {
  try {
    decodeFrame(data);
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error('the frame was taken');
}

describe('chunk frames', () => {
  it('round-trip as two parts: the chunk is the second part itself, not a copy', () => {
    const d = bytes(256 * 1024);
    const m = chunk(42, 3 * 256 * 1024, 10 << 20, d);
    const parts = framePartsIn([chunkHead(m), d]);
    expect(isChunkParts(parts)).toBe(true);
    expect(parts.byteLength).toBe(CHUNK_HEAD_BYTES + d.byteLength);
    const [got] = decodeFrame(parts) as MsgOf<'chunk'>[];
    expect(got).toEqual(m);
    expect(got.d).toBe(d);
  });

  it('round-trip as one buffer (a browser socket): the chunk is a view of the frame', () => {
    const m = chunk(2 ** 32 - 1, 0, 5, bytes(5));
    const frame = chunkFrame(m);
    const [got] = decodeFrame(frame) as MsgOf<'chunk'>[];
    expect(got).toEqual(m);
    expect(got.d.buffer).toBe(frame.buffer);
    // An empty object's one chunk.
    expect(decodeFrame(chunkFrame(chunk(1, 0, 0, new Uint8Array(0))))).toEqual([chunk(1, 0, 0, new Uint8Array(0))]);
  });

  it('counts as one message for the rate limits before it is decoded', () => {
    const m = chunk(1, 0, 3, bytes(3));
    expect(frameCount(chunkFrame(m))).toBe(1);
    expect(frameCount(framePartsIn([chunkHead(m), m.d]))).toBe(1);
  });

  it('joins fragments that are not a chunk frame, as ws would', () => {
    const frame = encodeFrame([{ t: 'sync', x: 3 } as Msg]);
    expect([...(framePartsIn([frame.subarray(0, 1), frame.subarray(1)]) as Uint8Array)]).toEqual([...frame]);
    const m = chunk(1, 0, 9, bytes(9));
    // Three parts, or a first part longer than a header: joined, then read as one buffer.
    const joined = framePartsIn([chunkHead(m), m.d.subarray(0, 4), m.d.subarray(4)]);
    expect(isChunkParts(joined)).toBe(false);
    expect(decodeFrame(joined)).toEqual([m]);
  });

  it('refuses a truncated header, a wrong version, reserved bytes, bad offsets and sizes, by name', () => {
    const good = chunkFrame(chunk(1, 0, 8, bytes(8)));
    expect(refusal(good.subarray(0, CHUNK_HEAD_BYTES - 1)).message).toMatch(/shorter than its 24-byte header/);
    expect(refusal(good.subarray(0, 1)).code).toBe('BAD_FRAME');
    const patched = (at: number, v: number, f64 = false) => {
      const c = good.slice();
      if (f64) new DataView(c.buffer).setFloat64(at, v, true);
      else c[at] = v;
      return c;
    };
    expect(refusal(patched(1, 2)).message).toMatch(/version 2 is not 1/);
    expect(refusal(patched(3, 1)).message).toMatch(/reserved/);
    expect(refusal(patched(8, 0.5, true)).message).toMatch(/offset 0.5/);
    expect(refusal(patched(8, -1, true)).message).toMatch(/offset -1/);
    expect(refusal(patched(16, 2 ** 43, true)).message).toMatch(/object size/);
    expect(refusal(patched(16, NaN, true)).message).toMatch(/object size NaN/);
    // The bytes run past the object's size.
    expect(refusal(patched(16, 7, true)).message).toMatch(/runs past the object's 7 bytes/);
    expect(() => decodeChunkFrame(patched(0, 0x90))).toThrow(/mark/);
  });

  it('refuses a chunk over the value limit, and a frame over the reader bound', () => {
    const big = new Uint8Array(MAX_VALUE_BYTES + 1);
    const m = chunk(1, 0, 2 ** 30, big);
    expect(refusal(framePartsIn([chunkHead(m), big])).message).toMatch(`of ${MAX_VALUE_BYTES + 1} bytes is over the limit of ${MAX_VALUE_BYTES}`);
    const ok = chunk(1, 0, 1 << 20, new Uint8Array(1 << 20));
    expect(() => decodeFrame(framePartsIn([chunkHead(ok), ok.d]), 1 << 19)).toThrow(/FRAME_TOO_LARGE|over the limit of 524288/);
  });

  it('an outbox sends what was queued before a chunk first, then the chunk as its own frame', () => {
    const sent: (Msg[] | MsgOf<'chunk'>)[] = [];
    const out = new Outbox((f) => sent.push(decodeFrame(f)));
    out.chunkOut = { chunk: (head, body) => void sent.push(decodeChunkFrame(framePartsIn([head, body]))) };
    const d = bytes(1000);
    out.push({ t: 'sync', x: 1 } as Msg);
    out.push(chunk(5, 0, 1000, d));
    out.push({ t: 'sync', x: 2 } as Msg);
    out.flush();
    expect(sent).toEqual([[{ t: 'sync', x: 1 }], chunk(5, 0, 1000, d), [{ t: 'sync', x: 2 }]]);
    // A transfer number past 32 bits (never made in practice) still travels, as a message.
    sent.length = 0;
    out.push(chunk(2 ** 33, 0, 1000, d));
    out.flush();
    const [[big]] = sent as MsgOf<'chunk'>[][];
    expect([big.x, big.o, big.n, [...big.d]]).toEqual([2 ** 33, 0, 1000, [...d]]);
  });
});

describe('chunk frames over ws', () => {
  let server: WebSocketServer | null = null;
  afterEach(() => {
    server?.close();
    server = null;
  });

  /** What a server on loopback reading as `binaryType` got of one chunk frame a NodeWebSocket sent with sendParts. */
  async function sendOne(binaryType: 'fragments' | 'nodebuffer', m: MsgOf<'chunk'>): Promise<RawData> {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const got = new Promise<RawData>((resolve) =>
      server!.on('connection', (ws) => {
        ws.binaryType = binaryType;
        ws.on('message', (data: RawData) => resolve(data));
      }),
    );
    const c = new NodeWebSocket(`ws://127.0.0.1:${port}/ws`);
    await once(c, 'open');
    c.sendParts(chunkHead(m), m.d);
    const data = await got;
    c.close();
    return data;
  }

  it('leave as two fragments of one message, read apart by a reader of fragments', async () => {
    const m = chunk(9, 1 << 18, 1 << 20, bytes(1 << 18));
    const data = await sendOne('fragments', m);
    expect(Array.isArray(data) && data.length).toBe(2);
    const parts = framePartsIn(data as Buffer[]);
    expect(isChunkParts(parts)).toBe(true);
    expect(decodeFrame(parts)).toEqual([{ ...m, d: Buffer.from(m.d) }]);
  });

  it('arrive joined where the reader joins fragments (a browser), and decode the same', async () => {
    const m = chunk(9, 0, 3000, bytes(3000));
    const data = await sendOne('nodebuffer', m);
    expect(Buffer.isBuffer(data)).toBe(true);
    const [got] = decodeFrame(data as Buffer) as MsgOf<'chunk'>[];
    expect([got.x, got.o, got.n, [...got.d]]).toEqual([9, 0, 3000, [...m.d]]);
  });
});
