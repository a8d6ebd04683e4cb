// How a peer (node or driver) gets the bytes of a stored object (issue 4):
// ask the coordinator who holds it, fetch over a peer link (an open one
// first), check the content hash, ask again on a mismatch (another holder if
// there is one); if no link comes up in time or one breaks, use the relay.
// One relay attempt: callers retry (the object may be being rebuilt).
// Objects from SWARM_MIN_BYTES up come from every holder at once, readers
// still receiving them included (swarm.ts).
import type { NodeId, ObjectId } from '../ids.js';
import { TabmeshError } from '../errors.js';
import { contentHashAsync } from '../hash.js';
import type { Msg, MsgOf } from '../protocol/messages.js';
import type { ObjectClient, ReadyInfo } from '../api/object-client.js';
import type { PeerLinks } from './links.js';
import { BadChunkError, StalledError } from './fetch-errors.js';
import { SWARM_MIN_BYTES, Swarm, type ChunkOrder } from './swarm.js';

/** Peer attempts per object before the relay (hash mismatches count). */
const PEER_ATTEMPTS = 3;
const LOCATE_TIMEOUT_MS = 5_000;

export interface Fetch {
  bytes: Uint8Array;
  /** Content hash of `bytes` (checked against the GCS's when it has one). */
  hash: string;
  via: 'peer' | 'relay';
}

export interface FetcherOptions {
  /** Objects from this size up are fetched by the swarm. */
  swarmMinBytes?: number;
  /** The swarm's random source (seeded in simulated runs). */
  rand?: () => number;
  /** The order a swarm reader asks for chunks in (default rarest first; 'random' is the sim test's baseline). */
  chunkOrder?: ChunkOrder;
}

interface Located {
  peers: string[];
  partial: string[];
}

export class ObjectFetcher {
  private readonly locating = new Map<number, (l: Located) => void>();
  private nextX = 1;
  private readonly inflight = new Map<ObjectId, Promise<Fetch>>();
  /** Locates sent beside the question whether the object is ready (locateAhead), for the fetch that follows. */
  private readonly ahead = new Map<ObjectId, Promise<Located>>();
  /** Objects that arrived with a wrong hash (counted for tests and the page). */
  hashMismatches = 0;
  fetchedPeer = 0;
  fetchedRelay = 0;
  /** Holders that sent a chunk not matching the object's hash, one entry per offence. */
  readonly badHolders: string[] = [];
  onEvent: (text: string) => void = () => {};
  readonly swarm: Swarm | null;

  constructor(
    private readonly objects: ObjectClient,
    private readonly links: PeerLinks | null,
    private readonly send: (m: Msg) => void,
    private readonly opts: FetcherOptions = {},
  ) {
    this.swarm = links
      ? new Swarm(
          links,
          {
            bad: (id, peer, why) => this.badHolder(id, peer, why),
            dropped: (id, peer, why) => this.onEvent(`swarm fetch of ${id.slice(0, 12)}: ${peer} dropped (${why})`),
          },
          opts.rand,
          undefined,
          opts.chunkOrder,
        )
      : null;
  }

  /** `peer` sent a chunk of `id` that does not match its hash: counted, and told the coordinator's trust table. */
  private badHolder(id: ObjectId, peer: string, why: string): void {
    this.hashMismatches++;
    this.badHolders.push(peer);
    this.onEvent(`${peer} sent a chunk of ${id.slice(0, 12)} that does not match its hash (${why}); the rest from another holder`);
    this.send({ t: 'badHolder', id, peer: peer as NodeId });
  }

  /** The bytes of a ready stored object; one transfer however many ask at once. */
  fetch(id: ObjectId, info: ReadyInfo): Promise<Fetch> {
    let p = this.inflight.get(id);
    if (p) this.ahead.delete(id); // the fetch under way located already
    if (!p) {
      p = this.run(id, info).finally(() => this.inflight.delete(id));
      this.inflight.set(id, p);
    }
    return p;
  }

  onLocated(m: MsgOf<'located'>): void {
    const f = this.locating.get(m.x);
    if (!f) return;
    this.locating.delete(m.x);
    f({ peers: m.peers, partial: m.partial ?? [] });
  }

  /**
   * Asks for the holders of `id` now, beside the question whether it is ready
   * (a task's argument not inlined in its assignment is a stored object): the
   * fetch that follows takes the answer, which came with the readiness, one
   * coordinator round trip instead of two in a row (issue 17). The caller
   * ends it with `fetch`, or `dropAhead` when no fetch follows.
   */
  locateAhead(id: ObjectId): void {
    if (!this.links || this.ahead.has(id) || this.inflight.has(id)) return;
    this.ahead.set(id, this.locate(id));
  }

