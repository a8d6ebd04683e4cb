// How much a swarm reader asks of each source at once (issue 17): chunks per
// request and requests in flight, by the link's kind, and sources asked again
// after a stall.
import { CHUNK_DATA_BYTES } from './wire.js';
import { LONE_RUNS, RUN_CHUNKS } from './swarm-pick.js';
import type { ObjectId } from '../ids.js';
import type { Source, SwarmContext } from './swarm-source.js';
import { BadChunkError, NoLinkError, StalledError } from './fetch-errors.js';
import type { PeerLink } from './link.js';

/** Requests in flight per source. */
export const PER_SOURCE = 4;
/**
 * Over a stream link (TCP between Node peers): a request is a run of one
 * link chunk (1 MiB), this many in flight. At 4 runs of 4 leaves (1 MiB in
 * flight) a reader waited a round trip per MiB: a task's 80 MiB argument came
 * at half the link's pace (issue 17).
 */
const STREAM_DEPTH = 8;
/**
 * A reader with no other reader to share with (one reader, as tab to tab, or
 * a tab reading a driver's put) asks its first full holder for the leaves and
 * LONE_RUN chunks (1 MiB) at once (swarm-fetch.ts getLeaves), then a full
 * holder over a data channel for runs of LONE_RUN, one more in flight for
 * each answered, up to LONE_DEPTH (8 MiB). At 1 MiB in flight a tab waited a
 * round trip between two busy processes per MiB (issue 17: a tab read a
 * driver's 8 MiB put at 2 MiB/s while the driver's channel queue stayed
 * empty). The window grows, not starts, wide: readers that start together
 * would both take it from the origin; once another reader shows up, the
 * requests past the first in flight are taken back before this reader tells
 * it what it claimed (a lone reader's claims would keep the others off the
 * origin while only it is served).
 */
export const LONE_RUN = 16;
const LONE_DEPTH = 32;
/**
 * A source dropped on a stall (a busy peer, a link frozen for a while) or
 * whose link did not come up in time (a busy process: under load links took
 * over 5 s to open, and an edge told to fill took all 64 MiB from the origin,
 * bench session 16) is asked again after a backoff, doubling from
 * READMIT_MS, at most READMIT_MAX times; at once when a have message from it
 * arrives. One that left (the coordinator could not signal it) is not.
 */
const READMIT_MS = 1_000;
const READMIT_MAX = 3;

/**
 * Runs and depth for the link to `s`: a stream link's chunk per request, STREAM_DEPTH in flight. A data
 * channel's chunks of a few leaves (a tab's: raw-peer.ts channelChunkBytes) are smaller than a run: its
 * window stays a data channel's, its runs whole messages (Chromium's 3 leaves: runs of 3, which went as
 * 3 + 1 leaves at RUN_CHUNKS; issue 17, session 14).
 * Also marks whether `s` is a Node source.
 */
export function fit(s: Source, link: PeerLink): void {
  s.node = link.raw.remoteNode === true;
  const leaves = Math.floor((link.raw.chunkBytes ?? 0) / CHUNK_DATA_BYTES);
  if (leaves < RUN_CHUNKS) {
    if (leaves < 2) return;
    s.run = leaves * Math.max(1, Math.floor(RUN_CHUNKS / leaves));
    s.aligned = true;
    return;
  }
  s.run = leaves;
  s.depth = STREAM_DEPTH;
}

/**
 * A lone reader's first run (with the leaves), and every run from a full holder over a data channel whose
 * messages carry several leaves (`aligned`): LONE_RUN leaves, there whole messages (Chromium's 3: 18). Runs of 3
 * cost the reader's main thread a request sent and a hasher request each (the page's calls, a few hundred µs
 * each under load: 342 of each for 64 MiB). Issue 17, session 14.
 * Over an open stream link (a chunk of LONE_RUN leaves or more) the first run is the block later runs from a full
 * holder take (swarm-pick.ts: LONE_RUNS link chunks, 4 MiB): its holder had 1 MiB to send, then waited out the
 * leaves' round trip for the next requests (issue 17, session 21).
 */
