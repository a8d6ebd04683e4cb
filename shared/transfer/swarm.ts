// Swarm broadcast (issue 17): when many peers read one object, each reader
// takes runs of chunks from every holder, readers still receiving it
// included, so the origin uploads little more than one copy.
//
// A reader gets the object's leaves once (checked against the GCS's hash),
// then asks each source for runs of chunks it lacks, checked chunk by chunk
// against those leaves. Readers learn of each other from the coordinator
// (`located.partial`: peers that located the object lately) and from the
// `have` messages they send each other over their links: the chunks they hold
// (checked) and the chunks they asked a full holder for (claims). A reader
// asks a full holder only for chunks that no other reader holds or has
// claimed, so readers split the origin's chunks between them and take the
// rest from each other. Of the chunks a source may be asked for, a reader
// takes the rarest first (fewest sources hold it; ties at random), as
// BitTorrent does: what only the origin holds spreads before what many hold.
// A source that sends a bad chunk is dropped and reported; its run comes from
// another source.
import type { ObjectId } from '../ids.js';
import { TabmeshError } from '../errors.js';
import { chunkCount } from '../hash.js';
import type { PeerLinks } from './links.js';
import type { SwarmHooks } from './links-options.js';
import type { Have } from './wire.js';
import { SwarmFetch } from './swarm-fetch.js';
import { sendHaves, type ChunkOrder, type SwarmReport, type SwarmStats } from './swarm-source.js';

export type { ChunkOrder, SwarmReport } from './swarm-source.js';

/** Objects from this size up are fetched by the swarm (smaller ones from one holder). */
export const SWARM_MIN_BYTES = 1 << 20;
/** (peer, object) pairs remembered as answered with a whole have map. */
const ANSWERED_MAX = 4096;
/** Chunk indices (in have messages) kept for objects not (yet) being fetched here, and for how long. */
const EARLY_MAX = 1 << 18;
const EARLY_MS = 30_000;

export class Swarm implements SwarmHooks {
  private readonly active = new Map<ObjectId, SwarmFetch>();
  /** Peers this side told it holds a whole object (once per peer and object). */
  private readonly answered = new Set<string>();
  /**
   * Have messages for objects this side is not fetching: a reader others
   * heard of (the coordinator lists readers as they locate) before its fetch
   * is under way. Its fetch starts from them: the senders tell it only what
   * changes after their first map.
   */
  private readonly early = new Map<ObjectId, Array<{ peer: string; h: Have; at: number }>>();
  private earlyCount = 0;
  readonly stats: SwarmStats = {
    fetches: 0,
    fromFull: 0,
    fromReaders: 0,
    askedOfFull: 0,
    nodeFirst: 0,
    turned: 0,
    fanned: 0,
    streamed: 0,
    filled: 0,
    lastFrom: {},
  };
  /** A reader keeps to a Node source while it keeps up (swarm-policy.ts); false: the swarm from the start (tests and benches compare). */
  preferNode = true;

  constructor(
    readonly links: PeerLinks,
    readonly report: SwarmReport,
    readonly rand: () => number = Math.random,
    readonly stallMs = 10_000,
    readonly order: ChunkOrder = 'rarest',
  ) {
    links.swarm = this;
  }

  /** Fetches object `id` from full holders `full` and readers `partial`, each chunk checked; rejects when it cannot go on. */
  async fetch(id: ObjectId, size: number, hash: string, full: string[], partial: string[]): Promise<Uint8Array> {
    if (this.active.has(id)) throw new TabmeshError('CLOSED', `object ${id} is already being fetched`);
    this.stats.fetches++;
    // Registered at once: have messages that come while it waits for its buffer and leaves are kept.
    const f = new SwarmFetch(this, id, size, hash);
    this.active.set(id, f);
    let reserved = false;
    try {
      const now = Date.now();
      for (const e of this.takeEarly(id)) if (now - e.at < EARLY_MS) f.onHave(e.peer, e.h);
      await this.links.reserve(size);
      reserved = true;
      // A peer in both lists is a reader that finished: it answers the have map with all chunks.
      for (const p of partial) f.addSource(p, false);
      for (const p of full) f.addSource(p, true);
      await f.getLeaves();
      return await f.run();
    } finally {
      if (this.active.get(id) === f) this.active.delete(id);
      f.end();
      if (reserved) this.links.unreserve(size);
    }
  }

  private takeEarly(id: ObjectId): Array<{ peer: string; h: Have; at: number }> {
    const got = this.early.get(id) ?? [];
    this.early.delete(id);
    for (const e of got) this.earlyCount -= weight(e.h);
    return got;
  }

  /** Keeps a have message for an object not being fetched here (the oldest objects' go first past EARLY_MAX). */
  private keepEarly(peer: string, h: Have): void {
    while (this.earlyCount + weight(h) > EARLY_MAX && this.early.size > 0) this.takeEarly(this.early.keys().next().value!);
    let list = this.early.get(h.id);
    if (!list) this.early.set(h.id, (list = []));
    list.push({ peer, h, at: Date.now() });
    this.earlyCount += weight(h);
  }

  partial(id: ObjectId, from: number, end: number): Uint8Array | undefined {
    return this.active.get(id)?.holds(from, end);
  }

  have(peer: string, h: Have): void {
    const f = this.active.get(h.id);
    if (f) return f.onHave(peer, h);
    this.keepEarly(peer, h);
    // A reader that already has the whole object answers a new swarm peer once with all of it.
    const key = `${peer} ${h.id}`;
    if (this.answered.has(key)) return;
    if (this.answered.size >= ANSWERED_MAX) this.answered.clear();
    this.answered.add(key);
    // One that holds none of it answers with an empty map: the asker need not wait for it to ask full holders
    // (swarm-pick.ts); if it starts fetching the object, it tells the asker its state then (takeEarly).
    // One whose upload is capped (a volunteer's setting) answers so too: a reader that finished is taken as a reader
    // source, before the full holders, and a capped one served all of a 16 MiB read at 1 MiB/s while the object's
    // creator sat idle (session 16). Readers ask it as a full holder instead (swarm-fetch.ts onHave), among the others.
    void this.links.lookup(h.id).then(
      (held) => {
        const link = this.links.links.get(peer);
        const size = held instanceof Uint8Array ? held.byteLength : held?.size;
        const whole = size !== undefined && this.links.upload === null;
        if (link?.state === 'open') sendHaves(link, h.id, whole ? range(chunkCount(size)) : [], []);
      },
      () => {},
    );
  }
}

/** What a kept have message counts against EARLY_MAX. */
function weight(h: Have): number {
  return 1 + h.have.length + h.claim.length;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