  /** No fetch of `id` follows (its value came inline, it failed, or the connection closed): its early answer is dropped. */
  dropAhead(id: ObjectId): void {
    this.ahead.delete(id);
  }

  /** Locates sent ahead and not yet taken (tests). */
  get locatesAhead(): number {
    return this.ahead.size;
  }

  private locate(id: ObjectId): Promise<Located> {
    const x = this.nextX++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.locating.delete(x);
        resolve({ peers: [], partial: [] });
      }, LOCATE_TIMEOUT_MS);
      this.locating.set(x, (l) => {
        clearTimeout(timer);
        resolve(l);
      });
      this.send({ t: 'locate', id, x });
    });
  }

  private async run(id: ObjectId, info: ReadyInfo): Promise<Fetch> {
    const links = this.links;
    if (links) {
      // An answer sent ahead names no holder when the object was not ready then (a direct task's argument): asked again.
      const early = this.ahead.get(id);
      this.ahead.delete(id);
      let located = early ? await early : null;
      if (!located || located.peers.length + located.partial.length === 0) located = await this.locate(id);
      const peers = located.peers.filter((p) => links.usable(p));
      const partial = located.partial.filter((p) => links.usable(p));
      if (this.swarm && info.hash && info.size >= (this.opts.swarmMinBytes ?? SWARM_MIN_BYTES) && peers.length + partial.length > 0) {
        try {
          const bytes = await this.swarm.fetch(id, info.size, info.hash, peers, partial);
          // Where its bytes came from (bench:objects broadcast reads it from the nodes' logs).
          this.onEvent(`swarm fetch of ${id.slice(0, 12)}: bytes by source ${JSON.stringify(this.swarm.stats.lastFrom)}`);
          this.fetchedPeer++;
          this.send({ t: 'peerBytes', n: bytes.byteLength });
          return { bytes, hash: info.hash, via: 'peer' };
        } catch (e) {
          this.onEvent(`swarm fetch of ${id.slice(0, 12)} failed (${(e as Error).message}); using the relay`);
          return this.relay(id, info);
        }
      }
      // Holders with an open link first: no connection set-up.
      peers.sort((a, b) => Number(links.isOpen(b)) - Number(links.isOpen(a)));
      // What verified chunks arrived from a holder that then sent a bad one:
      // the rest comes from the next holder (issue 17).
      let resume: { buf: Uint8Array; received: number } | null = null;
      for (let attempt = 0; attempt < PEER_ATTEMPTS + 1 && peers.length > 0; attempt++) {
        const peer = peers[attempt % peers.length];
        let bytes: Uint8Array;
        try {
          bytes = await links.fetch(peer, id, info.size, { hash: info.hash, from: resume?.received, into: resume?.buf });
        } catch (e) {
          if (e instanceof BadChunkError) {
            this.badHolder(id, peer, e.message);
            if (e.partial) resume = e.partial;
            peers.splice(peers.indexOf(peer), 1);
            attempt--;
            continue;
          }
          // The holder had closed the link (its close crossed the request, or the link froze): a fresh link to it.
          if (e instanceof StalledError && !links.links.has(peer)) continue;
          this.onEvent(`peer transfer of ${id.slice(0, 12)} from ${peer} failed (${(e as Error).message}); using the relay`);
          break;
        }
        // Checked chunk by chunk against leaves checked against the GCS's hash.
        const hash = info.hash ?? (await contentHashAsync(bytes)).hash;
        this.fetchedPeer++;
        this.send({ t: 'peerBytes', n: bytes.byteLength });
        return { bytes, hash, via: 'peer' };
      }
    }
    return this.relay(id, info);
  }

  /** The relay; the caller asks again (after a pause) if this fails too. */
  private async relay(id: ObjectId, info: ReadyInfo): Promise<Fetch> {
    const bytes = await this.objects.fetchBytes(id);
    const { hash } = await contentHashAsync(bytes);
    if (info.hash && hash !== info.hash) {
      this.hashMismatches++;
      throw new TabmeshError('OBJECT_LOST', `object ${id} arrived with hash ${hash}, expected ${info.hash}`);
    }
    this.fetchedRelay++;
    return { bytes, hash, via: 'relay' };
  }
}