export function loneRun(s: Source): number {
  if (s.aligned) return s.run * Math.ceil(LONE_RUN / s.run);
  return streamRuns(s) ? LONE_RUNS * s.run : LONE_RUN;
}

/** `s` is fitted to a stream link: its runs are whole link chunks of LONE_RUN leaves or more, taken in blocks. */
export function streamRuns(s: Source): boolean {
  return !s.aligned && s.run >= LONE_RUN;
}

/** Chunks per request and requests in flight for `s` now; `alone`: no reader is a source of this fetch. */
export function windowOf(s: Source, alone: boolean): { run: number; depth: number } {
  if (s.probation) return { run: s.run, depth: 1 };
  if (alone && s.full && s.run < LONE_RUN) {
    // The window in chunks as with runs of RUN_CHUNKS: PER_SOURCE of them at first, growing to LONE_DEPTH (8 MiB).
    const run = s.aligned ? loneRun(s) : s.run;
    const start = Math.max(1, Math.floor((s.depth * RUN_CHUNKS) / run));
    return { run, depth: Math.min(Math.max(1, Math.floor((LONE_DEPTH * RUN_CHUNKS) / run)), start + s.answered) };
  }
  // With other readers to share with, a full holder over a stream link gets PER_SOURCE runs in flight, not
  // STREAM_DEPTH: readers that pick at once (as they hear each other) overlap by what each asks then, and 8 runs of
  // 1 MiB covered a 8 MiB object whole (sim, session 11: the origin sent 2.1 copies at 8, 1.7 at 4, to 3 readers).
  if (!alone && s.full && s.depth > PER_SOURCE) return { run: s.run, depth: PER_SOURCE };
  return { run: s.run, depth: s.depth };
}

/** Sources dropped on a stall or a link slow to open whose backoff ran out (or that spoke) are asked again. */
export function readmit(f: { sources: Map<string, Source>; chunks: number; holders: Uint16Array }, now: number): void {
  for (const s of f.sources.values()) {
    if (!s.dropped || s.retryAt === 0 || s.retryAt > now) continue;
    s.dropped = false;
    s.retryAt = 0;
    s.readmits++;
    s.probation = true;
    // A reader whose link never opened did not get this side's have map: it is told again (swarm-fetch.ts tellReaders).
    if (!s.full && s.toldAt === 0) s.told = false;
    if (s.has) for (let c = 0; c < f.chunks; c++) if (s.has[c] === 1) f.holders[c]++;
  }
}

/**
 * A request to `s` failed: it is not asked again for this object (a link
 * that broke, a bad chunk, a refusal), unless it stalled or its link did not
 * open (it did not leave): then it is asked again after a backoff (or when it
 * sends a have message), one request at a time until one succeeds.
 */
export function dropSource(f: { swarm: SwarmContext; chunks: number; holders: Uint16Array }, id: ObjectId, s: Source, e: unknown): void {
  if (s.dropped) return;
  s.dropped = true;
  s.probation = false;
  if (s.has) for (let c = 0; c < f.chunks; c++) if (s.has[c] === 1) f.holders[c]--;
  s.noLink = e instanceof NoLinkError;
  if (e instanceof BadChunkError) return f.swarm.report.bad(id, s.peer, e.message);
  let again = '';
  if ((e instanceof StalledError || (e instanceof NoLinkError && !e.left)) && s.readmits < READMIT_MAX) {
    const wait = READMIT_MS << s.readmits;
    s.retryAt = Date.now() + wait;
    again = `; asked again in ${wait} ms or when it speaks`;
  } else s.retryAt = 0;
  f.swarm.report.dropped?.(id, s.peer, `${(e as Error).message}${again}`);
}
