// Per-connection and per-address limits (issue 8). Every session has token
// buckets for its messages and its signals; every address a rate of new
// connections and a (high) bound on open ones; every job a bound on its
// unfinished tasks; every object a size limit. Over a limit the offending
// connection gets an error naming the limit, then is closed; nobody else
// notices. Volunteers often share one address (a campus or an office behind
// NAT, issue 14): what stops a flood from one address is the rate of new
// connections and what each connection may do, not a low count of open ones.
import type { Msg } from '../../shared/protocol/messages.js';
import type { Session } from '../session.js';
import { openFileLimit, sessionBudget } from './open-files.js';
import { retryReason } from '../../shared/backoff.js';
import { sendOnReason } from '../../shared/coordinator-urls.js';
import { Bucket, type SessionBuckets } from './bucket.js';

export interface Limits {
  /** Messages a session may send per second on average (all kinds). */
  messagesPerSec: number;
  /** ...and in one burst (a driver submitting a large batch at once). */
  messagesBurst: number;
  /**
   * Signals a session may send per second and in a burst before it is
   * disconnected. The signalling relay refuses single signals sooner
   * (coordinator/signal, 100/s, bursts of 400); this is the flood line.
   */
  signalsPerSec: number;
  signalsBurst: number;
  /** Largest object a put or a task result may declare. */
  maxObjectBytes: number;
  /** Unfinished tasks (waiting, queued, running) one job may have. */
  maxTasksPerJob: number;
  /** Open WebSocket connections from one address (high: thousands of tabs may share a NAT address). */
  connectionsPerAddress: number;
  /** Open WebSocket connections in all (default: the open-file limit less a reserve, limits/open-files.ts). */
  maxSessions: number;
  /** New WebSocket connections one address may open per second on average... */
  connectionsPerSecPerAddress: number;
  /** ...and in one burst (a lab of tabs opening at once, a reconnect after a restart). */
  connectionsBurstPerAddress: number;
}

export const DEFAULT_LIMITS: Limits = {
  messagesPerSec: 100_000,
  messagesBurst: 200_000,
  signalsPerSec: 200,
  signalsBurst: 800,
  maxObjectBytes: 2 ** 32,
  maxTasksPerJob: 1_000_000,
  connectionsPerAddress: 20_000,
  maxSessions: sessionBudget(openFileLimit()),
  // A campus of 10,000 tabs opening (or coming back after a restart) at once fits the burst;
  // sustained, 500 hellos a second is about what one coordinator core takes (issue 14).
  connectionsPerSecPerAddress: 500,
  connectionsBurstPerAddress: 10_000,
};

/**
 * Sessions a full coordinator keeps for drivers and dashboards (an eighth of
 * the bound, at most this many): a crowd of volunteers that fills it must not
 * lock out the job that would use them (issue 14, bench:scale at 20,000 nodes).
 */
export const DRIVER_ROOM = 16;

/** A limit crossed: its stable code and what to tell the connection. */
export interface Breach {
  code: 'RATE_LIMITED' | 'SIGNAL_FLOOD' | 'OBJECT_TOO_LARGE' | 'TOO_MANY_TASKS' | 'TOO_MANY_CONNECTIONS' | 'CONNECTING_TOO_FAST' | 'COORDINATOR_FULL';
  message: string;
  /** When to come back (CONNECTING_TOO_FAST): the refused connection's own slot at the address's rate (shared/backoff.ts retryHint). */
  retryAfterMs?: number;
  /** Where to go instead (COORDINATOR_FULL in a mesh): the live coordinator with the most room (shared/coordinator-urls.ts). */
  next?: string;
}

/** The close reason of a refused connection: its code, and when to come back or where to go (both parsed by clients). */
export function refusalReason(b: Breach): string {
  if (b.retryAfterMs !== undefined) return retryReason(b.code, b.retryAfterMs);
  return sendOnReason(b.code, b.next);
}

export class LimitKeeper {
  readonly limits: Limits;
  private readonly perAddress = new Map<string, number>();
  /** Sockets open from every address. */
  private open = 0;
  /** New-connection buckets of addresses seen lately (dropped once full again and no socket is open). */
  private readonly connectRate = new Map<string, Bucket>();
  /** Connections closed for a limit, by code (for /api/stats and tests). */
  readonly breaches: Record<string, number> = {};
  /** In a mesh (coordinator/mesh): the coordinator a refused node is sent on to, when one has room. */
  sendOn: () => string | undefined = () => undefined;
  /** Refusals that named another coordinator (/api/stats `fullSentOn`). */
  sentOn = 0;

