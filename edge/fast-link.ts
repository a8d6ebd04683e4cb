// Fast links between Node peers (issue 17): edge nodes and Node drivers reach
// each other over a plain TCP connection when they can, WebRTC otherwise;
// tabs keep WebRTC.
//
// No new coordinator message: signals travel through the coordinator's
// signalling relay, which vouches for who sent them. The initiator's WebRTC
// offer carries `tabmeshFast: { dial: true }`. A Node responder answers with
// `tabmeshFast`: its process's listening port, its addresses, a host key
// (same host: loopback first) and a one-time token; the initiator dials and
// presents the token, the responder accepts that socket as the link, and both
// drop their WebRTC attempts. The initiator dials (not the responder) because
// it is usually the reader, and Node reads straight into the object's memory
// (`onread`) only on sockets it connects (edge/fast-frames.ts). A tab ignores
// the field (its WebRTC stack reads only type and sdp) and answers as before.
// An initiator that cannot connect in time says so (`tabmeshFast: { failed:
// true }`) and the responder feeds the offer to WebRTC; so does a responder
// whose token nobody presented in time.
//
// On the wire: the initiator sends "TMF1" and the 32-character token, the
// responder answers one byte (1), then both sides send frames of a 4-byte
// little-endian length and a link message (shared/transfer/wire.ts).
//
// Tabs (tenth session, fast-ws.ts and client-web/node/ws-link.ts): a tab's
// offer says `{ dial: true, ws: true }`; the answer then also carries `ws`,
// the port of this process's WebSocket listener, and the tab dials that with
// the token. A tab answering this side's offer asks for the same answer
// (`{ dial: true }` without a type) before it answers over WebRTC.
//
// Dial first (issue 17, session 23): building the WebRTC peer held the
// initiator's thread 12-15 ms before its offer left. The initiator now sends
// DIAL_PROBE at once, an offer without SDP, and builds WebRTC only when the
// dial fails, the peer says `failed`, or nothing answers in WEBRTC_GRACE_MS.
// Older peers need no flag: a Node responder answers the probe as it did the
// offer, a tab asks for its WebSocket; where a responder falls back to WebRTC
// the probe reaches its simple-peer, which ignores `renegotiate` as responder
// (a plain WebRTC peer, e.g. an https tab, ignores it too: the grace).
import { randomBytes } from 'node:crypto';
import { isDialAnswer, isPort, unhandled, type PeerFactory, type RawPeer } from '../shared/transfer/raw-peer.js';
import { MAX_CHUNK_DATA_BYTES } from '../shared/transfer/wire.js';
import { attachSocket } from './fast-socket.js';
import type { FrameReader } from './fast-frames.js';
import { CONNECT_TIMEOUT_MS, TOKEN_CHARS, connectAny, theListener, type FastConn } from './fast-listener.js';
import { attachWs } from './fast-ws.js';

/** What a sender queues on a TCP link before it waits: views of the objects it sends, no copies. */
const FAST_SEND_HIGH_WATER = 16 << 20;
/** How long a responder waits for the initiator to dial before WebRTC (its dialling gives up after CONNECT_TIMEOUT_MS). */
const DIAL_WAIT_MS = CONNECT_TIMEOUT_MS + 1000;
/**
 * How long an initiator waits for any answer to its probe before it builds WebRTC beside the dial (a peer that
 * ignores the probe: a plain WebRTC one). An answer within it, quiet, takes ~10 ms through the relay.
 */
export const WEBRTC_GRACE_MS = 50;
/**
 * The initiator's first signal: an offer without SDP that asks a Node responder for its TCP answer. `renegotiate`
 * makes a responder's simple-peer (where it falls back to WebRTC) ignore it rather than fail on a signal without SDP.
 */
export const DIAL_PROBE = { type: 'offer', renegotiate: true, tabmeshFast: { dial: true } } as const;

export interface FastAnswer {
  port: number;
  addrs: string[];
  host: string;
  token: string;
  /** The WebSocket port, for a tab (fast-ws.ts). */
  ws?: number;
}

