// The swarm's shared parts (issue 17): what a swarm reports, a source's
// bookkeeping (its have map and claims), and the have messages readers send.
import type { ObjectId } from '../ids.js';
import type { PeerLinks } from './links.js';
import { HAVE_PER_MESSAGE, type Have } from './wire.js';
import type { FanWord } from './fan-out.js';

export interface SwarmReport {
  /** `peer` sent a chunk (or leaves) of `id` not matching its hash. */
  bad(id: ObjectId, peer: string, why: string): void;
  /** `peer` is no longer asked for `id` (its link broke or stalled, or it could not serve). */
  dropped?(id: ObjectId, peer: string, why: string): void;
}

export interface Source {
  peer: string;
  /** A full holder (a location of the object), or a reader still fetching it. */
  full: boolean;
  /** A location of the object (the coordinator listed it as a holder): a reader that finished, if not `full`. */
  listed: boolean;
  /** Chunks a reader holds, and when it claimed the ones it asked a full holder for. */
  has: Uint8Array | null;
  claims: Map<number, number>;
  inflight: number;
  /** Requests it answered in full (a lone reader's window grows with them: swarm-window.ts). */
  answered: number;
  /** Chunks per request and requests in flight: more over a stream link (fast-link.ts), whose chunks are larger. */
  run: number;
  depth: number;
  /**
   * Runs keep to blocks of `run` chunks aligned in the object: its link's messages carry several leaves and a
   * run is whole messages (swarm-window.ts fit); runs cut short by chunks asked elsewhere would end in a short one.
   */
  aligned: boolean;
  /** Not asked now: it failed. `retryAt`: when it is asked again (it stalled); 0: not for this object. */
  dropped: boolean;
  retryAt: number;
  /** Its last drop was a link that did not open (no stale link, no stall): the leaves step does not wait for it. */
  noLink: boolean;
  /** Times it was asked again after a stall; while `probation`, one request at a time until one succeeds. */
  readmits: number;
  probation: boolean;
  /** Whether it got this side's full have map (it then gets the changes), and whether it sent one. */
  told: boolean;
  heard: boolean;
  /** When the full have map went out to it (its link open); 0 before. `tellAt`: when this side began to tell it (its link opening). */
  toldAt: number;
  tellAt: number;
  /** A Node process over a stream link (RawPeer.remoteNode), known once a link to it is open (swarm-policy.ts). */
  node: boolean;
  /** Bytes it answered, and how long requests to it were in flight (ms; since `busySince` while some are): its rate here. */
  got: number;
  busyMs: number;
  busySince: number;
  /** A full holder's last word on this fetch (fan-out.ts); 0: none said (an older holder, or not yet). */
  word: FanWord | 0;
  /** It said fill with FAN_STREAM (fan-out.ts): take from the readers what they hold, ask it for the rest. */
  fill: boolean;
}

/** How a reader orders the chunks it may ask a source for: rarest first, or from a random place on (the sim test's baseline). */
export type ChunkOrder = 'rarest' | 'random';

/**
 * Swarm fetches run; bytes they got from full holders and from other readers; chunks asked of full holders (a
 * chunk asked again counts again); fetches that began on a Node source alone (`nodeFirst`), and those of them that
 * turned to the readers when it could not keep up or its holder said so (`turned`); fetches a full holder told to
 * take from the swarm (`fanned`: fan-out.ts) and told it streams to (`streamed`), told to fill (`filled`); the bytes each source gave the
 * last fetch (`lastFrom`, by peer: the bench's per-reader sources) (tests, bench).
 */
export interface SwarmStats {
  fetches: number;
  fromFull: number;
  fromReaders: number;
  askedOfFull: number;
  nodeFirst: number;
  turned: number;
  fanned: number;
  streamed: number;
  filled: number;
  lastFrom: Record<string, number>;
}

/** What a SwarmFetch uses of its Swarm. */
export interface SwarmContext {
  readonly links: PeerLinks;
  readonly report: SwarmReport;
  readonly rand: () => number;
  readonly stallMs: number;
  readonly order: ChunkOrder;
  /** A reader keeps to a Node source while it keeps up (swarm-policy.ts); off: the swarm from the start (A/B). */
  readonly preferNode: boolean;
  readonly stats: SwarmStats;
}

/** Sends `have` and `claim` in messages of at most HAVE_PER_MESSAGE indices. */
export function sendHaves(link: { sendHave(h: Have): void }, id: ObjectId, have: number[], claim: number[]): void {
  let i = 0;
  let j = 0;
  do {
    const h = have.slice(i, i + HAVE_PER_MESSAGE);
    const c = claim.slice(j, j + HAVE_PER_MESSAGE - h.length);
    i += h.length;
    j += c.length;
    link.sendHave({ id, have: h, claim: c });
  } while (i < have.length || j < claim.length);
}

/** A source not asked yet: `run` chunks a request, `depth` requests in flight; a reader's chunk map starts empty. */
export function newSource(peer: string, full: boolean, chunks: number, run: number, depth: number): Source {
  return {
    peer,
    full,
    listed: full,
    has: full ? null : new Uint8Array(chunks),
    claims: new Map(),
    inflight: 0,
    answered: 0,
    run,
    depth,
    aligned: false,
    dropped: false,
    retryAt: 0,
    noLink: false,
    readmits: 0,
    probation: false,
    told: false,
    heard: false,
    toldAt: 0,
    tellAt: 0,
    node: false,
    got: 0,
    busyMs: 0,
    busySince: 0,
    word: 0,
    fill: false,
  };
}
