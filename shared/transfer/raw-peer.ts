// The peer link's platform seam (ARCHITECTURE.md: "platform specifics come in
// through small interfaces"): one WebRTC data channel to one other peer.
// Browsers back it with simple-peer's browser bundle, edge nodes and Node
// drivers with simple-peer over @roamhq/wrtc; tests can back it with a fake.
import { CHUNK_DATA_BYTES, CHUNK_HEADER_BYTES } from './wire.js';
import { statsOf, type LinkStats } from './link-stats.js';
import type { Placement } from './placement.js';

export interface RawPeer {
  /** Feeds a signal (offer, answer, candidate) from the other side. */
  signal(data: unknown): void;
  send(bytes: Uint8Array): void;
  /** What carries it ('tcp', 'webrtc'), where a factory can tell. */
  readonly transport?: string;
  /**
   * The other end is a Node process (an edge node or a driver) over a stream
   * link: TCP between Node peers, a tab's WebSocket to one. A swarm reader
   * takes what it can from such a source before tab peers (swarm-policy.ts).
   */
  readonly remoteNode?: boolean;
  /**
   * Sends a small message (a have map, a request, a cancel) on the link's lane:
   * a second data channel beside the one that carries chunks, so it does not
   * wait behind the chunks queued there (up to 1.5 MiB). False when there is no
   * lane, or not yet: the caller sends on the main channel.
   */
  sendSmall?(bytes: Uint8Array): boolean;
  /**
   * send() copies the bytes before it returns (browsers' WebSocket and data
   * channel do): the caller may reuse its buffer at once (issue 17).
   */
  readonly sendCopies?: boolean;
  /** Sends the parts as one message without joining them first (stream links: no copy). */
  sendv?(parts: Uint8Array[]): void;
  /** Bytes queued on the channel and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** The transport's own counters, for diagnostics (WebRTC: getStats' candidate pair, transport and data channels). */
  stats?(): Promise<LinkStats>;
  destroy(): void;
  onSignal: (data: unknown) => void;
  onConnect: () => void;
  onData: (bytes: Uint8Array) => void;
  /**
   * The channel is gone (closed by either side, or failed; `peerFault`: the peer broke the framing); called once.
   * A close the other side made says so with a `why` that starts with CLOSED_BY_PEER.
   */
  onClose: (why: string, peerFault?: boolean) => void;
  /** The channel's queue fell below the low-water mark. Not every platform fires it: senders also poll. */
  onDrain: () => void;
  /** Whether onDrain fires each time the queue falls below the low-water mark: a waiting sender then needs no short timer. */
  readonly drainEvents?: boolean;
  /**
   * Stream links (issue 17), and browsers' data channels (whole leaves that
   * fit the peer's largest message: `channelChunkBytes`): object bytes per
   * chunk the link takes (the reader asks holders for chunks this large),
   * and, set by the link, where a
   * chunk's data goes once its header is in (`placeChunk`; undefined: the
   * chunk arrives whole through onData) and its arrival there (`onChunkPlaced`).
   */
  readonly chunkBytes?: number;
  /**
   * Bytes a sender may queue on the link before it waits for the drain
   * (stream links: the queue holds views of the object, not copies, and a
   * deep one keeps the socket busy while the process waits for the CPU;
   * data channels: less, CHANNEL_HIGH_WATER, so their queue stays within SCTP's).
   */
  readonly sendHighWater?: number;
  placeChunk?: (x: number, o: number, n: number, len: number) => Placement | undefined;
  onChunkPlaced?: (x: number, o: number, n: number, d: Uint8Array) => void;
  /**
   * Stream links read in place (issue 14): set by the link, whether chunks of
   * its own transfers are on their way (its reader then reads a frame's head
   * alone, so that a chunk's data goes straight to its place; else a read
   * takes a whole small frame). `expectChunks`, set by the socket side: the
   * link is about to ask for an object's chunks.
   */
  awaitingChunks?: () => boolean;
  expectChunks?: () => void;
}

/** An RTCIceServer (the coordinator hands them out: coordinator/signal/ice.ts). */
export interface IceServer {
  urls: string;
  username?: string;
  credential?: string;
}

/** The ICE servers a peer's links use; `relayOnly`: TURN-relayed candidates only (no address of either side is exposed). */
export interface IceConfig {
  iceServers: IceServer[];
  relayOnly?: boolean;
}

/** Makes the local end of a new connection; the initiator makes the offer. Without `ice`, host candidates only. */
export type PeerFactory = (initiator: boolean, ice?: IceConfig) => RawPeer;

