// The handshake of a fast link (issue 17): the responder's process listens
// once (one port for all its links) and expects the one-time tokens it put in
// its answers; the initiator connects to the addresses answered and presents
// "TMF1" and the token; the responder answers one byte (1). Tabs present the
// same tokens over a WebSocket, on a port of their own (fast-ws.ts).
import type { WebSocket } from 'ws';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { FrameReader } from './fast-frames.js';
import { WsListener } from './fast-ws.js';
import { PendingHellos, type PendingLimits } from './pending-hellos.js';

const MAGIC = Buffer.from('TMF1');
export const TOKEN_CHARS = 32;
const HELLO_BYTES = MAGIC.length + TOKEN_CHARS;
/** How long a responder tries the initiator's addresses before WebRTC. */
export const CONNECT_TIMEOUT_MS = 1500;
/** How long an initiator keeps a token for the responder to come. */
const TOKEN_TTL_MS = 15_000;

function hostKey(): string {
  let boot = '';
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // not Linux: the host name alone
  }
  return `${hostname()}/${boot}`;
}

/** A connection that presented a token: a Node peer's TCP socket, or a tab's WebSocket. */
export type FastConn = { kind: 'tcp'; s: Socket } | { kind: 'ws'; ws: WebSocket };

/** This process's listener: sockets presenting a token go to the link that issued it. */
export class FastListener {
  private server: Server | null = null;
  private ready: Promise<number> | null = null;
  private readonly expecting = new Map<string, { accept: (c: FastConn) => void; timer: NodeJS.Timeout }>();
  readonly host = hostKey();
  /** The port tabs dial (fast-ws.ts). */
  readonly ws: WsListener;
  /** Sockets of both ports that have not said hello yet, bounded. */
  readonly pending: PendingHellos;

  constructor(
    private readonly bindHost: string,
    limits?: PendingLimits,
  ) {
    this.pending = new PendingHellos(limits);
    this.ws = new WsListener(
      bindHost,
      (token) => {
        const e = this.expecting.get(token);
        if (!e) return undefined;
        this.forget(token);
        return (ws) => e.accept({ kind: 'ws', ws });
      },
      TOKEN_CHARS,
      this.pending,
    );
  }

  port(): Promise<number> {
    this.ready ??= new Promise((resolve, reject) => {
      const srv = createServer((s) => this.onSocket(s));
      srv.on('error', reject);
      srv.listen(0, this.bindHost, () => {
        srv.unref();
        resolve((srv.address() as { port: number }).port);
      });
      this.server = srv;
    });
    return this.ready;
  }

  addrs(): string[] {
    const out: string[] = [];
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address);
    }
    return out.slice(0, 8);
  }

  expect(token: string, accept: (c: FastConn) => void): void {
    const timer = setTimeout(() => this.expecting.delete(token), TOKEN_TTL_MS);
    timer.unref();
    this.expecting.set(token, { accept, timer });
  }

  forget(token: string): void {
    const e = this.expecting.get(token);
    if (e) clearTimeout(e.timer);
    this.expecting.delete(token);
  }

  private onSocket(s: Socket): void {
    const done = this.pending.admit(s.remoteAddress, () => s.destroy());
    if (!done) return void s.destroy();
    s.setNoDelay(true);
    s.once('close', done);
    let got = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < HELLO_BYTES) return;
      done();
      s.off('data', onData);
      const token = got.subarray(MAGIC.length, HELLO_BYTES).toString('latin1');
      const e = got.subarray(0, MAGIC.length).equals(MAGIC) ? this.expecting.get(token) : undefined;
      if (!e || got.length > HELLO_BYTES) return void s.destroy(); // unknown token, or talking before the answer
      this.forget(token);
      e.accept({ kind: 'tcp', s });
    };
    s.on('data', onData);
    s.on('error', () => s.destroy());
  }

  close(): void {
    this.server?.close();
    this.ws.close();
  }
}

let listener: FastListener | null = null;

export function theListener(): FastListener {
  listener ??= new FastListener(process.env.TABMESH_LINK_HOST ?? '0.0.0.0');
  return listener;
}

/**
 * Dials the first of `addrs` that answers and presents `token`; the socket
 * reads through a FrameReader from the start (`onread`: Node gives it only to
 * sockets it connects), paused after the answer until the link takes it.
 */
export function connectAny(addrs: string[], port: number, token: string): Promise<{ s: Socket; reader: FrameReader } | null> {
  return new Promise((resolve) => {
    let i = 0;
    let done = false;
    const deadline = setTimeout(() => finish(null), CONNECT_TIMEOUT_MS);
    let current: Socket | null = null;
    const finish = (got: { s: Socket; reader: FrameReader } | null) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (!got) current?.destroy();
      resolve(got);
    };
    const next = () => {
      if (done) return;
      if (i >= addrs.length) return finish(null);
      const reader = new FrameReader();
      const s = tcpConnect({ host: addrs[i++], port, onread: { buffer: reader.nextBuffer, callback: reader.onRead } });
      current = s;
      s.once('error', () => next());
      s.once('connect', () => {
        s.setNoDelay(true);
        s.write(Buffer.concat([MAGIC, Buffer.from(token, 'latin1')]));
        // The answer (one byte) comes first; reading then waits for the link (attachSocket resumes it): nothing is lost meanwhile.
        reader.greet = (b) => {
          if (b !== 1) return void s.destroy();
          s.removeAllListeners('error');
          finish({ s, reader });
        };
        s.once('close', () => next());
      });
    };
    next();
  });
}
