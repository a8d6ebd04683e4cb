// A read-only replica of the cluster document in Node, over the same socket
// and messages as the dashboard page: for tests, benchmarks and scripts.
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';
import { MSG_AUTH, MSG_SYNC } from './sync-socket.js';

export class Replica {
  readonly doc: Y.Doc;
  ws: WebSocket | null = null;
  role = '';
  /** Bytes received on the current connection. */
  received = 0;
  synced = false;
  closeCode = 0;

  constructor(
    private readonly url: string,
    private readonly token: string,
    doc?: Y.Doc,
  ) {
    this.doc = doc ?? new Y.Doc();
    // Root types are untyped until asked for by their kind: ask, so toJSON() shows them.
    for (const k of ['meta', 'nodes', 'jobs', 'actors', 'series', 'logs']) this.doc.getMap(k);
    this.doc.getArray('events');
  }

  /** Connects, authenticates and resolves once the first sync step 2 is applied (rejects on close before). */
  connect(): Promise<void> {
    this.synced = false;
    this.received = 0;
    const ws = new WebSocket(this.url.replace(/^http/, 'ws').replace(/\/+$/, '') + '/dashboard/ws');
    this.ws = ws;
    return new Promise((resolve, reject) => {
      ws.on('open', () => {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, MSG_AUTH);
        encoding.writeVarString(e, this.token);
        ws.send(encoding.toUint8Array(e));
      });
      ws.on('message', (data: Buffer) => {
        this.received += data.byteLength;
        const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        const kind = decoding.readVarUint(d);
        if (kind === MSG_AUTH) {
          this.role = decoding.readVarString(d);
          const e = encoding.createEncoder();
          encoding.writeVarUint(e, MSG_SYNC);
          syncProtocol.writeSyncStep1(e, this.doc);
          ws.send(encoding.toUint8Array(e));
        } else if (kind === MSG_SYNC) {
          const reply = encoding.createEncoder();
          encoding.writeVarUint(reply, MSG_SYNC);
          const t = syncProtocol.readSyncMessage(d, reply, this.doc, this);
          if (t === syncProtocol.messageYjsSyncStep2 && !this.synced) {
            this.synced = true;
            resolve();
          }
        }
      });
      ws.on('close', (code) => {
        this.closeCode = code;
        if (!this.synced) reject(new Error(`dashboard socket closed (${code}) before sync`));
      });
      ws.on('error', () => {});
    });
  }

  close(): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
    });
  }

  /** The whole replica as one update: its size on the wire for a fresh dashboard. */
  size(): number {
    return Y.encodeStateAsUpdate(this.doc).byteLength;
  }
}
