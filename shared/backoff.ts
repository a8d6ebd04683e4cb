// One capped exponential backoff with full jitter for every reconnect and retry
// loop (drivers, nodes, tabs, the dashboard). Without jitter, every tab of a mesh
// reconnects in lockstep after a coordinator restart; with "full jitter" (a
// uniform draw in [0, cap]) the herd spreads over the whole window.

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
