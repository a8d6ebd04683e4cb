// An edge node's helper threads: its hash pool's (node-hash.ts) and its memory
// warmer's (node-warm.ts), four threads a node. Session 22 started them as the
// node started, so that a first large transfer does not wait for their boot
// (issue 17). Each thread's boot costs ~85 ms of CPU on this project's 2-core
// VMs, ~0.35 CPU-s a node process: paid by every node a test starts and stops
// within seconds, that moves no large object (session 32). Now a node installs
// their hooks as it starts (no thread yet) and starts the threads on the first
// sign of a large object: its first peer link (objects past the inline size
// move over them), or HELPERS_AFTER_MS after it joined, whichever comes first.
// A value hashed or a buffer warmed before that starts them too, as a driver's
// do (node-hash.ts bootingLeaves: hashed on the caller's thread while they boot).
import type { PeerFactory } from '../shared/transfer/raw-peer.js';
import { TabmeshError } from '../shared/errors.js';
import { installNodeHasher, startHashPool } from './node-hash.js';
import { installNodeWarmer, startWarmer } from './node-warm.js';

/** After its first join, a node starts its helper threads this long later if nothing started them before. */
export const HELPERS_AFTER_MS = 2000;

let started = false;

/** The hash and warm hooks, without their threads. */
export function installNodeHelpers(): void {
  installNodeHasher();
  installNodeWarmer();
}

/** Starts the helper threads (once a process). */
export function startNodeHelpers(): void {
  if (started) return;
  started = true;
  startHashPool();
  startWarmer();
}

/** The node's peer factory, starting the helper threads as its first link is made (either end). */
export function helpersAtFirstLink(peers: PeerFactory | undefined, start: () => void = startNodeHelpers): PeerFactory | undefined {
  if (!peers) return undefined;
  return (initiator, ice) => {
    start();
    return peers(initiator, ice);
  };
}

/** `helpersAfterMs` as given (undefined: HELPERS_AFTER_MS), checked. */
export function helpersAfterMs(ms: unknown): number {
  if (ms === undefined) return HELPERS_AFTER_MS;
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > 3_600_000)
    throw new TabmeshError('BAD_ARGUMENT', `helpersAfterMs must be a whole number of ms from 0 to 3600000, got ${JSON.stringify(ms)}`);
  return ms;
}

/** A timer that starts the helper threads `ms` from now (unref'd: it keeps no process alive); returns its cancel. */
export function helpersAfter(ms: number, start: () => void = startNodeHelpers): () => void {
  const t = setTimeout(start, ms);
  t.unref();
  return () => clearTimeout(t);
}
