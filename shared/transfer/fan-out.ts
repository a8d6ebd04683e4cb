// The holder decides (issue 17, session 14): a full holder serving one object
// to many readers at once streams whole copies to a few of them and tells the
// rest to take it from the swarm. Each reader's judgement of its own rate
// (swarm-policy.ts) misfired under load: a starved reader turned though the
// origin was not the limit, and a reader cannot tell its own slowness from
// the origin's. The holder sees every link it serves on: it keeps a whole
// stream going to at most FAN_STREAMS readers of an object (Node peers over a
// stream link first: they relay onward over TCP and to tabs over WebSocket)
// and answers the others' requests with FAN_SWARM. Readers that keep to it
// claim what they lack, so the swarm takes it from them, not from the origin:
// the origin uploads about FAN_STREAMS copies (bench:objects broadcast).
//
// On the wire: a request says `f` (it acts on the word); the holder answers
// `{ k: 'fan', x, m }` before the request's first bytes, on the link's lane;
// `r: true` with FAN_STREAM: fill (below). Older readers drop the field.
//
// Fill (session 16): a Node reader that comes late outranks readers already
// streamed to (tabs whose tasks started first), which are then told FAN_SWARM
// half through their copies. Streamed whole copies besides, the late reader
// made the origin upload 2.55-2.60 copies over WebRTC (bench, session 15) and
// 2.69-2.86 in the sim. So a reader that outranks readers that were streamed
// to is told to fill: it takes from the readers what they hold and asks this
// holder only for what none holds (swarm-pick.ts).
import type { ObjectId } from '../ids.js';

/** The holder's word to a reader: it streams the whole object to it. */
export const FAN_STREAM = 1;
/** The holder's word: it streams to others; take the chunks from the readers (ask it only for what none holds). */
export const FAN_SWARM = 2;
export type FanWord = typeof FAN_STREAM | typeof FAN_SWARM;

/** Readers of one object a holder streams whole copies to at once. */
export const FAN_STREAMS = 2;
/**
 * A reader that asked nothing of an object and was sent none of it for this
 * long is no longer one of its readers here. (Counted from requests alone, a
 * streamed reader with 8 MiB asked went quiet for seconds at load 30, and the
 * holder streamed to others too: bench, session 14.)
 */
const FAN_IDLE_MS = 2_000;
/** Readers remembered over all objects (a bound on what peers can make a holder keep). */
const FAN_MAX = 4096;

/** One reader of one object here. */
export interface FanReader {
  /** A Node process over a stream link (RawPeer.remoteNode): a relay. */
  node: boolean;
  /**
   * Its place in the order readers first asked here (for its rank): a count,
   * not a time. Ranked by the time it first asked, readers whose requests were
   * read in one millisecond (a busy holder reads queued frames in one go: CI
   * at load) all ranked first and all were streamed to (session 15).
   */
  order: number;
  /** When it last asked or was sent a chunk (a sender sets it: link-send.ts). */
  lastAt: number;
  /** Bytes of the object it asked for since its readers here last started over (the sender adds them: link-send.ts). */
  asked: number;
  /** The word it was last told. */
  word: FanWord;
  /** It was told FAN_STREAM (since it first asked here). */
  streamed: boolean;
  /** Told FAN_STREAM while it outranked a reader that was streamed to and asked bytes this wave: it fills (above). */
  fill: boolean;
}

export class FanOut {
  private readonly byObject = new Map<ObjectId, Map<string, FanReader>>();
  private count = 0;
  /** Readers that first asked here, ever (their order). */
  private asked = 0;
  /** Words said, by kind, and FAN_STREAM said to Node readers and told to fill (tests, bench). */
  readonly said = { stream: 0, swarm: 0, streamToNodes: 0, fill: 0 };
  /** False: this holder says no word (as an older build; readers judge by their rate: tests and benches compare). */
  speaks = true;

  constructor(readonly streams = FAN_STREAMS) {}

  /**
   * The word for `peer`'s request of `id`: FAN_STREAM while it ranks among the
   * first `streams` readers of `id` here (Node peers first, then in the order
   * they first asked) while its readers asked for less than `streams` copies
   * of its `size` bytes; else FAN_SWARM. A reader outranked later (a Node peer
   * came) hears FAN_SWARM with its next request; so does every reader once the
   * copies are spent: edge readers whose tasks start late (under load, seconds
   * after the tabs') outrank the tabs streamed to and were streamed whole
   * copies besides (sim, late edges: 2.79-3.14 copies, 2.69-2.86 with the
   * bound; session 15).
   */
  word(id: ObjectId, peer: string, node: boolean, now: number, size = Infinity): FanWord | 0 {
    return this.reader(id, peer, node, now, size)?.word ?? 0;
  }

  /** `peer` asks for `id`: its entry with the word it is told now (see word); null when this holder says none. */
  reader(id: ObjectId, peer: string, node: boolean, now: number, size: number): FanReader | null {
    if (!this.speaks) return null;
    let readers = this.byObject.get(id);
    if (!readers) {
      if (this.count >= FAN_MAX) this.prune(now);
      this.byObject.set(id, (readers = new Map<string, FanReader>()));
    }
    let me = readers.get(peer);
    if (!me) {
      if (this.count >= FAN_MAX) this.prune(now);
      // A new wave of readers (every other one idle): what was sent before no longer counts.
      if ([...readers.values()].every((r) => now - r.lastAt >= FAN_IDLE_MS)) for (const r of readers.values()) r.asked = 0;
      readers.set(peer, (me = { node, order: this.asked++, lastAt: now, word: FAN_STREAM, asked: 0, streamed: false, fill: false }));
      this.count++;
    }
    me.lastAt = now;
    let ahead = 0;
    let asked = 0;
    let outranks = false;
    for (const r of readers.values()) {
      asked += r.asked;
      if (r === me || now - r.lastAt >= FAN_IDLE_MS) continue;
      if ((r.node && !me.node) || (r.node === me.node && r.order < me.order)) ahead++;
      // One that asked first but ranks behind it (a tab behind a Node reader), streamed to and asking bytes: it holds some.
      else if (r.order < me.order && r.streamed && r.asked > 0) outranks = true;
    }
    // Streamed while it ranks among the first readers and this wave's readers asked for less than `streams` copies.
    me.word = ahead < this.streams && asked < this.streams * size ? FAN_STREAM : FAN_SWARM;
    if (me.word === FAN_STREAM) {
      me.streamed = true;
      if (outranks) me.fill = true;
    }
    if (me.word === FAN_STREAM) {
      this.said.stream++;
      if (me.node) this.said.streamToNodes++;
      if (me.fill) this.said.fill++;
    } else this.said.swarm++;
    return me;
  }

  /** Forgets readers idle for FAN_IDLE_MS (and, past FAN_MAX, every reader: the words start over). */
  prune(now: number): void {
    for (const [id, readers] of this.byObject) {
      for (const [peer, r] of readers) {
        if (now - r.lastAt < FAN_IDLE_MS) continue;
        readers.delete(peer);
        this.count--;
      }
      if (readers.size === 0) this.byObject.delete(id);
    }
    if (this.count >= FAN_MAX) {
      this.byObject.clear();
      this.count = 0;
    }
  }
}
