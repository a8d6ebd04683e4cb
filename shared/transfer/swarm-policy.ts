// Which sources a swarm reader uses (issue 17, session 13): a Node source
// first. On one host a tab read a Node origin over its WebSocket so cheaply
// that the swarm between tabs (WebRTC) cost 5x the CPU and 4x the time of 8
// copies from the origin (bench:objects broadcast, session 12). So a reader
// with a full holder that is a Node process over a stream link (TCP, or a
// tab's WebSocket: RawPeer.remoteNode) asks it for every chunk it lacks, tells
// no reader of its chunks and asks none that is not a Node source, while that
// holder keeps up: while the rate it gives this reader (bytes answered over the
// time requests were in flight) stays at or above what a tab peer's WebRTC
// link adds (link-rates.ts). Once it falls below (the origin's upload is the
// limit, shared by many readers), the reader turns to the swarm for the rest
// of the fetch: it tells the readers it knows, respects their claims, and asks
// the origin only for what no reader holds or claimed. A tab origin is no Node
// source: its readers swarm from the start, and the origin uploads little
// more than one copy (the target, <= 2.0).
//
// The holder's word comes first (session 14, fan-out.ts): the rate a reader
// sees misfired under load (a starved reader turned while the origin was not
// the limit). A holder that says FAN_SWARM is the limit for this reader: it
// turns at once. One that says FAN_STREAM is kept to unless it trickles (below
// an eighth of a tab link's rate: a holder that lies about its load slows a
// reader at most to that, and a stall drops it as before). No word (an older
// holder): the reader's own judgement, as above.
import { LINK_BYTES_PER_MS } from './link-rates.js';
import { FAN_STREAM, FAN_SWARM } from './fan-out.js';
import type { Source } from './swarm-source.js';

/** A source's rate is judged once this many bytes came from it, or requests to it were in flight this long. */
const JUDGE_BYTES = 2 << 20;
const JUDGE_MS = 500;
/** A Node source giving less than this (bytes per ms) is the limit: a tab peer's link would add as much. */
export const NODE_LIMIT_BYTES_PER_MS = LINK_BYTES_PER_MS.webrtc;
/** A Node source that said FAN_STREAM is left only below this: it trickles. */
export const STREAM_FLOOR_BYTES_PER_MS = NODE_LIMIT_BYTES_PER_MS / 8;

/** Requests to `s` are in flight from `now` (the first of a busy spell). */
export function busyFrom(s: Source, now: number): void {
  if (s.inflight === 0) s.busySince = now;
}

/** A request to `s` ended with `bytes` answered; the spell ends with the last in flight. */
export function answered(s: Source, bytes: number, now: number): void {
  s.got += bytes;
  if (s.inflight === 0) s.busyMs += now - s.busySince;
}

/** Whether `s`, a Node full holder, gives this reader less than `limit` bytes per ms, once measured enough. */
export function atLimit(s: Source, now: number, limit = NODE_LIMIT_BYTES_PER_MS): boolean {
  const ms = s.busyMs + (s.inflight > 0 ? now - s.busySince : 0);
  if (s.got < JUDGE_BYTES && ms < JUDGE_MS) return false;
  return s.got < limit * ms;
}

/** Whether `s`, a Node full holder, keeps up for this reader: its word first, else the rate it gives. */
export function keepsUp(s: Source, now: number): boolean {
  if (s.word === FAN_SWARM) return false;
  return !atLimit(s, now, s.word === FAN_STREAM ? STREAM_FLOOR_BYTES_PER_MS : NODE_LIMIT_BYTES_PER_MS);
}

/** Whether a reader keeps to Node sources now: a live Node full holder keeps up. */
export function nodeFirst(sources: Iterable<Source>, now: number): boolean {
  for (const s of sources) if (s.full && s.node && !s.dropped && keepsUp(s, now)) return true;
  return false;
}

/**
 * Whether a reader keeping to Node sources does so because a holder streams to
 * it (FAN_STREAM): it then tells the readers it knows of its chunks and claims
 * every chunk it lacks (the others take them from it, not from the origin).
 */
export function streamedTo(sources: Iterable<Source>): boolean {
  for (const s of sources) if (s.full && s.node && !s.dropped && s.word === FAN_STREAM) return true;
  return false;
}

/**
 * Whether the holder streaming to this reader said fill (fan-out.ts): it came
 * late and outranked readers streamed to before it, so it takes from the
 * readers what they hold and asks the holder only for the rest (swarm-pick.ts).
 */
export function filling(sources: Iterable<Source>): boolean {
  for (const s of sources) if (s.full && s.node && !s.dropped && s.word === FAN_STREAM && s.fill) return true;
  return false;
}
