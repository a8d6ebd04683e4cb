// Peer links between nodes of different coordinators (issue 15): an object
// made on a node of A and read by a node of B moves over a direct link, not
// through both relays. Two things cross the mesh:
// - holder lookup: B's `locate` of an object whose holder is A (our agent on
//   A, or A's link here) is asked of A through our agent there, as a node
//   asks; A names its own holders; B answers its reader with both (bounded
//   wait; at once when a holder is attached here); a driver's locate says so,
//   and A names it no driver (no driver-to-driver links: the relay, at once);
// - signals: a signal for a peer attached to A goes over the bus to A, which
//   delivers it stamped with the sender's peer id, as it would its own
//   node's. The TCP fast-link offer rides inside the WebRTC offer
//   (edge/fast-link.ts), so it crosses too.
// Which coordinator a remote peer is on is learned from A's answers and from
// A's signals (bounded, expiring). Where no link comes up, the relays stay.
import type { MsgOf } from '../../shared/protocol/messages.js';
import { MAX_LOCATED, MAX_SIGNAL_CHARS } from '../../shared/protocol/messages.js';
import type { SignalBridge, Signalling } from '../signal/signal.js';
import type { Session } from '../session.js';

/** How long a reader's locate waits for the other coordinators' holders. */
export const REMOTE_LOCATE_MS = 1500;
/** How long a learned route to a remote peer lasts (a link's signals renew it). */
const ROUTE_TTL_MS = 10 * 60_000;
/** Routes kept; the oldest go first. */
const MAX_ROUTES = 100_000;
/** Locates waiting for other coordinators at once; beyond it readers get the local holders at once. */
const MAX_PENDING = 10_000;

const PEER_CHARS = 16;
const PEER_RE = /^[0-9a-f]{16}$/;
const ROLE_BYTE = { driver: 0x64, node: 0x6e } as const;

/** What the bridge needs of the mesh: sends to a coordinator, directly or through our agent on it. */
export interface MeshPorts {
  /** A frame of `kind` signal to coordinator `to` over the bus. */
  sendSignal(to: string, payload: Uint8Array): void;
  /** Sends `m` to coordinator `to` as its node (our agent there); false if not linked yet. */
  askAsNode(to: string, m: MsgOf<'locate'>): boolean;
  coordinatorOf(s: Session): string | undefined;
}

interface Waiting {
  asker: Session;
  x: number;
  peers: Set<string>;
  partial: Set<string>;
  left: Set<string>;
  timer: ReturnType<typeof setTimeout>;
}

export class SignalRelay implements SignalBridge {
  private readonly routes = new Map<string, { via: string; until: number }>();
  private readonly waiting = new Map<number, Waiting>();
  private nextX = 1;
  /** Signals sent to other coordinators, delivered from them, refused from them; locates asked of them, answered late. */
  readonly counters = { meshSignalsOut: 0, meshSignalsIn: 0, meshSignalsRefused: 0, meshLocates: 0, meshLocatesLate: 0 };

  constructor(
    private readonly signalling: Signalling,
    private readonly ports: MeshPorts,
  ) {}

  coordinatorOf(s: Session): string | undefined {
    return this.ports.coordinatorOf(s);
  }

  route(peer: string): string | undefined {
    const r = this.routes.get(peer);
    if (!r) return undefined;
    if (r.until > Date.now()) return r.via;
    this.routes.delete(peer);
    return undefined;
  }

  private learn(peer: string, via: string): void {
    this.routes.delete(peer); // re-inserted last: the map's order is the eviction order
    this.routes.set(peer, { via, until: Date.now() + ROUTE_TTL_MS });
    if (this.routes.size > MAX_ROUTES) this.routes.delete(this.routes.keys().next().value!);
  }

