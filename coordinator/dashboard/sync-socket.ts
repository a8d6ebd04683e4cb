// The dashboard socket: y-protocols sync and awareness over a WebSocket, with
// y-websocket's message kinds, plus an auth message that must come first
// (browsers cannot set headers on a WebSocket, and a token in the URL would
// end up in logs). The document is read-only for dashboards: their sync
// step 2 and updates are ignored; awareness (who is looking at what) is relayed.
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import type { WebSocket } from 'ws';
import type { Role } from '../http/access.js';

export const MSG_SYNC = 0;
export const MSG_AWARENESS = 1;
export const MSG_AUTH = 2;
export const MSG_QUERY_AWARENESS = 3;

/** Close codes the dashboard understands (4401: bad token; 4408: no auth in time; 4413: too slow to keep up). */
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_AUTH_TIMEOUT = 4408;
export const CLOSE_BACKLOG = 4413;

const AUTH_TIMEOUT_MS = 5000;
/** A dashboard this far behind is dropped; it reconnects and catches up by diff. */
const MAX_BUFFERED = 8 << 20;
const MAX_MESSAGE = 1 << 20;

interface Conn {
  ws: WebSocket;
  role: Role | null;
  /** Awareness client ids this connection announced. */
  clients: Set<number>;
}

export class DashboardHub {
  readonly awareness: awarenessProtocol.Awareness;
  private readonly conns = new Set<Conn>();

  constructor(
    readonly doc: Y.Doc,
    private readonly roleOf: (token: string) => Role | null,
    /** A dashboard authenticated while none was connected: the document is brought up to date before its sync (issue 14). */
    private readonly onWatch: () => void = () => {},
  ) {
    this.awareness = new awarenessProtocol.Awareness(doc);
    // The coordinator itself announces nothing.
    this.awareness.setLocalState(null);
    doc.on('update', (update: Uint8Array) => {
      if (this.conns.size === 0) return;
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, MSG_SYNC);
      syncProtocol.writeUpdate(e, update);
      this.broadcast(encoding.toUint8Array(e));
    });
    this.awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      const changed = [...added, ...updated, ...removed];
      const conn = origin as Conn | null;
      if (conn && this.conns.has(conn)) {
        for (const id of added) conn.clients.add(id);
        for (const id of removed) conn.clients.delete(id);
      }
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, MSG_AWARENESS);
      encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed));
      this.broadcast(encoding.toUint8Array(e));
    });
  }

  get size(): number {
    return this.conns.size;
  }

  private broadcast(msg: Uint8Array): void {
    for (const c of this.conns) this.send(c, msg);
  }

  private send(c: Conn, msg: Uint8Array): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > MAX_BUFFERED) return void c.ws.close(CLOSE_BACKLOG, 'too far behind');
    c.ws.send(msg);
  }

  /** A new dashboard socket: it must authenticate first. */
  accept(ws: WebSocket): void {
    const conn: Conn = { ws, role: null, clients: new Set() };
    const timer = setTimeout(() => ws.close(CLOSE_AUTH_TIMEOUT, 'send auth first'), AUTH_TIMEOUT_MS);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        if (!isBinary || data.byteLength > MAX_MESSAGE) return void ws.close(1003, 'binary y-protocols messages only');
        this.onMessage(conn, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), timer);
      } catch {
        ws.close(1007, 'malformed message');
      }
    });
    ws.on('close', () => {
      clearTimeout(timer);
      this.conns.delete(conn);
      awarenessProtocol.removeAwarenessStates(this.awareness, [...conn.clients], null);
    });
    ws.on('error', () => ws.terminate());
  }

  private onMessage(conn: Conn, data: Uint8Array, timer: ReturnType<typeof setTimeout>): void {
    const d = decoding.createDecoder(data);
    const kind = decoding.readVarUint(d);
    if (!conn.role) {
      if (kind !== MSG_AUTH) return void conn.ws.close(CLOSE_UNAUTHORIZED, 'send auth first');
      const role = this.roleOf(decoding.readVarString(d));
      if (!role) return void conn.ws.close(CLOSE_UNAUTHORIZED, 'bad token');
      clearTimeout(timer);
      conn.role = role;
      if (this.conns.size === 0) this.onWatch();
      this.conns.add(conn);
      this.greet(conn);
      return;
    }
    const handler = handlers[kind];
    if (!handler) return void conn.ws.close(1003, `unknown message kind ${kind}`);
    handler(this, conn, d);
  }

  /** After auth: our sync step 1 (so the client sends what it lacks... nothing) and the awareness states. */
  private greet(conn: Conn): void {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_AUTH);
    encoding.writeVarString(e, conn.role!);
    this.send(conn, encoding.toUint8Array(e));
    const states = [...this.awareness.getStates().keys()];
    if (states.length > 0) {
      const a = encoding.createEncoder();
      encoding.writeVarUint(a, MSG_AWARENESS);
      encoding.writeVarUint8Array(a, awarenessProtocol.encodeAwarenessUpdate(this.awareness, states));
      this.send(conn, encoding.toUint8Array(a));
    }
  }

  /** Answers sync step 1 with the diff the client lacks; ignores the client's writes. */
  onSync(conn: Conn, d: decoding.Decoder): void {
    const kind = decoding.readVarUint(d);
    if (kind !== syncProtocol.messageYjsSyncStep1) return; // step 2 / update: dashboards are read-only
    const stateVector = decoding.readVarUint8Array(d);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_SYNC);
    syncProtocol.writeSyncStep2(e, this.doc, stateVector);
    this.send(conn, encoding.toUint8Array(e));
  }

  close(): void {
    for (const c of this.conns) c.ws.terminate();
    this.conns.clear();
    this.awareness.destroy();
  }
}

type Handler = (hub: DashboardHub, conn: Conn, d: decoding.Decoder) => void;

const handlers: Record<number, Handler | undefined> = {
  [MSG_SYNC]: (hub, conn, d) => hub.onSync(conn, d),
  [MSG_AWARENESS]: (hub, conn, d) => awarenessProtocol.applyAwarenessUpdate(hub.awareness, decoding.readVarUint8Array(d), conn),
  [MSG_QUERY_AWARENESS]: (hub, conn) => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_AWARENESS);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(hub.awareness, [...hub.awareness.getStates().keys()]));
    conn.ws.send(encoding.toUint8Array(e));
  },
};