function isFastAnswer(v: unknown): v is FastAnswer {
  const f = v as Partial<FastAnswer>;
  return isDialAnswer(v) && isPort(f.port) && typeof f.host === 'string' && (f.ws === undefined || isPort(f.ws));
}

/** The `tabmeshFast` field of a signal, if it has one. */
const fastOf = (d: unknown): unknown => (typeof d === 'object' && d !== null ? (d as { tabmeshFast?: unknown }).tabmeshFast : undefined);

/**
 * A PeerFactory that tries a TCP link first and falls back to `webrtc`
 * (undefined where WebRTC does not load: then TCP or nothing). Off with
 * TABMESH_FAST_LINKS=0.
 */
export function fastPeerFactory(webrtc: PeerFactory | undefined): PeerFactory {
  const l = theListener();
  return (initiator, ice) => {
    // Relay-only links keep both sides' addresses private: no TCP answer, which carries them.
    if (ice?.relayOnly && webrtc) return webrtc(initiator, ice);
    let inner: RawPeer | null = null;
    /** The TCP socket or tab's WebSocket this link runs over, once one presented the token. */
    let sock: { kind: 'tcp' | 'ws'; send: (b: Uint8Array) => void; sendv: (parts: Uint8Array[]) => void; destroy: () => void; buffered: () => number } | null =
      null;
    let closed = false;
    /** The responder's token, while it waits for the initiator to dial. */
    let token = '';
    let dialWait: NodeJS.Timeout | undefined;
    /** Initiator: builds WebRTC when the probe got no answer in time. */
    let grace: NodeJS.Timeout | undefined;
    const pending: unknown[] = [];
    let decided = false;
    let dialled = false;
    let connected = false;
    const raw: RawPeer & { bufferedNow: () => number; sendv?: (parts: Uint8Array[]) => void } = {
      signal: (d) => {
        if (closed || sock) return;
        const fast = fastOf(d) as { dial?: unknown; failed?: unknown; ws?: unknown } | undefined;
        if (initiator && fast !== undefined && (d as { type?: unknown }).type === undefined) {
          // A tab answering this side's offer asks for a WebSocket to dial; one that could not dial it says so (WebRTC goes on).
          clearTimeout(grace);
          if (fast.failed === true) return useWebrtc();
          if (fast.dial === true) return void answerFast(true);
          return dial(fast);
        }
        if (!initiator && fast?.failed === true) return useWebrtc();
        if (inner) return inner.signal(d);
        if (initiator) return;
        pending.push(d);
        if (decided) return;
        decided = true;
        if (fast?.dial !== true) return useWebrtc();
        void answerFast(fast.ws === true);
      },
      send: (b) => {
        if (sock) sock.send(b);
        else if (inner) inner.send(b);
        else throw new Error('not connected');
      },
      // A socket has one stream: its small messages go in order with the chunks.
      sendSmall: (b) => !sock && inner !== null && inner.sendSmall?.(b) === true,
      get bufferedAmount() {
        return raw.bufferedNow();
      },
      get transport() {
        return sock ? sock.kind : 'webrtc';
      },
      // Over 'ws' the other end is a tab that dialled this process.
      get remoteNode() {
        return sock?.kind === 'tcp';
      },
      // A tab's WebSocket.send blocks its main thread ~60 ms per MiB in 64 KiB messages and 2-3x that in 1 MiB ones
      // (bench/tmp runs, session 10): a reader here asks a tab for one-leaf chunks; a tab asks this side for 1 MiB ones.
      get chunkBytes() {
        return sock?.kind === 'tcp' ? MAX_CHUNK_DATA_BYTES : undefined;
      },
      get sendHighWater() {
        return sock ? FAST_SEND_HIGH_WATER : undefined;
      },
      bufferedNow: () => (sock ? sock.buffered() : inner ? inner.bufferedAmount : 0),
      destroy: () => {
        if (closed) return;
        closed = true;
        forgetToken();
        sock?.destroy();
        inner?.destroy();
        raw.onClose('closed here');
      },
      ...unhandled(),
    };
    const forgetToken = () => {
      clearTimeout(dialWait);
      clearTimeout(grace);
      if (token) l.forget(token);
      token = '';
    };
    const useSocket = (c: FastConn, reader?: FrameReader) => {
      forgetToken();
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
      const gone = () => {
        closed = true;
      };
      if (c.kind === 'ws') sock = { kind: 'ws', ...attachWs(raw, c.ws, gone) };
      else {
        const s = c.s;
        sock = { kind: 'tcp', ...attachSocket(raw, s, gone, reader), buffered: () => s.writableLength };
      }
      raw.sendv = (parts) => sock!.sendv(parts);
      connected = true;
      raw.onConnect();
    };
    const useWebrtc = () => {
      forgetToken();
      if (closed || inner || sock) return;
      if (!webrtc) return raw.destroy();
      const p = webrtc(initiator, ice);
      inner = p;
      p.onSignal = (s) => {
        if (initiator && (s as { type?: string }).type === 'offer') raw.onSignal({ ...(s as object), tabmeshFast: { dial: true } });
        else raw.onSignal(s);
      };
      p.onConnect = () => {
        connected = true;
        raw.onConnect();
      };
      p.onData = (b) => raw.onData(b);
      p.onClose = (why) => {
        if (closed) return;
        closed = true;
        forgetToken();
        raw.onClose(why);
      };
      p.onDrain = () => raw.onDrain();
      for (const d of pending.splice(0)) p.signal(d);
    };
    /**
     * Listens (once per process) and answers with the port and a token for
     * the other side to present: a Node initiator over TCP, a tab (`forTab`)
     * over a WebSocket, whether it made the offer or answers this side's.
     */
    const answerFast = async (forTab: boolean) => {
      if (token) return;
      let port: number;
      let ws: number | undefined;
      try {
        port = await l.port();
        if (forTab) ws = await l.ws.port();
      } catch {
        return useWebrtc();
      }
      if (closed || sock || connected || token) return;
      token = randomBytes(TOKEN_CHARS / 2).toString('hex');
      l.expect(token, (c) => {
        // Gave up waiting (WebRTC meanwhile): an initiator's own WebRTC attempt goes on beside the token until a socket comes.
        if (closed || sock || connected || (inner && !initiator)) return void (c.kind === 'tcp' ? c.s.destroy() : c.ws.terminate());
        if (c.kind === 'tcp') c.s.write(Buffer.from([1]));
        useSocket(c);
      });
      dialWait = setTimeout(useWebrtc, DIAL_WAIT_MS);
      const fast: FastAnswer = { port, addrs: l.addrs(), host: l.host, token, ...(ws ? { ws } : {}) };
      raw.onSignal({ tabmeshFast: fast });
    };
    /** Initiator: dials the responder's answer; on failure tells it to go on with WebRTC. */
    const dial = (fast: unknown) => {
      if (dialled) return;
      dialled = true;
      const failed = () => {
        if (closed || connected) return;
        raw.onSignal({ tabmeshFast: { failed: true } });
        useWebrtc();
      };
      if (!isFastAnswer(fast)) return failed();
      const addrs = fast.host === l.host ? ['127.0.0.1', ...fast.addrs] : fast.addrs;
      void connectAny(addrs, fast.port, fast.token).then((got) => {
        if (closed || connected) return void got?.s.destroy();
        if (!got) return failed();
        useSocket({ kind: 'tcp', s: got.s }, got.reader);
      });
    };
    if (initiator) {
      // After the link has set its handlers. Without WebRTC the probe is all there is (a plain WebRTC peer cannot answer it).
      queueMicrotask(() => {
        if (closed || sock) return;
        raw.onSignal(DIAL_PROBE);
        if (webrtc) grace = setTimeout(useWebrtc, WEBRTC_GRACE_MS);
      });
    }
    return raw;
  };
}
