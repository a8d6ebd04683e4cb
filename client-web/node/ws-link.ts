// A tab's link to a Node peer over a WebSocket (issue 17, tenth session; the
// Node side is edge/fast-ws.ts, the handshake edge/fast-link.ts's): Chromium
// spends 340-520 ms of CPU per MiB on a data channel here and 68-100 ms on a
// WebSocket (docs/decisions.md). Between tabs, and wherever the dial fails,
// links stay WebRTC.
//
// As initiator the tab offers over WebRTC with `tabmeshFast: { dial: true, ws:
// true }`; a Node responder answers (through the coordinator's relay) with
// its addresses, its WebSocket port and a one-time token. As responder to a
// Node peer's offer (`tabmeshFast: { dial: true }` without `ws`: a Node peer
// listens) the tab holds the offer and asks for that answer. Either way the
// tab dials `ws://addr:port/tabmesh-link`, presents the token and waits for
// the byte 1; if nothing answers in time it says `{ failed: true }` and the
// WebRTC attempt goes on. A page served over https keeps WebRTC from its
// first offer (ws:// to a peer's address is mixed content; Node peers have no
// certificates for wss; test/p2p/ws-link.test.ts); `?wslinks=0` turns the
// WebSocket off.
import { CLOSED_BY_PEER, DRAIN_LOW_WATER, isDialAnswer, isPort, unhandled, type PeerFactory, type RawPeer } from '../../shared/transfer/raw-peer.js';
import { MAX_CHUNK_DATA_BYTES } from '../../shared/transfer/wire.js';
import { workerEvery } from './ticker.js';

const MAGIC = 'TMW1';
const PATH = '/tabmesh-link';
/** How long the tab tries the answered addresses; the Node side waits 2.5 s for a dial before WebRTC. */
const DIAL_MS = 2000;
/** How long a responder waits for the Node initiator's answer before WebRTC. */
const ASK_MS = 3000;

/**
 * A browser's WebSocket fires no event as its queue empties, and a hidden
 * page's timers fire at most once a second: a sender waiting on a full
 * socket would send 2 MiB a second. Sockets with a waiting sender are looked
 * at every DRAIN_TICK_MS from a worker's timer (ticker.ts: not throttled),
 * which stops after IDLE_TICKS looks with nothing waiting.
 */
const DRAIN_TICK_MS = 5;
const IDLE_TICKS = 200;
const draining = new Set<() => boolean>();
let stopTicks: (() => void) | null = null;
let idleTicks = 0;

/** Calls `check` on each tick until it returns true. */
function untilDrained(check: () => boolean): void {
  draining.add(check);
  idleTicks = 0;
  stopTicks ??= workerEvery(DRAIN_TICK_MS, () => {
    for (const c of [...draining]) if (c()) draining.delete(c);
    if (draining.size > 0) idleTicks = 0;
    else if (++idleTicks >= IDLE_TICKS) {
      stopTicks?.();
      stopTicks = null;
    }
  });
}

interface WsAnswer {
  addrs: string[];
  token: string;
  ws: number;
}

function isWsAnswer(v: unknown): v is WsAnswer {
  return isDialAnswer(v) && isPort((v as Partial<WsAnswer>).ws);
}

const fastOf = (d: unknown) =>
  typeof d === 'object' && d !== null ? (d as { tabmeshFast?: { dial?: unknown; ws?: unknown; failed?: unknown } }).tabmeshFast : undefined;

/** Whether this page may dial Node peers over a WebSocket. */
export function wsLinksAllowed(loc: { protocol: string; search: string } | undefined = globalThis.location): boolean {
  if (typeof WebSocket === 'undefined' || !loc) return false;
  if (new URLSearchParams(loc.search).get('wslinks') === '0') return false;
  return loc.protocol === 'http:';
}

