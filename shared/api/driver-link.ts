// A driver's socket to the coordinator: the handshake (hello or resume, then
// welcome), one clear error when the first connection fails, and reconnects
// with jittered backoff (to the next coordinator of the mesh first) when a
// live connection drops. A full coordinator's refusal may name another of its
// mesh (`COORDINATOR_FULL next=<url>`): followed at once under the nodes' trust
// rule (shared/coordinator-urls.ts).
import { BACKOFF, backoffDelay, cappedAt, type Backoff } from '../backoff.js';
import { ConnectError, errorFromCode, TabmeshError } from '../errors.js';
import type { JobId, ObjectId } from '../ids.js';
import { decodeFrame, encodeFrame } from '../protocol/frame.js';
import { PROTOCOL_VERSION, type Msg, type MsgOf } from '../protocol/messages.js';
import { connectFailure, tokenRefused } from './connect-help.js';
import type { CoordinatorUrls } from '../coordinator-urls.js';
import type { ConnectOptions } from './connect-options.js';
import { defaultWebSocket, frameIn, readBinaryAs, sendChunkFrame, wsUrl, type WebSocketLike } from './socket.js';

/** What the link asks of the driver it serves. */
export interface LinkOwner {
  /** The job to resume and the handles to name in the hello; undefined before the first welcome. */
  resume(): { jobId: JobId; held: ObjectId[] } | undefined;
  /** Whether this driver opens peer links (a hello without them says so). */
  peers(): boolean;
  /** A welcome arrived; `resumed` when it answers a resume. */
  welcomed(m: MsgOf<'welcome'>, resumed: boolean): void;
  /** A frame of a welcomed connection. */
  frame(data: unknown): void;
  /** A live connection dropped: reconnecting starts. */
  lost(err: Error): void;
  /** The link is closed for good (closed by the driver, or reconnecting gave up). */
  closed(err: Error): void;
}

