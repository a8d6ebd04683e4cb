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
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { PeerFactory, RawPeer } from '../shared/transfer/raw-peer.js';
import { MAX_CHUNK_DATA_BYTES } from '../shared/transfer/wire.js';
import { attachSocket } from './fast-socket.js';
import { TOKEN_CHARS, connectAny, theListener } from './fast-listener.js';

/** What a sender queues on a TCP link before it waits: views of the objects it sends, no copies. */
const FAST_SEND_HIGH_WATER = 16 << 20;

export interface FastOffer {
  port: number;
  addrs: string[];
  host: string;
  token: string;
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

/**
 * A PeerFactory that tries a TCP link first and falls back to `webrtc`
 * (undefined where WebRTC does not load: then TCP or nothing). Off with
 * TABMESH_FAST_LINKS=0.
 */
export function fastPeerFactory(webrtc: PeerFactory | undefined): PeerFactory {
  const l = theListener();
  return (initiator, ice) => {
    // Relay-only links keep both sides' addresses private: no TCP offer, which carries them.
    if (ice?.relayOnly && webrtc) return webrtc(initiator, ice);
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
      get chunkBytes() {
        return sock ? MAX_CHUNK_DATA_BYTES : undefined;
      },
      get sendHighWater() {
        return sock ? FAST_SEND_HIGH_WATER : undefined;
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
      const p = webrtc(initiator, ice);
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
