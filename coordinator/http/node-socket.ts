// The /ws endpoint's upgrades (drivers and nodes), taken before Fastify's
// request cycle (issue 14: what a node costs at 10,000-20,000 nodes).
// @fastify/websocket routes every upgrade through Fastify and keeps what that
// made for the connection's whole life: a ServerResponse on the socket
// (`_httpMessage`), the IncomingMessage with its headers, and Fastify's
// Request and Reply in the socket's error listener: 2.7 KB of the ~9.7 KB of
// live heap a connected node cost. /ws uses none of it (no Fastify hook or
// route option applies: its limits are per connection and on the rate of new
// connections, coordinator/limits; the HTTP rate limit never counted it), so
// its upgrades go straight to ws; the others (the dashboard's socket) go on
// through @fastify/websocket as before.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/** The drivers' and nodes' endpoint, with or without a query. */
export function isNodeSocketUrl(url: string): boolean {
  return url === '/ws' || url.startsWith('/ws?');
}

/**
 * Takes `server`'s upgrades to /ws: each becomes a WebSocket handed to `accept` with the peer's address.
 * Returns the emitter of the other upgrades, for @fastify/websocket's `server` option.
 */
export function takeNodeSockets(server: Server, maxPayload: number, accept: (ws: WebSocket, remoteAddress: string) => void): Server {
  const others = new EventEmitter();
  // No client tracking: the coordinator's sessions are its list (RunningCoordinator.close terminates them).
  const wss = new WebSocketServer({ noServer: true, maxPayload, clientTracking: false });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!isNodeSocketUrl(req.url ?? '')) return void others.emit('upgrade', req, socket, head);
    const address = req.socket.remoteAddress ?? '?';
    // ws answers a bad handshake itself (400) and guards the socket's errors from here on.
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, address));
  });
  // @fastify/websocket only listens to its `server`'s upgrade events.
  return others as unknown as Server;
}
