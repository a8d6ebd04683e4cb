// A fast link's dial (edge/fast-listener.ts connectAny, edge/fast-socket.ts attachSocket; issue 14, session 28): the
// responder's link is open the moment it writes its one-byte answer, and it may send a frame at once (a driver's
// direct task). Under load that frame reaches the dialling side's socket in the same read as the answer: it must
// come out of the link once the link takes the socket, not be dropped with the answer's read.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectAny, TOKEN_CHARS } from '../../edge/fast-listener.js';
import { attachSocket } from '../../edge/fast-socket.js';
import { unhandled, type RawPeer } from '../../shared/transfer/raw-peer.js';
import { until } from '../helpers/poll.js';

let server: Server | null = null;
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets) s.destroy();
  sockets.length = 0;
  server?.close();
  server = null;
});

const TOKEN = 'ab'.repeat(TOKEN_CHARS / 2);
const HELLO = 4 + TOKEN_CHARS; // 'TMF1' and the token

/** A responder that answers the dial and writes `frames` in the same write as its answer byte. */
async function responder(frames: Buffer[]): Promise<number> {
  server = createServer((peer) => {
    sockets.push(peer);
    let got = 0;
    peer.on('data', (d) => {
      got += d.length;
      if (got < HELLO) return;
      const parts: Buffer[] = [Buffer.from([1])];
      for (const f of frames) {
        const len = Buffer.alloc(4);
        len.writeUInt32LE(f.length, 0);
        parts.push(len, f);
      }
      peer.write(Buffer.concat(parts));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

describe('a fast link dialled', () => {
  it("delivers the frames the responder sent with its answer, once the link takes the socket (not dropped with the answer's read)", async () => {
    const frames = [Buffer.from('a direct task'), Buffer.from('and another')];
    const port = await responder(frames);
    const got = await connectAny(['127.0.0.1'], port, TOKEN);
    expect(got).not.toBeNull();
    sockets.push(got!.s);
    // The dialling side is slow to take the socket (a loaded event loop): the frames are there by then.
    await new Promise((r) => setTimeout(r, 100));
    const data: string[] = [];
    const raw = { ...unhandled(), bufferedNow: () => 0, onData: (b: Uint8Array) => void data.push(Buffer.from(b).toString()) } as unknown as RawPeer & {
      bufferedNow: () => number;
    };
    attachSocket(raw, got!.s, () => {}, got!.reader);
    await until(() => data.length === 2, { timeoutMs: 3000, what: () => `2 frames, have ${JSON.stringify(data)}` });
    expect(data).toEqual(frames.map((f) => f.toString()));
  });
});
