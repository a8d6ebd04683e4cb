// Which chunks a swarm reader asks a source for (issue 17): of those the
// source may be asked for, the rarest first (fewest sources hold it; ties at
// random) or from a random spot on; a full holder only for chunks no other
// reader holds or has lately claimed, and only once the readers told have
// answered; then a run of up to RUN_CHUNKS from there.
import type { Source, SwarmContext } from './swarm-source.js';

/** Chunks asked for in one request. */
export const RUN_CHUNKS = 4;
/** A claim older than this no longer keeps a reader from asking a full holder. */
const CLAIM_MS = 3_000;
/**
 * A reader claims again, every this often, the chunks it still waits for from
 * a full holder: a run asked over a deep window (a tab's WebSocket link to a
 * Node peer: 8 MiB in flight at a few MiB/s under load) may take longer than
 * CLAIM_MS, and the others then asked the origin for it too (session 11).
 */
export const CLAIM_RENEW_MS = CLAIM_MS / 3;
/** Link chunks per request on a stream link with full holders only (fewer round trips). */
export const LONE_RUNS = 4;
/**
 * How long after its have map went out a reader waits for a told reader's
 * answer (every swarm peer answers, with an empty map if it holds nothing:
 * swarm.ts) before asking full holders without it. Until the map went out
 * (the link is still opening) it waits while the told reader shows it is
 * there (unheard): at most the link's connect timeout, then the link failed
 * and that reader is dropped; and SILENT_DIAL_MS for one that sent no signal.
 */
const HEAR_MS = 1_000;
/**
 * How long a reader waits for a told reader from which no signal came since
 * (its dial unanswered, no dial of its own): half the link's connect timeout.
 * A reader whose signals take a second each way (the sim's late links) answers
 * a dial after 2 s and some; at 2 s the origin sent 1.23 copies there, not 1.
 */
const SILENT_DIAL_MS = 2_500;

/** A chunk's state at a reader. */
export const MISSING = 0;
export const ASKED = 1;
export const HELD = 2;

/** What the choice reads of a SwarmFetch. */
export interface PickView {
  readonly chunks: number;
  readonly state: Uint8Array;
  /** Per chunk, the readers still asked that hold it. */
  readonly holders: Uint16Array;
  readonly sources: Map<string, Source>;
  /** Where a reader starts looking in the 'random' order. */
  readonly spot: number;
  readonly swarm: SwarmContext;
  /** The reader keeps to Node sources (swarm-policy.ts): a Node full holder is asked for any chunk it lacks. */
  readonly nodeFirst: boolean;
  /** Kept to a holder that said fill (fan-out.ts): it is asked only for chunks no reader holds; readers for theirs. */
  readonly fill: boolean;
}

/** Whether this side may ask `s` for chunk `c` now (`fill`: v.fill, read once a pick: it walks the sources). */
function wants(v: PickView, s: Source, c: number, now: number, fill: boolean): boolean {
  if (v.state[c] !== MISSING) return false;
  // A reader that is no Node process (a tab over WebRTC: 5x the CPU of a Node peer's link, session 12) only for
  // chunks no Node reader holds: the swarm's bytes go origin -> edges -> tabs (session 14, fan-out.ts).
  if (!s.full) return s.has![c] === 1 && (s.node || !v.swarm.preferNode || !nodeHolds(v, c));
  // Told to fill: what a reader holds comes from that reader (the origin sent it once already), the rest from the holder.
  if (fill) return !readerHolds(v, c);
  if (v.nodeFirst) return true; // only Node sources are asked then (pick)
  // A full holder: only chunks no other reader holds or has lately claimed.
  for (const o of v.sources.values()) {
    if (o === s || o.full || o.dropped) continue;
    if (o.has![c] === 1) return false;
    const at = o.claims.get(c);
    if (at !== undefined && now - at < CLAIM_MS) return false;
  }
  return true;
}

