// One capped exponential backoff with full jitter for every reconnect and retry
// loop (drivers, nodes, tabs, the dashboard). Without jitter, every tab of a mesh
// reconnects in lockstep after a coordinator restart; with "full jitter" (a
// uniform draw in [0, cap]) the herd spreads over the whole window.
import { TabmeshError } from './errors.js';

export interface Backoff {
  /** The first step's cap, in ms. */
  baseMs: number;
  /** No wait exceeds this, in ms. */
  maxMs: number;
  /** A uniform draw in [0, 1); tests pass a seeded one. */
  random?: () => number;
}

/** The cap of step `attempt` (0-based): min(max, base · 2^attempt). */
export function backoffCap(b: Backoff, attempt: number): number {
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt, 30));
}

/** How long to wait before attempt `attempt + 1`: full jitter, uniform in [0, cap). */
export function backoffDelay(b: Backoff, attempt: number): number {
  return Math.floor((b.random ?? Math.random)() * backoffCap(b, attempt));
}

/** Resolves after backoffDelay(b, attempt). */
export function sleepBackoff(b: Backoff, attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, backoffDelay(b, attempt)));
}

/** The loops of the project, in one place so they can be compared. */
export const BACKOFF = {
  /** A driver reconnecting to its coordinator. */
  driverReconnect: { baseMs: 100, maxMs: 5000 },
  /** An edge node joining again. */
  nodeRejoin: { baseMs: 100, maxMs: 5000 },
  /** A volunteer tab joining again (a crowd: a wider window). */
  tabRejoin: { baseMs: 500, maxMs: 30_000 },
  /** The dashboard's live document socket. */
  dashboard: { baseMs: 100, maxMs: 5000 },
  /** A reader asking again for an object whose holder went away. */
  refetch: { baseMs: 50, maxMs: 1000 },
} as const satisfies Record<string, Backoff>;

/** A cap a user sets (an edge node's rejoinMaxMs, a driver's reconnectMaxMs): whole ms in this range. */
export const CAP_OPTION_MS = { min: 100, max: 600_000 } as const;

/**
 * `b` with its cap set to `maxMs`, a user's option (edge node `rejoinMaxMs` / `--rejoin-max-ms`, connect's
 * `reconnectMaxMs`): a whole number of ms in CAP_OPTION_MS, else BAD_ARGUMENT naming `what`. `b` itself when
 * `maxMs` is undefined (the default loop). Tests hold a restart's dead window short with it: after a coordinator
 * restart, a node waits up to the cap between tries (5 s by default).
 */
export function cappedAt(b: Backoff, maxMs: number | undefined, what: string): Backoff {
  if (maxMs === undefined) return b;
  if (!Number.isInteger(maxMs) || maxMs < CAP_OPTION_MS.min || maxMs > CAP_OPTION_MS.max)
    throw new TabmeshError('BAD_ARGUMENT', `${what} must be a whole number of ms from ${CAP_OPTION_MS.min} to ${CAP_OPTION_MS.max}, got ${String(maxMs)}`);
  return { ...b, maxMs };
}

/**
 * A refused connection's close reason that says when to come back
 * (coordinator/limits: CONNECTING_TOO_FAST gives each refused connection its
 * own slot at the address's rate, issue 14). Close reasons reach browsers too.
 */
export function retryReason(code: string, ms: number): string {
  return `${code} retry=${Math.max(0, Math.round(ms))}ms`;
}

/** The longest wait a coordinator's hint may ask for: a hint is input from outside. */
export const MAX_RETRY_HINT_MS = 10 * 60_000;

/** The wait a close reason (or an error message holding it) asks for (retryReason), or undefined. */
export function retryHint(why: string): number | undefined {
  const m = /\bretry=(\d{1,9})ms\b/.exec(why);
  return m ? Math.min(MAX_RETRY_HINT_MS, Number(m[1])) : undefined;
}

/**
 * How long to wait before attempt `attempt + 1` of a join that failed saying
 * `why`: the coordinator's hint when it gave one (a few ms of jitter on top:
 * the slots are spread already), else the capped full-jitter backoff. Every
 * rejoin loop (edge nodes, tabs, bench:scale's nodes) waits this.
 */
export function rejoinDelay(b: Backoff, attempt: number, why: string): number {
  const hint = retryHint(why);
  if (hint === undefined) return backoffDelay(b, attempt);
  return hint + Math.floor((b.random ?? Math.random)() * 20);
}

/**
 * Joins again until `attempt` succeeds (true), waiting rejoinDelay before each
 * try, or until `stopped()` says to give up (false). `why`: what ended the
 * last session. `moveOn(why)` picks the coordinator of the next try
 * (shared/coordinator-urls.ts) and says whether to go at once (a full one sent
 * the node on). Edge nodes run their reconnects through it (edge/node.ts).
 */
export async function joinAgain(
  attempt: () => Promise<unknown>,
  b: Backoff,
  why: string,
  stopped: () => boolean,
  moveOn: (why: string) => boolean = () => false,
): Promise<boolean> {
  for (let n = 0; ;) {
    // moveOn: where to try next (shared/coordinator-urls.ts); true when sent on by a full coordinator: at once.
    if (!moveOn(why)) await new Promise((r) => setTimeout(r, rejoinDelay(b, n++, why)));
    if (stopped()) return false;
    try {
      await attempt();
      return true;
    } catch (e) {
      why = (e as Error).message; // not up yet, or refused: try again
    }
  }
}