/** Dials the first of `addrs` that takes the token; null when none did within DIAL_MS. */
function dialAny(a: WsAnswer): Promise<WebSocket | null> {
  const addrs = [...a.addrs];
  // A page served from loopback may share the Node peer's host: loopback last.
  if (/^(127\.0\.0\.1|localhost)$/.test(globalThis.location?.hostname ?? '')) addrs.push('127.0.0.1');
  return new Promise((resolve) => {
    let done = false;
    let current: WebSocket | null = null;
    const finish = (ws: WebSocket | null) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (!ws) current?.close();
      resolve(ws);
    };
    const deadline = setTimeout(() => finish(null), DIAL_MS);
    const next = (i: number) => {
      if (done) return;
      if (i >= addrs.length) return finish(null);
      let ws: WebSocket;
      try {
        ws = new WebSocket(`ws://${addrs[i]}:${a.ws}${PATH}`);
      } catch {
        return next(i + 1);
      }
      current = ws;
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => ws.send(MAGIC + a.token);
      ws.onmessage = (e) => {
        ws.onmessage = null;
        ws.onclose = null;
        const b = e.data instanceof ArrayBuffer ? new Uint8Array(e.data) : null;
        if (b?.byteLength === 1 && b[0] === 1) finish(ws);
        else ws.close();
      };
      // Refused (a wrong token, a port that is not ours) or unreachable: the next address.
      ws.onclose = () => next(i + 1);
    };
    next(0);
  });
}

/**
 * A Node initiator's first signal (edge/fast-link.ts DIAL_PROBE, issue 17, session 23): an offer without SDP asking
 * for a TCP or WebSocket answer. Its WebRTC offer comes only when the dial fails, it hears `failed`, or after its grace.
 */
const isDialProbe = (d: unknown): boolean => (d as { type?: unknown }).type === 'offer' && !(d as { sdp?: unknown }).sdp && fastOf(d)?.dial === true;

/** A tab that dials no WebSocket says `failed` to a probe at once: the Node initiator then offers over WebRTC without its grace. */
function refuseDialProbes(webrtc: PeerFactory): PeerFactory {
  return (initiator, ice) => {
    const p = webrtc(initiator, ice);
    const signal = p.signal.bind(p);
    p.signal = (d) => (!initiator && isDialProbe(d) ? p.onSignal({ tabmeshFast: { failed: true } }) : signal(d));
    return p;
  };
}

