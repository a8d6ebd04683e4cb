// Fast links between Node peers (issue 17): edge nodes and Node drivers reach
// each other over a plain TCP connection when they can, WebRTC otherwise;
// tabs keep WebRTC.
//
// No new coordinator message: the initiator's WebRTC offer (which travels
// through the coordinator's signalling relay, the coordinator vouching for
// who sent it) carries `tabmeshFast`: this process's listening port, its
// addresses, a host key (same host: loopback first) and a one-time token. A
// Node responder connects and presents the token; the initiator accepts that
// socket as the link and drops its WebRTC attempt. A tab ignores the field
// (its WebRTC stack reads only type and sdp) and answers as before; a Node
// responder that cannot connect in time feeds the offer to WebRTC.
//
// On the wire: the responder sends "TMF1" and the 32-character token, the
// initiator answers one byte (1), then both sides send frames of a 4-byte
// little-endian length and a link message (shared/transfer/wire.ts).
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { PeerFactory, RawPeer } from '../shared/transfer/raw-peer.js';
import { LINK_CHUNK_BYTES } from '../shared/transfer/wire.js';

const MAGIC = Buffer.from('TMF1');
const TOKEN_CHARS = 32;
const HELLO_BYTES = MAGIC.length + TOKEN_CHARS;
/** Largest frame a peer may send (a chunk plus headroom); more closes the link. */
const MAX_FRAME = LINK_CHUNK_BYTES + 4096;
/** How long a responder tries the initiator's addresses before WebRTC. */
const CONNECT_TIMEOUT_MS = 1500;
/** How long an initiator keeps a token for the responder to come. */
const TOKEN_TTL_MS = 15_000;

export interface FastOffer {
  port: number;
  addrs: string[];
  host: string;
  token: string;
}

function hostKey(): string {
  let boot = '';
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // not Linux: the host name alone
  }
  return `${hostname()}/${boot}`;
}

/** This process's listener: sockets presenting a token go to the link that issued it. */
class FastListener {
  private server: Server | null = null;
  private ready: Promise<number> | null = null;
  private readonly expecting = new Map<string, { accept: (s: Socket) => void; timer: NodeJS.Timeout }>();
  readonly host = hostKey();

  constructor(private readonly bindHost: string) {}

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

  expect(token: string, accept: (s: Socket) => void): void {
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
    s.setNoDelay(true);
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => s.destroy(), CONNECT_TIMEOUT_MS * 2);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < HELLO_BYTES) return;
      clearTimeout(timer);
      s.off('data', onData);
      const token = got.subarray(MAGIC.length, HELLO_BYTES).toString('latin1');
      const e = got.subarray(0, MAGIC.length).equals(MAGIC) ? this.expecting.get(token) : undefined;
      if (!e || got.length > HELLO_BYTES) return void s.destroy(); // unknown token, or talking before the answer
      this.forget(token);
      e.accept(s);
    };
    s.on('data', onData);
    s.on('error', () => s.destroy());
  }

  close(): void {
    this.server?.close();
  }
}

let listener: FastListener | null = null;

function theListener(): FastListener {
  listener ??= new FastListener(process.env.TABMESH_LINK_HOST ?? '0.0.0.0');
  return listener;
}

/** A RawPeer over a connected, authenticated socket. */
function attachSocket(
  raw: RawPeer & { bufferedNow: () => number },
  s: Socket,
  onGone: () => void,
): { send: (b: Uint8Array) => void; sendv: (parts: Uint8Array[]) => void; destroy: () => void } {
  s.setNoDelay(true);
  let bufs: Buffer[] = [];
  let have = 0;
  let closed = false;
  const gone = (why: string) => {
    if (closed) return;
    closed = true;
    onGone();
    s.destroy();
    raw.onClose(why);
  };
  s.on('data', (d: Buffer) => {
    bufs.push(d);
    have += d.length;
    while (have >= 4) {
      const head = bufs[0].length >= 4 ? bufs[0] : Buffer.concat(bufs);
      if (head !== bufs[0]) bufs = [head];
      const len = head.readUInt32LE(0);
      if (len > MAX_FRAME) return gone(`a frame of ${len} bytes from the peer`);
      if (have < 4 + len) return;
      let msg: Uint8Array;
      if (bufs[0].length >= 4 + len) {
        msg = bufs[0].subarray(4, 4 + len);
        const rest = bufs[0].subarray(4 + len);
        if (rest.length) bufs[0] = rest;
        else bufs.shift();
      } else {
        const all = Buffer.concat(bufs);
        msg = all.subarray(4, 4 + len);
        const rest = all.subarray(4 + len);
        bufs = rest.length ? [rest] : [];
      }
      have -= 4 + len;
      try {
        raw.onData(msg);
      } catch (e) {
        return gone(`error: ${(e as Error).message}`);
      }
      if (closed) return;
    }
  });
  s.on('drain', () => raw.onDrain());
  s.resume();
  s.on('close', () => gone('closed by the other side'));
  s.on('error', (e) => gone(`error: ${e.message}`));
  const lenOf = (n: number) => {
    const h = Buffer.allocUnsafe(4);
    h.writeUInt32LE(n, 0);
    return h;
  };
  return {
    send: (b) => {
      s.write(lenOf(b.byteLength));
      s.write(b);
    },
    sendv: (parts) => {
      let n = 0;
      for (const p of parts) n += p.byteLength;
      s.cork();
      s.write(lenOf(n));
      for (const p of parts) s.write(p);
      s.uncork();
    },
    destroy: () => {
      if (closed) return;
      closed = true;
      onGone();
      s.destroy();
    },
  };
}

