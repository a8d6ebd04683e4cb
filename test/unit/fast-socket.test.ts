// A fast link's socket writes (edge/fast-socket.ts, issue 14): a frame is its
// 4-byte length and its message, and it leaves in one write. Two writes were
// two syscalls and, with TCP_NODELAY, two segments on the path of every direct
// task and result shortcut. Real sockets on loopback; the sender's writes are
// counted where the stream hands them to the kernel.
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { attachSocket } from '../../edge/fast-socket.js';
import type { RawPeer } from '../../shared/transfer/raw-peer.js';

let server: Server | null = null;
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets) s.destroy();
  sockets.length = 0;
  server?.close();
  server = null;
});

/** A connected pair: `s` (the sender, attached as a link's socket) and the bytes its peer receives. */
async function pair(): Promise<{ s: Socket; received: () => Buffer; until: (n: number) => Promise<Buffer> }> {
  const chunks: Buffer[] = [];
  let waiter: (() => void) | null = null;
  server = createServer((peer) => {
    sockets.push(peer);
    peer.on('data', (d) => {
      chunks.push(d);
      waiter?.();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const s = connect((server.address() as { port: number }).port, '127.0.0.1');
  sockets.push(s);
  await once(s, 'connect');
  const received = () => Buffer.concat(chunks);
  const until = async (n: number) => {
    while (received().length < n) await new Promise<void>((r) => (waiter = r));
    return received();
  };
  return { s, received, until };
}

/** What the stream hands its handle: one entry a single write, the sizes of a writev's parts. */
function handed(s: Socket): (number | number[])[] {
  const calls: (number | number[])[] = [];
  const w = s as unknown as {
    _write: (c: Buffer, e: BufferEncoding, cb: () => void) => void;
    _writev: (cs: { chunk: Buffer }[], cb: () => void) => void;
  };
  const one = w._write.bind(s);
  const many = w._writev.bind(s);
  w._write = (c, e, cb) => {
    calls.push(c.byteLength);
    one(c, e, cb);
  };
  w._writev = (cs, cb) => {
    calls.push(cs.map((x) => x.chunk.byteLength));
    many(cs, cb);
  };
  return calls;
}

const raw = { onClose: () => {}, onDrain: () => {}, onData: () => {}, bufferedNow: () => 0 } as unknown as RawPeer & { bufferedNow: () => number };

describe("a fast link's socket", () => {
  it('sends a small message and its length in one write, framed', async () => {
    const { s, until } = await pair();
    const calls = handed(s);
    const out = attachSocket(raw, s, () => {});
    const msg = Uint8Array.from({ length: 150 }, (_, i) => i);
    out.send(msg);
    const got = await until(154);
    expect(calls).toEqual([154]);
    expect(got.readUInt32LE(0)).toBe(150);
    expect([...got.subarray(4)]).toEqual([...msg]);
  });

  it('sends a large message and its length as one writev, framed', async () => {
    const { s, until } = await pair();
    const calls = handed(s);
    const out = attachSocket(raw, s, () => {});
    const msg = new Uint8Array(256 * 1024).fill(7);
    out.send(msg);
    const got = await until(4 + msg.byteLength);
    expect(calls).toEqual([[4, msg.byteLength]]);
    expect(got.readUInt32LE(0)).toBe(msg.byteLength);
    expect(got.subarray(4).every((b) => b === 7)).toBe(true);
  });
});
