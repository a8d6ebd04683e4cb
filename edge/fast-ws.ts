// Tab <-> Node links over a WebSocket (issue 17, tenth session). Chromium
// spends 340-520 ms of CPU per MiB on a WebRTC data channel on this project's
// VMs and 68-100 ms per MiB on a WebSocket (bench/channel.ts), so a tab whose
// peer is a Node process that listens where the tab can reach it dials it
// over a WebSocket, as Node peers dial each other over TCP (fast-link.ts).
//
// The same one-time token as a TCP fast link, handed out in an answer through
// the coordinator's signalling relay (which vouches for who sent it): the tab
// connects to `ws://addr:port/tabmesh-link`, sends "TMW1" and the token as its
// first (text) message, and gets one binary byte (1) back; a socket that
// presents anything else is closed with WS_REFUSED. Then each binary message
// is one link message (shared/transfer/wire.ts).
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Socket } from 'node:net';
import { CLOSED_BY_PEER, type RawPeer } from '../shared/transfer/raw-peer.js';
import { MAX_LINK_CHUNK_BYTES } from '../shared/transfer/wire.js';
import type { PendingHellos } from './pending-hellos.js';

export const WS_MAGIC = 'TMW1';
export const WS_PATH = '/tabmesh-link';
/** The close code of a socket whose hello presented no token this process expects. */
export const WS_REFUSED = 4001;

/** Where a token's link goes: the WebSocket that presented it, or undefined when no link expects it. */
export type TakeToken = (token: string) => ((ws: WebSocket) => void) | undefined;

/** This process's WebSocket port for tabs (one for all its links), opened when first answered with. */
export class WsListener {
  private ready: Promise<number> | null = null;
  private server: WebSocketServer | null = null;
  /** Sockets refused for a bad hello (tests read it). */
  refused = 0;

  constructor(
    private readonly bindHost: string,
    private readonly take: TakeToken,
    private readonly tokenChars: number,
    /** Sockets waiting for their hello: bounded with the TCP port's (fast-listener.ts). */
    private readonly pending: PendingHellos,
  ) {}

  port(): Promise<number> {
    this.ready ??= new Promise((resolve, reject) => {
      // A frame larger than a link chunk and a little is an error from the peer (ws closes it with 1009).
      const wss = new WebSocketServer({ host: this.bindHost, port: 0, path: WS_PATH, maxPayload: MAX_LINK_CHUNK_BYTES + 4096, clientTracking: false });
      wss.on('error', reject);
      wss.on('listening', () => {
        (wss as unknown as { _server?: { unref(): void } })._server?.unref();
        resolve((wss.address() as { port: number }).port);
      });
      wss.on('connection', (ws, req) => this.hello(ws, req.socket.remoteAddress));
      this.server = wss;
    });
    return this.ready;
  }

  private hello(ws: WebSocket, address: string | undefined): void {
    const done = this.pending.admit(address, () => ws.terminate());
    if (!done) return void ws.terminate();
    ws.on('error', () => ws.terminate());
    ws.once('close', done);
    ws.once('message', (d: RawData, isBinary: boolean) => {
      done();
      const text = isBinary || Array.isArray(d) ? '' : Buffer.from(d as Buffer).toString('latin1');
      const ok = text.length === WS_MAGIC.length + this.tokenChars && text.startsWith(WS_MAGIC);
      const accept = ok ? this.take(text.slice(WS_MAGIC.length)) : undefined;
      if (!accept) {
        this.refused++;
        return ws.close(WS_REFUSED, 'unknown token');
      }
      ws.send(Uint8Array.of(1));
      accept(ws);
    });
  }

  close(): void {
    this.server?.close();
  }
}

/** A RawPeer's channel over an accepted, authenticated WebSocket. */
export function attachWs(
  raw: RawPeer,
  ws: WebSocket,
  onGone: () => void,
): { send: (b: Uint8Array) => void; sendv: (parts: Uint8Array[]) => void; destroy: () => void; buffered: () => number } {
  let closed = false;
  const gone = (why: string, peerFault = false) => {
    if (closed) return;
    closed = true;
    onGone();
    ws.terminate();
    raw.onClose(why, peerFault);
  };
  ws.removeAllListeners('error');
  ws.on('message', (d: RawData, isBinary: boolean) => {
    if (closed) return;
    if (!isBinary) return gone('a text message on the link', true);
    const b = Array.isArray(d) ? Buffer.concat(d) : d instanceof ArrayBuffer ? new Uint8Array(d) : d;
    try {
      raw.onData(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    } catch (e) {
      gone(`error: ${(e as Error).message}`);
    }
  });
  ws.on('close', (code: number) => gone(`${CLOSED_BY_PEER} (${code})`));
  // ws's own protocol errors (an oversized or malformed frame) are the peer's fault.
  ws.on('error', (e: Error & { code?: string }) => gone(`error: ${e.message}`, e.code?.startsWith('WS_ERR_') === true));
  (ws as unknown as { _socket?: Socket })._socket?.on('drain', () => {
    if (!closed) raw.onDrain();
  });
  return {
    send: (b) => ws.send(b),
    // The parts go as fragments of one message: the object's bytes are written from where they are, not joined first.
    sendv: (parts) => parts.forEach((p, i) => ws.send(p, { binary: true, fin: i === parts.length - 1 })),
    destroy: () => {
      if (closed) return;
      closed = true;
      onGone();
      ws.terminate();
    },
    buffered: () => ws.bufferedAmount,
  };
}
