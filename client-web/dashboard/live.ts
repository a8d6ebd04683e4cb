// The live cluster document: a read-only Yjs replica synced over the
// dashboard socket with y-protocols (sync + awareness). On reconnect the
// replica sends its state vector and receives only what it lacks.
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { BACKOFF, backoffDelay } from '../../shared/backoff.js';

const MSG_SYNC = 0;
const MSG_AWARENESS = 1;
const MSG_AUTH = 2;

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export class LiveDoc {
  readonly doc = new Y.Doc();
  readonly awareness = new awarenessProtocol.Awareness(this.doc);
  status: LiveStatus = 'connecting';
  role = '';
  /** Bytes received since the page loaded (shows that reconnects send diffs). */
  received = 0;
  synced = false;
  /** When the socket was lost (0 while live): the page says the coordinator is down after a moment. */
  downSince = 0;
  private ws: WebSocket | null = null;
  private attempts = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {
    this.doc.on('update', () => this.emit());
    this.awareness.on('change', () => this.emit());
  }

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private emit(): void {
    for (const f of this.listeners) f();
  }

  private setStatus(s: LiveStatus): void {
    this.status = s;
    this.emit();
  }

  connect(): void {
    clearTimeout(this.timer);
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, MSG_AUTH);
      encoding.writeVarString(e, this.token);
      ws.send(encoding.toUint8Array(e));
    };
    ws.onmessage = (ev) => {
      const data = new Uint8Array(ev.data as ArrayBuffer);
      this.received += data.byteLength;
      const d = decoding.createDecoder(data);
      const kind = decoding.readVarUint(d);
      if (kind === MSG_AUTH) return this.onAuthed(ws, decoding.readVarString(d));
      if (kind === MSG_SYNC) {
        const reply = encoding.createEncoder();
        encoding.writeVarUint(reply, MSG_SYNC);
        const t = syncProtocol.readSyncMessage(d, reply, this.doc, this);
        if (t === syncProtocol.messageYjsSyncStep2 && !this.synced) {
          this.synced = true;
          this.emit();
        }
      } else if (kind === MSG_AWARENESS) {
        awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(d), this);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === 4401) return this.setStatus('unauthorized');
      if (!this.downSince) this.downSince = Date.now();
      // Capped exponential backoff with full jitter (shared/backoff.ts).
      const wait = backoffDelay(BACKOFF.dashboard, this.attempts);
      this.attempts++;
      this.setStatus('reconnecting');
      this.timer = setTimeout(() => this.connect(), wait);
    };
  }

  private onAuthed(ws: WebSocket, role: string): void {
    this.role = role;
    this.attempts = 0;
    this.downSince = 0;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_SYNC);
    syncProtocol.writeSyncStep1(e, this.doc);
    ws.send(encoding.toUint8Array(e));
    this.sendAwareness();
    this.setStatus('live');
  }

  /** What this dashboard is looking at, for the others (awareness). */
  setViewing(view: string): void {
    this.awareness.setLocalStateField('viewing', view);
    this.sendAwareness();
  }

  private sendAwareness(): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.status === 'unauthorized') return;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_AWARENESS);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]));
    this.ws.send(encoding.toUint8Array(e));
  }

  /** Drops the socket as a network fault would (tests, and the "reconnect" button). */
  drop(): void {
    this.ws?.close();
  }

  /** Viewers other than this one. */
  get watchers(): number {
    return [...this.awareness.getStates().keys()].filter((id) => id !== this.doc.clientID).length;
  }
}