/** A run [first, end) of up to `run` chunks to ask `s` for, or null. */
export function pick(v: PickView, s: Source, run = s.run): [number, number] | null {
  const now = Date.now();
  // Read once: a getter that walks the sources, asked per chunk it cost a lone reader's main thread more than the
  // rest of the pick (profile of an 80 MiB read from one Node holder, issue 17, session 19).
  const fill = v.fill;
  // Keeping to Node sources: no other is asked (but readers, to fill), and a Node full holder need not wait for
  // readers (none is told; to fill, they are told as the holder's word comes).
  if (v.nodeFirst && !s.node && !fill) return null;
  // Full holders wait until the readers told have answered: what they hold or claimed is not asked of the origin.
  if (s.full && (!v.nodeFirst || fill) && unheard(v, now)) return null;
  // Told to fill, and a reader's link did not open yet (it is asked again: swarm-window.ts): what it holds is not
  // asked of the holder meanwhile (bench, session 16: an edge whose links to the tabs took over 5 s took all 64 MiB
  // from the origin, 2.33 copies). Bounded by the retries: once spent, the holder is asked for the rest.
  if (s.full && fill && askedAgain(v)) return null;
  let c = v.swarm.order === 'rarest' ? rarest(v, s, now, fill) : firstFrom(v, v.spot, s, now, fill);
  if (c < 0) return null;
  // On a stream link (runs of one 1 MiB link chunk) with no other reader to
  // spread over (full holders only), runs keep to aligned blocks of 4 link
  // chunks: picks at random spots cut the object into ever shorter runs (one
  // fast-link holder got 250 requests for 80 MiB, many of one leaf, each a
  // round trip) where blocks give 20.
  // On a data channel whose messages carry several leaves, runs keep to aligned blocks of `run` (whole messages):
  // rarest first with ties at random cut a lone reader's runs of 3 leaves into 1, 2 and 3 (issue 17, session 14).
  let end = v.chunks;
  let span = run;
  if (run > RUN_CHUNKS && !s.aligned && (v.nodeFirst || onlyFull(v))) span = LONE_RUNS * run;
  if (span !== run || s.aligned) {
    const block = c - (c % span);
    while (c > block && wants(v, s, c - 1, now, fill)) c--;
    end = Math.min(end, block + span);
  }
  let e = c + 1;
  while (e < end && e - c < span && wants(v, s, e, now, fill)) e++;
  return [c, e];
}

/**
 * Whether a reader this side told of its chunks has not answered yet, and may
 * still: the map went out less than HEAR_MS ago, or its link is opening and
 * the reader is there: a signal came from it since this side began to tell it
 * (it answered the dial, or dialled itself), or SILENT_DIAL_MS have not passed.
 * A wait from the fetch's start instead (250 ms) let readers whose links took
 * 0.7-2.3 s to open under load (busy edge processes) take a tab's object from
 * it over a WebSocket two or three times (session 11); a wait for any link
 * still opening held every reader off the origin for the link's connect
 * timeout (5 s) when a listed reader was gone (session 12).
 */
function unheard(v: PickView, now: number): boolean {
  for (const o of v.sources.values()) {
    if (o.full || o.dropped || !o.told || o.heard) continue;
    if (o.toldAt > 0 ? now - o.toldAt < HEAR_MS : now - o.tellAt < SILENT_DIAL_MS || v.swarm.links.signalledAt(o.peer) >= o.tellAt) return true;
  }
  return false;
}

/** Whether a reader was dropped and will be asked again (its link did not open, or it stalled). */
function askedAgain(v: PickView): boolean {
  for (const o of v.sources.values()) if (!o.full && o.dropped && o.retryAt > 0) return true;
  return false;
}

/** Whether a live reader holds chunk `c`. */
function readerHolds(v: PickView, c: number): boolean {
  for (const o of v.sources.values()) if (!o.full && !o.dropped && o.has![c] === 1) return true;
  return false;
}

/** Whether a live Node reader (over a stream link) holds chunk `c`. */
function nodeHolds(v: PickView, c: number): boolean {
  for (const o of v.sources.values()) if (!o.full && o.node && !o.dropped && o.has![c] === 1) return true;
  return false;
}

/** Whether every live source holds the whole object (no reader still receiving it to spread asks over). */
function onlyFull(v: PickView): boolean {
  for (const o of v.sources.values()) if (!o.full && !o.dropped) return false;
  return true;
}

/** Of the chunks `s` may be asked for, one that the fewest sources hold (ties at random); -1 if none. */
function rarest(v: PickView, s: Source, now: number, fill: boolean): number {
  let best = -1;
  let fewest = Infinity;
  let ties = 0;
  for (let c = 0; c < v.chunks; c++) {
    if (v.holders[c] > fewest || !wants(v, s, c, now, fill)) continue;
    if (v.holders[c] < fewest) {
      fewest = v.holders[c];
      best = c;
      ties = 1;
    } else if (v.swarm.rand() * ++ties < 1) best = c;
  }
  return best;
}

/** The first chunk from `spot` on that `s` may be asked for; -1 if none. */
function firstFrom(v: PickView, spot: number, s: Source, now: number, fill: boolean): number {
  for (let i = 0; i < v.chunks; i++) {
    const c = (spot + i) % v.chunks;
    if (wants(v, s, c, now, fill)) return c;
  }
  return -1;
}
