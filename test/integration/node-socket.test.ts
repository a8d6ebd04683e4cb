// The /ws endpoint's upgrades skip Fastify (coordinator/http/node-socket.ts,
// issue 14): a node's connection keeps nothing of its HTTP upgrade for its
// whole life (through @fastify/websocket it kept the request, a response
// object and Fastify's request and reply: 2.7 KB of the ~9.7 KB a node cost),
// while every other upgrade (the dashboard's socket) and plain requests to
// /ws behave as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { until } from '../helpers/poll.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Opens a socket; answers 101 when it opened, else the HTTP status it was refused with (0: no answer). */
function open(url: string): Promise<{ ws: WebSocket; status: number }> {
  const ws = new WebSocket(url);
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_req, res) => resolve({ ws, status: res.statusCode ?? 0 }));
    ws.once('error', () => resolve({ ws, status: 0 }));
  });
}

describe('the /ws endpoint outside Fastify', () => {
  let co: RunningCoordinator;
  let ws: string;
  beforeAll(async () => {
    co = await startCoordinator({ memory: true, port: 0 });
    ws = co.url.replace('http', 'ws');
  });
  afterAll(() => co.close());

  it('a connection keeps nothing of its upgrade request once it is open', async () => {
    let req: WeakRef<IncomingMessage> | undefined;
    const see = (r: IncomingMessage) => (req ??= new WeakRef(r));
    co.app.server.prependListener('upgrade', see);
    const before = co.coordinator.sessions.size;
    const { ws: socket, status } = await open(`${ws}/ws`);
    co.app.server.off('upgrade', see);
    expect(status).toBe(101);
    await until(() => co.coordinator.sessions.size === before + 1);
    // A WeakRef's target lives at least to the end of the job that made or read it: collect in later turns.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    expect(req).toBeDefined();
    expect(req!.deref()).toBeUndefined();
    // The connection is alive and served: a hello gets its welcome (or an error), not silence.
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });

  it('/ws with a query upgrades; the dashboard socket still upgrades through Fastify; GET /ws is 404', async () => {
    const q = await open(`${ws}/ws?v=1`);
    expect(q.status).toBe(101);
    q.ws.close();
    const dash = await open(`${ws}/dashboard/ws`);
    expect(dash.status).toBe(101);
    dash.ws.close();
    const plain = await fetch(`${co.url}/ws`);
    expect(plain.status).toBe(404);
  });
});