/** The part of simple-peer 9's instance this adapter uses. */
interface SimplePeerLike {
  _pc?: {
    createDataChannel(label: string, init: Record<string, unknown>): LaneChannel;
    getStats(): Promise<Map<string, Record<string, unknown>>>;
    readonly sctp?: { readonly maxMessageSize: number } | null;
  } | null;
  signal(data: unknown): void;
  send(data: Uint8Array): void;
  destroy(): void;
  on(ev: string, fn: (...a: any[]) => void): void;
  readonly bufferSize: number;
  _channel?: { bufferedAmountLowThreshold: number } | null;
  _onChannelBufferedAmountLow?: () => void;
  /** The data channel's message handler (simple-peer's channel.onmessage calls it by name): see simplePeerFactory. */
  _onChannelMessage?: (ev: { data: unknown }) => void;
  readonly destroyed?: boolean;
}
type SimplePeerCtor = new (opts: Record<string, unknown>) => SimplePeerLike;

/** Below this, a sender waiting on the channel goes on. */
export const DRAIN_LOW_WATER = 512 * 1024;

/**
 * What Chromium's SCTP (dcsctp) takes queued per association
 * (DcSctpOptions.max_send_buffer_size, 2,000,000 bytes). A message past it
 * waits in the data channel's own queue until the transport says it is ready
 * to send again (below 1,800,000); links filled to 2 MiB plus a chunk went
 * there whenever busy, and some froze (issue 17, session 15).
 */
export const SCTP_SEND_BUFFER = 2_000_000;

/**
 * A data channel's sender waits while it holds this much: with the largest
 * chunk message (4 leaves and a header) on top, the queue stays under
 * SCTP_SEND_BUFFER with room left for the lane's small messages.
 */
export const CHANNEL_HIGH_WATER = 1536 * 1024;

/** Most leaves per chunk message on a data channel (`largeMessages`). */
const CHANNEL_LEAVES_MAX = 4;

/**
 * Object bytes per chunk on a data channel whose peer takes messages of up to
 * `max` bytes (RTCSctpTransport.maxMessageSize; Chromium: 256 KiB, so 3
 * leaves with the header): whole leaves, at most CHANNEL_LEAVES_MAX;
 * undefined (one leaf a message) when fewer than two fit or it is not known.
 */
export function channelChunkBytes(max: number | undefined): number | undefined {
  if (typeof max !== 'number' || !(max > 0)) return undefined;
  const leaves = Math.min(CHANNEL_LEAVES_MAX, Math.floor((max - CHUNK_HEADER_BYTES) / CHUNK_DATA_BYTES));
  return leaves >= 2 ? leaves * CHUNK_DATA_BYTES : undefined;
}