  constructor(limits: Partial<Limits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** A socket opened; null, or why it must close at once. Every call is matched by one `closed`. */
  opened(address: string, now = Date.now()): Breach | null {
    const L = this.limits;
    const n = (this.perAddress.get(address) ?? 0) + 1;
    this.perAddress.set(address, n);
    this.open++;
    if (this.open > L.maxSessions) {
      return this.full(`this coordinator holds ${L.maxSessions} connections (its open-file limit less a reserve): raise \`ulimit -n\` or add a coordinator`);
    }
    let rate = this.connectRate.get(address);
    if (!rate) this.connectRate.set(address, (rate = new Bucket(L.connectionsPerSecPerAddress, L.connectionsBurstPerAddress, now)));
    if (!rate.take(1, now)) {
      const retryAfterMs = rate.reserve(now);
      return this.count({
        code: 'CONNECTING_TOO_FAST',
        message: `more than ${L.connectionsPerSecPerAddress} new connections per second (bursts of ${L.connectionsBurstPerAddress}) from ${address}; try again in ${retryAfterMs} ms`,
        retryAfterMs,
      });
    }
    if (n > L.connectionsPerAddress) {
      return this.count({ code: 'TOO_MANY_CONNECTIONS', message: `more than ${L.connectionsPerAddress} open connections from ${address}` });
    }
    return null;
  }

  /** A node's hello: null, or COORDINATOR_FULL when only the room kept for drivers is left. */
  nodeMayJoin(): Breach | null {
    const L = this.limits;
    const room = this.driverRoom;
    if (this.open <= L.maxSessions - room) return null;
    return this.full(
      `this coordinator holds ${L.maxSessions - room} nodes (its open-file limit less a reserve, and ${room} connections kept for drivers): raise \`ulimit -n\` or add a coordinator`,
    );
  }

  private get driverRoom(): number {
    return Math.min(DRIVER_ROOM, Math.floor(this.limits.maxSessions / 8));
  }

  /** Nodes this coordinator may still take (its mesh record: full ones send nodes to the roomiest). */
  nodeRoom(): number {
    return Math.max(0, this.limits.maxSessions - this.driverRoom - this.open);
  }

  /** COORDINATOR_FULL, naming the coordinator of the mesh to go to when one has room. */
  private full(message: string): Breach {
    const next = this.sendOn();
    if (next !== undefined) this.sentOn++;
    return this.count({ code: 'COORDINATOR_FULL', message: next === undefined ? message : `${message}; go to ${next}, which has room`, next });
  }

  closed(address: string, now = Date.now()): void {
    this.open--;
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n <= 0) {
      this.perAddress.delete(address);
      // Nothing open from there: forget its bucket once it has refilled (a full bucket is what a new one would be).
      if (this.connectRate.get(address)?.full(now)) this.connectRate.delete(address);
    } else this.perAddress.set(address, n);
  }

  /** Addresses with open connections or a connection rate still remembered (bounded by what is open, for tests). */
  get addressesTracked(): number {
    return new Set([...this.perAddress.keys(), ...this.connectRate.keys()]).size;
  }

  /** A frame of `count` messages arrived on `s`. */
  frame(s: Session, count: number): Breach | null {
    if (this.of(s).messages.take(count)) return null;
    return this.count({
      code: 'RATE_LIMITED',
      message: `more than ${this.limits.messagesPerSec} messages per second (bursts of ${this.limits.messagesBurst})`,
    });
  }

  /** One message, checked for what its kind can cost. */
  message(s: Session, m: Msg): Breach | null {
    switch (m.t) {
      case 'signal':
        return this.signal(s);
      case 'put':
        return this.objectSize(m.size);
      case 'done':
        for (const r of m.results) {
          const b = this.objectSize(r.v ? r.v.byteLength : r.size);
          if (b) return b;
        }
        return null;
      case 'stored':
        return this.objectSize(m.size);
      default:
        return null;
    }
  }

  /**
   * The hook for signalling message kinds: each one spends a token of the
   * session's signal bucket; a session that floods is disconnected.
   */
  signal(s: Session): Breach | null {
    const b = this.of(s);
    if ((b.signals ??= new Bucket(this.limits.signalsPerSec, this.limits.signalsBurst)).take()) return null;
    return this.count({
      code: 'SIGNAL_FLOOD',
      message: `more than ${this.limits.signalsPerSec} signalling messages per second (bursts of ${this.limits.signalsBurst})`,
    });
  }

  objectSize(bytes: number): Breach | null {
    if (bytes <= this.limits.maxObjectBytes) return null;
    return this.count({ code: 'OBJECT_TOO_LARGE', message: `object of ${bytes} bytes is over the limit of ${this.limits.maxObjectBytes}` });
  }

  /** A job with `unfinished` tasks wants one more. */
  tasks(unfinished: number): Breach | null {
    if (unfinished < this.limits.maxTasksPerJob) return null;
    return this.count({ code: 'TOO_MANY_TASKS', message: `a job may have at most ${this.limits.maxTasksPerJob} unfinished tasks` });
  }

  private of(s: Session): SessionBuckets {
    return (s.buckets ??= { messages: new Bucket(this.limits.messagesPerSec, this.limits.messagesBurst), signals: null });
  }

  private count(b: Breach): Breach {
    this.breaches[b.code] = (this.breaches[b.code] ?? 0) + 1;
    return b;
  }
}