export type LinkState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export class CoordinatorLink {
  /** connected: frames go out; reconnecting: dropped (the driver sends its state again on resume). */
  state: LinkState = 'connecting';
  /** The coordinator's last error message, said by connect() or by the close that follows it. */
  lastError: Error | null = null;
  closing = false;
  private ws: WebSocketLike;
  private secret = '';
  /** The job's secret from the welcome (result shortcuts' tags are made with it). */
  get jobSecret(): string {
    return this.secret;
  }
  /** The coordinators this driver may use (one mesh) and the one it uses now (set by connect once welcomed). */
  where: CoordinatorUrls | null = null;

  /** Its reconnect loop's backoff: BACKOFF.driverReconnect, or capped at `reconnectMaxMs` (connectFirst checked it). */
  private readonly backoff: Backoff;

  constructor(
    public opts: ConnectOptions & { url: string },
    private readonly owner: LinkOwner,
  ) {
    this.backoff = cappedAt(BACKOFF.driverReconnect, opts.reconnectMaxMs, 'connect({ reconnectMaxMs })');
    this.ws = this.open();
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(frame: Uint8Array): void {
    if (this.state === 'connected' && this.ws.readyState === 1) this.ws.send(frame);
  }

  /** A chunk frame (shared/protocol/chunk-frame.ts), once the coordinator said it reads them. */
  sendChunk(head: Uint8Array, body: Uint8Array): void {
    if (this.state === 'connected' && this.ws.readyState === 1) sendChunkFrame(this.ws, head, body);
  }

  /** The first connection: resolves once welcomed, rejects with one line that says what to do. */
  start(): Promise<void> {
    const opts = this.opts;
    const ws = this.ws;
    return new Promise((resolve, reject) => {
      const ms = opts.connectTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        reject(
          new ConnectError(
            'UNREACHABLE',
            opts.url,
            `no answer from a tabmesh coordinator at ${opts.url} within ${ms} ms: is it running, and is the URL right?`,
          ),
        );
        ws.close();
      }, ms);
      this.attach(ws, (err) => {
        clearTimeout(timer);
        if (err) reject(this.explainRefusal(err));
        else resolve();
      });
    });
  }

  /** The coordinator sent an error: kept for the handshake's answer; printed unless closing. */
  onError(m: MsgOf<'error'>): void {
    this.lastError = errorFromCode(m.code, m.message);
    if (!this.closing) console.error(`tabmesh: coordinator error ${m.code}: ${m.message}`);
  }

  /** Closes the socket; resolves once it closed. */
  closeSocket(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === 3) return resolve();
      const prev = this.ws.onclose;
      this.ws.onclose = (ev) => {
        prev?.(ev);
        resolve();
      };
      this.ws.close(1000, 'driver closed');
    });
  }

  private open(): WebSocketLike {
    const Ctor = this.opts.WebSocket ?? defaultWebSocket();
    const ws = new Ctor(wsUrl(this.opts.url));
    ws.binaryType = readBinaryAs(ws);
    return ws;
  }

  /** A first connection failed: one line that names the URL and what to do. */
  private explainRefusal(err: Error): Error {
    if (err instanceof ConnectError) return err;
    if (err instanceof TabmeshError && err.code === 'UNAUTHORIZED') return tokenRefused(this.opts.url, !!this.opts.token);
    return err;
  }

  /**
   * Wires a socket: hello (or resume) once open, then welcome. `done` hears
   * whether the handshake worked; later closes start a reconnect.
   */
  private attach(ws: WebSocketLike, done: (err: Error | null) => void): void {
    let welcomed = false;
    ws.onopen = () => {
      opened = true;
      // The handles ride in the hello (the rest, past one message's worth, follow as borrows).
      const r = this.owner.resume();
      const resume = r ? { jobId: r.jobId, secret: this.secret, held: r.held } : undefined;
      const peers = this.owner.peers() ? undefined : false;
      // `records` said only when true: a coordinator before it refuses an unknown field, even an undefined one.
      const hello: MsgOf<'hello'> = {
        t: 'hello',
        role: 'driver',
        version: PROTOCOL_VERSION,
        token: this.opts.token,
        resume,
        peers,
        namespace: this.opts.namespace,
      };
      if (this.opts.records) hello.records = true;
      if (this.opts.shortcut && this.owner.peers()) hello.shortcut = true;
      if (hello.shortcut && this.opts.direct) hello.direct = true;
      // It honours a held node's `lease` (driver-direct.ts).
      if (hello.direct) hello.suspend = true;
      if (this.opts.groups !== false) hello.groups = true;
      hello.chunks = true;
      hello.credit = true;
      ws.send(encodeFrame([hello]));
    };
    // What the socket said when it failed (the ws package names ECONNREFUSED and HTTP statuses; browsers say nothing).
    let detail = '';
    let opened = false;
    ws.onerror = (ev) => {
      const e = ev as { message?: unknown; error?: { message?: unknown } } | null;
      const m = e?.error?.message ?? e?.message;
      detail = typeof m === 'string' ? m : '';
    };
    ws.onclose = (ev) => {
      if (!welcomed) {
        // A full coordinator (issue 14): its close reason may say where to go instead, which the caller may follow.
        if (this.lastError instanceof TabmeshError && this.lastError.code === 'COORDINATOR_FULL')
          return done(new ConnectError('COORDINATOR_FULL', this.opts.url, this.lastError.message, ev.reason));
        if (this.lastError) return done(this.lastError);
        if (!opened) return done(connectFailure(this.opts.url, detail));
        return done(
          new ConnectError(
            'NOT_A_COORDINATOR',
            this.opts.url,
            `${this.opts.url} closed the connection before welcoming this driver (${ev.code} ${ev.reason}): is it a tabmesh coordinator of this version?`,
          ),
        );
      }
      this.dropped(this.lastError ?? new TabmeshError('CLOSED', `connection to the coordinator closed (${ev.code} ${ev.reason})`));
    };
    ws.onmessage = (ev) => {
      let msgs: Msg[];
      try {
        msgs = decodeFrame(frameIn(ev.data));
      } catch (e) {
        ws.close(1002, 'bad frame');
        return done(
          new ConnectError('NOT_A_COORDINATOR', this.opts.url, `${this.opts.url} is not a tabmesh coordinator: its /ws sent ${(e as Error).message}`),
        );
      }
      for (const m of msgs) {
        if (m.t === 'welcome') {
          const resumed = this.owner.resume() !== undefined;
          this.secret = m.secret ?? '';
          this.state = 'connected';
          this.lastError = null;
          welcomed = true;
          ws.onmessage = (e) => this.owner.frame(e.data);
          this.owner.welcomed(m, resumed);
          done(null);
        } else if (m.t === 'error') {
          // Said once, by the promise connect() returns (not printed as well).
          this.lastError = errorFromCode(m.code, m.message);
        }
      }
    };
  }

  /** The connection dropped: unless we were closing, reconnect with capped exponential backoff. */
  private dropped(err: Error): void {
    if (this.closing || this.state === 'closed') {
      this.state = 'closed';
      this.owner.closed(err);
      return;
    }
    this.state = 'reconnecting';
    this.owner.lost(err);
    const giveUpAt = Date.now() + (this.opts.reconnectTimeoutMs ?? 60_000);
    const attempt = (n: number) => {
      if (this.closing) return;
      if (Date.now() > giveUpAt) {
        this.state = 'closed';
        this.owner.closed(new TabmeshError('CLOSED', `lost the coordinator and could not reconnect: ${err.message}`));
        return;
      }
      const ws = this.open();
      this.ws = ws;
      this.attach(ws, (e) => {
        if (e) next(n + 1, e);
        else this.where?.joined();
      });
    };
    // The next coordinator of the list first (the one that dropped us may be gone), or where a full one sends us: at once.
    const next = (n: number, why: Error) => {
      const now = this.where?.moveOn(refusalOf(why)) === true;
      if (this.where) this.opts = { ...this.opts, url: this.where.current };
      setTimeout(() => attempt(n), now ? 0 : backoffDelay(this.backoff, n));
    };
    next(0, err);
  }
}

/** What a failed connection says for CoordinatorUrls.moveOn: a full coordinator's close reason (it may name `next=`), else its message. */
export function refusalOf(e: Error): string {
  return e instanceof ConnectError && e.code === 'COORDINATOR_FULL' ? `COORDINATOR_FULL ${e.closeReason}` : e.message;
}