/** A PeerFactory that dials Node peers over a WebSocket where it can and uses `webrtc` for the rest. */
export function wsPeerFactory(webrtc: PeerFactory | undefined): PeerFactory | undefined {
  if (!webrtc) return webrtc;
  if (!wsLinksAllowed()) return refuseDialProbes(webrtc);
  return (initiator, ice) => {
    // Relay-only links keep addresses private: no answer with them.
    if (ice?.relayOnly) return webrtc(initiator, ice);
    let inner: RawPeer | null = null;
    let ws: WebSocket | null = null;
    let closed = false;
    let connected = false;
    let asked = false;
    let dialled = false;
    let askWait: ReturnType<typeof setTimeout> | undefined;
    /** A drain check is registered for the socket's queue (untilDrained). */
    let watching = false;
    const pending: unknown[] = [];
    const raw: RawPeer = {
      signal: (d) => {
        if (closed || ws) return;
        const fast = fastOf(d);
        if (fast !== undefined && (d as { type?: unknown }).type === undefined) return dial(fast);
        if (inner) return inner.signal(d);
        pending.push(d);
        if (asked) return;
        asked = true;
        // An offer from a Node peer (it listens; a tab's offer says `ws`): ask for its WebSocket first.
        if (fast?.dial !== true || fast.ws === true) return useWebrtc();
        raw.onSignal({ tabmeshFast: { dial: true } });
        askWait = setTimeout(useWebrtc, ASK_MS);
      },
      send: (b) => {
        if (ws) {
          ws.send(b);
          if (!watching && ws.bufferedAmount >= DRAIN_LOW_WATER) {
            watching = true;
            const s = ws;
            untilDrained(() => {
              if (closed || s.bufferedAmount >= DRAIN_LOW_WATER) return closed;
              watching = false;
              raw.onDrain();
              return true;
            });
          }
        } else if (inner) inner.send(b);
        else throw new Error('not connected');
      },
      // A WebSocket has one stream: its small messages go in order with the chunks.
      sendSmall: (b) => !ws && inner !== null && inner.sendSmall?.(b) === true,
      get bufferedAmount() {
        return ws ? ws.bufferedAmount : inner ? inner.bufferedAmount : 0;
      },
      stats: () => (!ws && inner?.stats ? inner.stats() : Promise.reject(new Error(ws ? 'a WebSocket link' : 'no connection'))),
      get drainEvents() {
        return ws ? true : inner?.drainEvents;
      },
      // Blink's WebSocket.send copies the bytes before it returns (into its queue or the network pipe).
      get sendCopies() {
        return ws ? true : inner?.sendCopies;
      },
      get transport() {
        return ws ? 'ws' : 'webrtc';
      },
      get remoteNode() {
        return ws !== null;
      },
      // Chunks of 1 MiB from the Node peer; this tab sends one-leaf chunks (a Node reader asks for no more): Chromium's
      // WebSocket.send holds the main thread 2-3x longer per MiB for 1 MiB messages than for 64 KiB ones. The sender
      // stops at the default 2 MiB (one pump never holds the thread long) and is woken by untilDrained.
      get chunkBytes() {
        return ws ? MAX_CHUNK_DATA_BYTES : inner?.chunkBytes;
      },
      // A data channel's own (raw-peer.ts CHANNEL_HIGH_WATER: within SCTP's send buffer); it was lost here (issue 17, session 15).
      get sendHighWater() {
        return ws ? undefined : inner?.sendHighWater;
      },
      destroy: () => {
        if (closed) return;
        closed = true;
        clearTimeout(askWait);
        ws?.close();
        inner?.destroy();
        raw.onClose('closed here');
      },
      ...unhandled(),
    };
    const gone = (why: string, peerFault = false) => {
      if (closed) return;
      closed = true;
      ws?.close();
      raw.onClose(why, peerFault);
    };
    const useWs = (s: WebSocket) => {
      clearTimeout(askWait);
      if (inner) {
        // The WebRTC attempt is dropped without a word to the link: the WebSocket won.
        const old = inner;
        inner = null;
        old.onClose = () => {};
        old.onConnect = () => {};
        old.onData = () => {};
        old.onSignal = () => {};
        old.destroy();
      }
      ws = s;
      s.onmessage = (e) => {
        if (closed) return;
        if (!(e.data instanceof ArrayBuffer)) return gone('a text message on the link', true);
        raw.onData(new Uint8Array(e.data));
      };
      s.onclose = (e) => gone(`${CLOSED_BY_PEER} (${e.code})`);
      connected = true;
      raw.onConnect();
    };
    const useWebrtc = () => {
      clearTimeout(askWait);
      if (closed || inner || ws) return;
      const p = webrtc(initiator, ice);
      inner = p;
      p.onSignal = (s) => {
        if (initiator && (s as { type?: string }).type === 'offer') raw.onSignal({ ...(s as object), tabmeshFast: { dial: true, ws: true } });
        else raw.onSignal(s);
      };
      p.onConnect = () => {
        connected = true;
        raw.onConnect();
      };
      p.onData = (b) => raw.onData(b);
      p.onClose = (why, peerFault) => {
        if (closed) return;
        closed = true;
        raw.onClose(why, peerFault);
      };
      p.onDrain = () => raw.onDrain();
      for (const d of pending.splice(0)) p.signal(d);
    };
    const dial = (fast: unknown) => {
      if (dialled || connected) return;
      dialled = true;
      clearTimeout(askWait);
      const failed = () => {
        if (closed || connected) return;
        raw.onSignal({ tabmeshFast: { failed: true } });
        useWebrtc();
      };
      if (!isWsAnswer(fast)) return failed();
      void dialAny(fast).then((s) => {
        if (closed || connected) return void s?.close();
        if (!s) return failed();
        useWs(s);
      });
    };
    if (initiator) useWebrtc();
    return raw;
  };
}
