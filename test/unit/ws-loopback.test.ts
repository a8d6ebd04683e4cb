// edge/ws.ts: an edge node's or Node driver's frames to a coordinator on a loopback address carry a zero mask (ws
// then neither XORs nor copies them); to any other address ws's random masks stay. Read off the wire: a real `ws`
// server on 127.0.0.1 and the raw bytes of the client's first frame.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { isLoopback, NodeWebSocket } from '../../edge/ws.js';

let server: WebSocketServer | null = null;
afterEach(async () => {
  server?.close();
  server = null;
});

/** The first frame a client of class `Ctor` sends to a server on 127.0.0.1: its mask key and what the server read. */
async function firstFrame(Ctor: new (url: string) => WebSocket): Promise<{ mask: number[]; got: number[] }> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const raw: Buffer[] = [];
  const got = new Promise<number[]>((resolve) =>
    server!.on('connection', (ws, req) => {
      req.socket.on('data', (b: Buffer) => raw.push(b));
      ws.on('message', (m: Buffer) => resolve([...m]));
    }),
  );
  const c = new Ctor(`ws://127.0.0.1:${port}/ws`);
  await once(c, 'open');
  c.send(new Uint8Array([1, 2, 3, 250]));
  const value = await got;
  c.close();
  const frame = Buffer.concat(raw);
  // A binary frame of 4 bytes: 0x82, then the mask bit and the length, then the 4-byte mask key.
  expect(frame[0]).toBe(0x82);
  expect(frame[1]).toBe(0x80 | 4);
  return { mask: [...frame.subarray(2, 6)], got: value };
}

describe('Node WebSockets to a loopback coordinator', () => {
  it('carry a zero mask; the server reads the bytes sent', async () => {
    const { mask, got } = await firstFrame(NodeWebSocket);
    expect(mask).toEqual([0, 0, 0, 0]);
    expect(got).toEqual([1, 2, 3, 250]);
  });

  it("ws's own WebSocket masks at random (what the frame read above would show without edge/ws.ts)", async () => {
    // A random key is all zero once in 2^32: four tries never are.
    const masks: number[][] = [];
    for (let i = 0; i < 4; i++) {
      const { mask, got } = await firstFrame(WebSocket);
      expect(got).toEqual([1, 2, 3, 250]);
      masks.push(mask);
      server?.close();
    }
    expect(masks.some((m) => m.some((b) => b !== 0))).toBe(true);
  });

  it('loopback is 127.0.0.0/8, ::1 and localhost; nothing else is', () => {
    for (const u of ['ws://127.0.0.1:8080/ws', 'http://127.1.2.3/', 'ws://localhost:1/ws', 'ws://[::1]:9/ws']) expect(isLoopback(u), u).toBe(true);
    for (const u of ['ws://10.0.0.1/ws', 'wss://mesh.example.org/ws', 'ws://127.0.0.1.example.org/ws', 'ws://[::2]/ws', 'not a url', 'ws://0.0.0.0/ws'])
      expect(isLoopback(u), u).toBe(false);
  });
});
