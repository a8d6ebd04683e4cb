// An in-memory network of peers for transfer tests (issue 17): each peer's
// real link pool over RawPeers that hand messages to each other on the next
// turn, and a hook that may change (corrupt) a message on its way.
import { PeerLinks } from '../../shared/transfer/links.js';
import { CLOSED_BY_PEER, type RawPeer } from '../../shared/transfer/raw-peer.js';
import type { ObjectId } from '../../shared/ids.js';

export type Tamper = (from: string, to: string, msg: Uint8Array) => Uint8Array;

/** In-memory peers: a signal names the sender; a link's two ends pass messages on the next turn. */
export class FakeNet {
  readonly pools = new Map<string, PeerLinks>();
  private waiting = new Map<string, RawPeer>();
  tamper: Tamper = (_f, _t, m) => m;
  /** Object bytes per chunk the links take (a stream link's `chunkBytes`); one leaf when undefined. */
  chunkBytes: number | undefined = undefined;
  /** What every link says its channel still holds (messages are delivered all the same). */
  buffered = 0;
  /** Whether the links say their send copies (a browser's channel; `send` here copies either way). */
  sendCopies = false;
  /**
   * How long after one end of a link is closed the other end hears it (`closed by the other side`, as a real
   * channel's close reaches its peer: late, under load); null: never (the other end's next request stalls).
   */
  closeNoticeMs: number | null = null;
  /** Peers no link reaches: signals to them are lost, so a link to them never opens (its connectTimeoutMs ends it). */
  readonly unreachable = new Set<string>();
  /** The pools' time for a link to open (PeerLinksOptions.connectTimeoutMs); undefined: the default. */
  connectTimeoutMs: number | undefined = undefined;
  /** Links each peer began (offers sent). */
  readonly offers = new Map<string, number>();
  /** What the pools logged (link closes and why), as "peer: text". */
  readonly logs: string[] = [];

  add(self: string, held: Map<ObjectId, Uint8Array>): PeerLinks {
    const net = this;
    const pool = new PeerLinks({
      factory: (initiator) => {
        const raw: RawPeer & { other?: RawPeer; peerName?: string } = {
          signal(d) {
            const s = d as { type: string; from: string; key: string };
            if (s.type === 'offer') {
              // The responder end: pair with the initiator's end.
              const other = net.waiting.get(s.key)! as RawPeer & { other?: RawPeer; peerName?: string };
              net.waiting.delete(s.key);
              raw.other = other;
              other.other = raw;
              raw.peerName = s.from;
              setImmediate(() => {
                raw.onConnect();
                other.onConnect();
              });
            }
          },
          send(b) {
            const to = raw.other;
            if (!to) throw new Error('not connected');
            const copy = net.tamper(self, (to as { self?: string }).self ?? '', b.slice());
            setImmediate(() => to.onData(copy));
          },
          get bufferedAmount() {
            return net.buffered;
          },
          sendCopies: net.sendCopies,
          chunkBytes: net.chunkBytes,
          destroy() {
            raw.onClose('closed here');
            const other = raw.other;
            if (other && net.closeNoticeMs !== null) setTimeout(() => other.onClose(CLOSED_BY_PEER), net.closeNoticeMs);
          },
          onSignal: () => {},
          onConnect: () => {},
          onData: () => {},
          onClose: () => {},
          onDrain: () => {},
        };
        (raw as { self?: string }).self = self;
        if (initiator) {
          net.offers.set(self, (net.offers.get(self) ?? 0) + 1);
          const key = Math.random().toString(36);
          net.waiting.set(key, raw);
          queueMicrotask(() => raw.onSignal({ type: 'offer', from: self, key }));
        }
        return raw;
      },
      self: () => self,
      sendSignal: (peer, data) => {
        if (!net.unreachable.has(peer) && !net.unreachable.has(self)) setImmediate(() => net.pools.get(peer)!.onSignal(self, data));
      },
      connectTimeoutMs: this.connectTimeoutMs,
      lookup: (id) => Promise.resolve(held.get(id)),
      log: (text) => net.logs.push(`${self}: ${text}`),
    });
    this.pools.set(self, pool);
    return pool;
  }
}