  /** Wire: from peer (16 hex), to peer (16 hex), the sender's role (one byte), the signal's text (UTF-8). */
  forward(via: string, from: Session, self: string, peer: string, data: string): void {
    const text = Buffer.from(data, 'utf8');
    const out = Buffer.alloc(2 * PEER_CHARS + 1 + text.length);
    out.write(self, 0, 'latin1');
    out.write(peer, PEER_CHARS, 'latin1');
    out[2 * PEER_CHARS] = from.role === 'driver' ? ROLE_BYTE.driver : ROLE_BYTE.node;
    text.copy(out, 2 * PEER_CHARS + 1);
    this.counters.meshSignalsOut++;
    this.ports.sendSignal(via, out);
  }

  /** A signal from coordinator `via` for one of our peers; anything malformed or not ours to deliver is dropped (the sender falls back to the relay). */
  deliver(via: string, payload: Uint8Array): void {
    const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const refuse = () => void this.counters.meshSignalsRefused++;
    if (b.length <= 2 * PEER_CHARS + 1 || b.length > 2 * PEER_CHARS + 1 + 4 * MAX_SIGNAL_CHARS) return refuse();
    const from = b.toString('latin1', 0, PEER_CHARS);
    const to = b.toString('latin1', PEER_CHARS, 2 * PEER_CHARS);
    const role = b[2 * PEER_CHARS];
    const data = b.toString('utf8', 2 * PEER_CHARS + 1);
    if (!PEER_RE.test(from) || !PEER_RE.test(to) || (role !== ROLE_BYTE.driver && role !== ROLE_BYTE.node) || data.length > MAX_SIGNAL_CHARS) return refuse();
    const s = this.signalling.sessionOf(to);
    if (!s || s.closed || s.peerless || this.coordinatorOf(s)) return refuse();
    if (role === ROLE_BYTE.driver && s.role === 'driver') return refuse();
    this.learn(from, via);
    this.counters.meshSignalsIn++;
    s.send({ t: 'signal', peer: from, data });
  }

  locate(asker: Session, m: MsgOf<'locate'>, peers: string[], partial: string[], via: string[]): void {
    const answer = (w: Omit<Waiting, 'timer' | 'left'>) =>
      w.asker.send({ t: 'located', x: w.x, peers: [...w.peers].slice(0, MAX_LOCATED), partial: [...w.partial].slice(0, MAX_LOCATED) });
    const base = { asker, x: m.x, peers: new Set(peers), partial: new Set(partial) };
    // A holder attached here answers at once: the other coordinators' holders would only add choices, at a round trip's cost.
    if (peers.length > 0 || this.waiting.size >= MAX_PENDING) return answer(base);
    const x = this.nextX;
    this.nextX = this.nextX >= 2 ** 31 ? 1 : this.nextX + 1;
    const left = new Set<string>();
    // A driver reading: the other coordinator leaves out its drivers (they refuse a driver's link), so the reader goes to a node or the relay at once.
    const ask: MsgOf<'locate'> = asker.role === 'driver' || m.asker === 'driver' ? { t: 'locate', id: m.id, x, asker: 'driver' } : { t: 'locate', id: m.id, x };
    for (const c of new Set(via)) if (this.ports.askAsNode(c, { ...ask })) left.add(c);
    if (left.size === 0) return answer(base);
    this.counters.meshLocates++;
    const w: Waiting = {
      ...base,
      left,
      timer: setTimeout(() => {
        this.waiting.delete(x);
        this.counters.meshLocatesLate++;
        answer(w);
      }, REMOTE_LOCATE_MS),
    };
    w.timer.unref?.();
    this.waiting.set(x, w);
  }

  /** Coordinator `via` answered one of our locates (it came to our agent there). */
  located(via: string, m: MsgOf<'located'>): void {
    const w = this.waiting.get(m.x);
    if (!w || !w.left.delete(via)) return;
    for (const p of [...m.peers, ...(m.partial ?? [])]) this.learn(p, via);
    for (const p of m.peers) w.peers.add(p);
    for (const p of m.partial ?? []) w.partial.add(p);
    if (w.left.size > 0) return;
    clearTimeout(w.timer);
    this.waiting.delete(m.x);
    if (!w.asker.closed) w.asker.send({ t: 'located', x: w.x, peers: [...w.peers].slice(0, MAX_LOCATED), partial: [...w.partial].slice(0, MAX_LOCATED) });
  }

  close(): void {
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
  }
}