function isFastOffer(v: unknown): v is FastOffer {
  const f = v as FastOffer;
  return (
    typeof f === 'object' &&
    f !== null &&
    Number.isInteger(f.port) &&
    f.port > 0 &&
    f.port < 65536 &&
    typeof f.host === 'string' &&
    typeof f.token === 'string' &&
    /^[0-9a-f]{32}$/.test(f.token) &&
    Array.isArray(f.addrs) &&
    f.addrs.length <= 8 &&
    f.addrs.every((a) => typeof a === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(a))
  );
}

function connectAny(addrs: string[], port: number, token: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    let i = 0;
    let done = false;
    const deadline = setTimeout(() => finish(null), CONNECT_TIMEOUT_MS);
    let current: Socket | null = null;
    const finish = (s: Socket | null) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (!s) current?.destroy();
      resolve(s);
    };
    const next = () => {
      if (done) return;
      if (i >= addrs.length) return finish(null);
      const s = tcpConnect({ host: addrs[i++], port });
      current = s;
      s.once('error', () => next());
      s.once('connect', () => {
        s.setNoDelay(true);
        s.write(Buffer.concat([MAGIC, Buffer.from(token, 'latin1')]));
        const onData = (d: Buffer) => {
          s.off('data', onData);
          if (d[0] !== 1) return void s.destroy();
          // Held until the link listens (attachSocket resumes it): nothing is lost meanwhile.
          s.pause();
          if (d.length > 1) s.unshift(d.subarray(1));
          s.removeAllListeners('error');
          finish(s);
        };
        s.on('data', onData);
        s.once('close', () => next());
      });
    };
    next();
  });
}

/**
 * A PeerFactory that tries a TCP link first and falls back to `webrtc`
 * (undefined where WebRTC does not load: then TCP or nothing). Off with
 * TABMESH_FAST_LINKS=0.
 */
export function fastPeerFactory(webrtc: PeerFactory | undefined): PeerFactory {
  const l = theListener();
  return (initiator) => {
    let inner: RawPeer | null = null;
    let sock: ReturnType<typeof attachSocket> | null = null;
    let closed = false;
    let token = '';
    const pending: unknown[] = [];
    let decided = false;
    let connected = false;
    const raw: RawPeer & { bufferedNow: () => number; sendv?: (parts: Uint8Array[]) => void } = {
      signal: (d) => {
        if (closed || sock) return;
        if (inner) return inner.signal(d);
        if (initiator) return;
        pending.push(d);
        if (decided) return;
        decided = true;
        const fast = (d as { tabmeshFast?: unknown }).tabmeshFast;
        if (!isFastOffer(fast)) return useWebrtc();
        const addrs = fast.host === l.host ? ['127.0.0.1', ...fast.addrs] : fast.addrs;
        void connectAny(addrs, fast.port, fast.token).then((s) => {
          if (closed) return void s?.destroy();
          if (!s) return useWebrtc();
          useSocket(s);
        });
      },
      send: (b) => {
        if (sock) sock.send(b);
        else if (inner) inner.send(b);
        else throw new Error('not connected');
      },
      get bufferedAmount() {
        return raw.bufferedNow();
      },
      get transport() {
        return sock ? 'tcp' : 'webrtc';
      },
      bufferedNow: () => (sock ? sockRef!.writableLength : inner ? inner.bufferedAmount : 0),
      destroy: () => {
        if (closed) return;
        closed = true;
        if (token) l.forget(token);
        sock?.destroy();
        inner?.destroy();
        raw.onClose('closed here');
      },
      onSignal: () => {},
      onConnect: () => {},
      onData: () => {},
      onClose: () => {},
      onDrain: () => {},
    };
    let sockRef: Socket | null = null;
    const useSocket = (s: Socket) => {
      if (inner) {
        // The WebRTC attempt is dropped without a word to the link: TCP won.
        const old = inner;
        inner = null;
        old.onClose = () => {};
        old.onConnect = () => {};
        old.onData = () => {};
        old.onSignal = () => {};
        old.destroy();
      }
      sockRef = s;
      sock = attachSocket(raw, s, () => {
        closed = true;
      });
      raw.sendv = (parts) => sock!.sendv(parts);
      connected = true;
      raw.onConnect();
    };
    const useWebrtc = () => {
      if (closed) return;
      if (!webrtc) return raw.destroy();
      const p = webrtc(initiator);
      inner = p;
      p.onSignal = (s) => {
        if (initiator && !token && (s as { type?: string }).type === 'offer') {
          void offerWithFast(s);
        } else raw.onSignal(s);
      };
      p.onConnect = () => {
        connected = true;
        raw.onConnect();
      };
      p.onData = (b) => raw.onData(b);
      p.onClose = (why) => {
        if (closed) return;
        closed = true;
        if (token) l.forget(token);
        raw.onClose(why);
      };
      p.onDrain = () => raw.onDrain();
      for (const d of pending.splice(0)) p.signal(d);
    };
    const offerWithFast = async (offer: unknown) => {
      let port: number;
      try {
        port = await l.port();
      } catch {
        return raw.onSignal(offer);
      }
      if (closed) return;
      token = randomBytes(TOKEN_CHARS / 2).toString('hex');
      l.expect(token, (s) => {
        if (closed || sock || connected) return void s.destroy(); // WebRTC came up first

        s.write(Buffer.from([1]));
        useSocket(s);
      });
      const fast: FastOffer = { port, addrs: l.addrs(), host: l.host, token };
      raw.onSignal({ ...(offer as object), tabmeshFast: fast });
    };
    if (initiator) {
      if (webrtc) useWebrtc();
      // Without WebRTC the offer carries only the TCP part (a tab cannot answer it).
      else queueMicrotask(() => void offerWithFast({ type: 'offer', sdp: '' }));
    }
    return raw;
  };
}