/** The part of an RTCDataChannel the lane uses. */
interface LaneChannel {
  binaryType: string;
  readonly readyState: string;
  send(data: Uint8Array): void;
  close(): void;
  onopen: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

/**
 * The lane (issue 17, session 12): a second data channel on the same
 * connection, negotiated (both sides make it with this id, no signalling), for
 * small messages. SCTP takes messages of its streams in turn, so a have map
 * goes out after at most one 64 KiB chunk, not after the 1.5 MiB queued on the
 * main channel. Each side's first message on it is LANE_HELLO; a side sends on
 * it only once it heard the other's (a peer without a lane never answers: its
 * small messages and ours stay on the main channel).
 */
const LANE_ID = 1000;
const LANE_HELLO = 0xff;

/** Opens the lane of `p`, or null where the platform cannot (its small messages then go on the main channel). */
function openLane(p: SimplePeerLike, raw: RawPeer, gone: () => boolean): { send(b: Uint8Array): boolean; close(): void } | null {
  let ch: LaneChannel;
  try {
    if (!p._pc) return null;
    ch = p._pc.createDataChannel('tabmesh-lane', { negotiated: true, id: LANE_ID, ordered: true });
  } catch {
    return null;
  }
  let heard = false;
  ch.binaryType = 'arraybuffer';
  ch.onopen = () => {
    try {
      ch.send(Uint8Array.of(LANE_HELLO));
    } catch {
      // closing: the main channel says so
    }
  };
  ch.onmessage = (ev) => {
    if (gone()) return;
    const b = ev.data instanceof ArrayBuffer ? new Uint8Array(ev.data) : ev.data instanceof Uint8Array ? ev.data : null;
    if (!b) return raw.onClose('a text message on the lane', true);
    if (heard) return raw.onData(b);
    if (b.byteLength !== 1 || b[0] !== LANE_HELLO) return raw.onClose('the lane did not open with its hello', true);
    heard = true;
  };
  return {
    send: (b) => {
      if (!heard || ch.readyState !== 'open') return false;
      ch.send(b);
      return true;
    },
    close: () => {
      ch.onopen = ch.onmessage = null;
      try {
        ch.close();
      } catch {
        // already closed with its connection
      }
    },
  };
}

/**
 * A PeerFactory over simple-peer, with the ICE servers the coordinator handed
 * out (issue 17: STUN and TURN for peers across NATs), else host candidates only.
 * `drainEvents`: the platform's data channel fires 'bufferedamountlow' (browsers do).
 * `sendCopies`: its send copies the bytes before it returns (browsers': Blink's RTCDataChannel.send).
 * `largeMessages`: chunks of several leaves where the peer's SCTP takes them (browsers; @roamhq/wrtc unmeasured).
 * `highWater`: what a sender queues before it waits (CHANNEL_HIGH_WATER; another only to measure it: bench/link-pair.ts).
 */
export function simplePeerFactory(
  SimplePeer: SimplePeerCtor,
  extra: Record<string, unknown> = {},
  opts: { drainEvents?: boolean; sendCopies?: boolean; largeMessages?: boolean; highWater?: number } = {},
): PeerFactory {
  return (initiator, ice) => {
    const config = { iceServers: ice?.iceServers ?? [], ...(ice?.relayOnly ? { iceTransportPolicy: 'relay' } : {}) };
    const p = new SimplePeer({ initiator, trickle: true, config, channelConfig: { ordered: true }, ...extra });
    let closed = false;
    let lane: ReturnType<typeof openLane> = null;
    const raw: RawPeer = {
      // Browsers fire 'bufferedamountlow' each time; @roamhq/wrtc only now and then (bench/channel.ts): its senders poll.
      drainEvents: opts.drainEvents === true,
      sendCopies: opts.sendCopies === true,
      sendHighWater: opts.highWater ?? CHANNEL_HIGH_WATER,
      signal: (d) => {
        if (!closed) p.signal(d);
      },
      send: (b) => p.send(b),
      sendSmall: (b) => lane !== null && lane.send(b),
      // Asked when a transfer starts (the channel is open): the peer's SCTP says what it takes.
      get chunkBytes() {
        return opts.largeMessages ? channelChunkBytes(p._pc?.sctp?.maxMessageSize) : undefined;
      },
      get bufferedAmount() {
        return p.bufferSize;
      },
      stats: () => (p._pc ? statsOf(p._pc, p.bufferSize) : Promise.reject(new Error('no connection'))),
      destroy: () => {
        if (closed) return;
        closed = true;
        lane?.close();
        p.destroy();
        raw.onClose('closed here');
      },
      ...unhandled(),
    };
    // Made before the offer and answer, on both sides: it opens with the connection.
    lane = openLane(p, raw, () => closed);
    p.on('signal', (d) => raw.onSignal(d));
    p.on('connect', () => {
      // simple-peer sets a 64 KiB threshold for its stream API; we queue more.
      if (p._channel) p._channel.bufferedAmountLowThreshold = DRAIN_LOW_WATER;
      const low = p._onChannelBufferedAmountLow?.bind(p);
      p._onChannelBufferedAmountLow = () => {
        low?.();
        raw.onDrain();
      };
      raw.onConnect();
    });
    // Messages go to the link straight from the channel's event (issue 17, session 14): simple-peer made each a
    // Buffer and pushed it through its readable stream to a 'data' event (per 192 KiB message on a tab's main thread).
    p._onChannelMessage = (ev) => {
      if (closed || p.destroyed) return;
      const d = ev.data;
      if (d instanceof ArrayBuffer) return raw.onData(new Uint8Array(d));
      if (ArrayBuffer.isView(d)) return raw.onData(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      raw.onClose('a text message on the data channel', true);
      p.destroy();
    };
    const gone = (why: string) => {
      if (closed) return;
      closed = true;
      lane?.close();
      raw.onClose(why);
    };
    p.on('close', () => gone(CLOSED_BY_PEER));
    p.on('error', (e: Error) => {
      // Chromium reports the other side's close (its SCTP ABORT) as an error on the channel: a close all the same.
      gone(/User-Initiated Abort/.test(e.message) ? `${CLOSED_BY_PEER} (${e.message})` : `error: ${e.message}`);
      p.destroy();
    });
    return raw;
  };
}

/** How a RawPeer's `why` starts when the other side closed the link (see PeerLink: its transfers may be asked again). */
export const CLOSED_BY_PEER = 'closed by the other side';

/** A TCP/WebSocket port number from a peer's answer. */
export const isPort = (n: unknown): n is number => Number.isInteger(n) && (n as number) > 0 && (n as number) < 65536;

/**
 * What every fast or WebSocket link answer carries, checked (it comes from another peer through the relay):
 * a one-time token of 32 hex characters and at most 8 dotted-quad addresses to dial.
 */
export function isDialAnswer(f: unknown): f is { token: string; addrs: string[] } {
  const a = f as { token?: unknown; addrs?: unknown };
  return (
    typeof a === 'object' &&
    a !== null &&
    typeof a.token === 'string' &&
    /^[0-9a-f]{32}$/.test(a.token) &&
    Array.isArray(a.addrs) &&
    a.addrs.length <= 8 &&
    a.addrs.every((x) => typeof x === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(x))
  );
}

/** A RawPeer's handlers before its link sets them: nothing listens yet. */
export function unhandled(): Pick<RawPeer, 'onSignal' | 'onConnect' | 'onData' | 'onClose' | 'onDrain'> {
  return { onSignal: () => {}, onConnect: () => {}, onData: () => {}, onClose: () => {}, onDrain: () => {} };
}
