// Keepalives skip ws's parser (coordinator/http/empty-frames.ts, issue 14): an empty binary frame read alone while
// ws's Receiver is between frames goes to the handler at once; every other read goes through ws as before. A real
// ws server and a raw TCP client (its own handshake), so that what one read holds is the test's to say.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { takeEmptyFrames } from '../../coordinator/http/empty-frames.js';
import { until } from '../helpers/poll.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
let http: Server | null = null;
let client: Socket | null = null;
afterEach(() => {
  client?.destroy();
  client = null;
  http?.closeAllConnections();
  http?.close();
  http = null;
});

interface Side {
  ws: WebSocket;
  taken: boolean;
  empties: number;
  messages: Buffer[];
  closed: number | null;
  errors: string[];
}

/** A ws server whose one connection has its empty frames taken, and a raw client past the handshake. */
async function pair(): Promise<{ side: Side; send: (b: Buffer) => void }> {
  const wss = new WebSocketServer({ noServer: true });
  let side: Side | null = null;
  http = createServer();
  http.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      const s: Side = { ws, taken: false, empties: 0, messages: [], closed: null, errors: [] };
      ws.on('message', (d) => s.messages.push(d as Buffer));
      ws.on('close', (code) => (s.closed = code));
      ws.on('error', (e: Error & { code?: string }) => s.errors.push(e.code ?? e.message));
      s.taken = takeEmptyFrames(ws, () => s.empties++);
      side = s;
    }),
  );
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const c = (client = connect((http.address() as { port: number }).port, '127.0.0.1'));
  c.setNoDelay(true);
  await once(c, 'connect');
  c.write(`GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const [reply] = (await once(c, 'data')) as [Buffer];
  const accept = createHash('sha1').update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  expect(reply.toString()).toMatch(new RegExp(`^HTTP/1.1 101 [^]*Sec-WebSocket-Accept: ${accept.replace(/[+/]/g, '\\$&')}\r\n`));
  await until(() => side !== null);
  return { side: side!, send: (b) => c.write(b) };
}

/** A client's frame: FIN and `opcode` (or a first fragment: `fin` false), masked with zeros (the payload as is). */
function frame(payload: number[], opcode = 2, fin = true): Buffer {
  return Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length, 0, 0, 0, 0, ...payload]);
}

/** ws's Receiver state (0: between frames). */
const receiverState = (ws: WebSocket) => (ws as unknown as { _receiver: { _state: number } })._receiver._state;

describe('empty frames read alone skip ws', () => {
  it('an empty binary frame goes to the handler, not through ws; a frame with bytes goes through ws', async () => {
    const { side, send } = await pair();
    expect(side.taken).toBe(true);
    send(frame([]));
    await until(() => side.empties === 1);
    send(frame([1, 2, 3]));
    await until(() => side.messages.length === 1);
    expect([...side.messages[0]]).toEqual([1, 2, 3]);
    send(frame([]));
    await until(() => side.empties === 2);
    expect(side.messages).toHaveLength(1);
  });

  it('a read that looks like an empty frame in the middle of a frame goes to ws as that frame’s bytes', async () => {
    const { side, send } = await pair();
    // A 6-byte payload that reads as an empty frame (0x82 0x80, a mask): its header first, then, once ws holds
    // that header and waits for the payload, the payload in a read of its own.
    const payload = [0x82, 0x80, 9, 9, 9, 9];
    const f = frame(payload);
    send(f.subarray(0, 6));
    await until(() => receiverState(side.ws) !== 0);
    send(f.subarray(6));
    await until(() => side.messages.length === 1);
    expect([...side.messages[0]]).toEqual(payload);
    expect(side.empties).toBe(0);
  });

  it('two empty frames in one read go through ws (empty messages), as before', async () => {
    const { side, send } = await pair();
    send(Buffer.concat([frame([]), frame([])]));
    await until(() => side.messages.length === 2);
    expect(side.messages.map((m) => m.length)).toEqual([0, 0]);
    expect(side.empties).toBe(0);
  });

  it('an empty frame while a fragmented message is under way is ws’s protocol error, not a keepalive', async () => {
    const { side, send } = await pair();
    send(frame([7], 2, false));
    await until(() => (side.ws as unknown as { _receiver: { _fragmented: number } })._receiver._fragmented !== 0);
    send(frame([]));
    await until(() => side.closed !== null);
    expect(side.errors).toEqual(['WS_ERR_INVALID_OPCODE']);
    expect(side.empties).toBe(0);
  });

  it('a socket that is not what it expects is left to ws', () => {
    expect(takeEmptyFrames({} as WebSocket, () => {})).toBe(false);
  });
});
