// What a peer link's fetch is asked with (FetchOptions) and how it fails
// (issue 17): a lying holder, a stall, a request the reader took back.
import { TabmeshError } from '../errors.js';
import type { FanWord } from './fan-out.js';

/**
 * A holder sent a chunk (or leaves) that does not match the object's hash
 * (issue 17). What arrived before it checked out: `partial` holds it, for the
 * rest to come from another holder.
 */
export class BadChunkError extends TabmeshError {
  constructor(
    readonly peer: string,
    message: string,
    readonly partial: { buf: Uint8Array; received: number } | null,
  ) {
    super('OBJECT_LOST', message);
  }
}

/** A transfer got nothing for the stall time (the peer may be busy or its link frozen, not gone): the swarm asks it again later. */
export class StalledError extends TabmeshError {
  constructor(message: string) {
    super('CLOSED', message);
  }
}

/**
 * No link to the peer came up: it did not open in time (a busy process, slow
 * signals), or the pool tried lately and it did not. `left`: the coordinator
 * could not signal the peer (it left): not worth asking again. A swarm asks a
 * peer that was only slow again later (swarm-window.ts), not never.
 */
export class NoLinkError extends TabmeshError {
  constructor(
    message: string,
    readonly left: boolean,
  ) {
    super('CLOSED', message);
  }
}

/** The reader took back a request (`Cancel`): chunks up to `verified` arrived and checked. */
export class CancelledError extends TabmeshError {
  constructor(readonly verified: number) {
    super('CLOSED', 'cancelled by the reader');
  }
}

/** Set by `fetch` when given: takes the request back (the holder is told; the promise rejects with CancelledError); returns the bytes verified. */
export interface Cancel {
  cancel?: () => number;
}

export interface FetchOptions {
  /** The object's hash: each chunk is checked against the leaves the holder sends first. */
  hash?: string;
  /** Resume: bytes [0, from) are already in `into` (a chunk boundary). */
  from?: number;
  into?: Uint8Array;
  /** Swarm runs (swarm.ts): only bytes [from, to) into `into`, checked against these leaves (already checked against the hash). */
  to?: number;
  leaves?: Uint8Array;
  /** Only the leaves (checked against `hash`); the promise resolves with them. */
  leavesOnly?: boolean;
  /** A range asked with its leaves (`hash`, no `leaves`): told the leaves once they checked out, before the chunks come. */
  gotLeaves?: (leaves: Uint8Array) => void;
  /** The reader acts on the holder's word (fan-out.ts): asked with `f`, told it here. */
  onFan?: (m: FanWord, fill: boolean) => void;
  cancel?: Cancel;
}
