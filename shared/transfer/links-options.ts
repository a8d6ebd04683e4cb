// What a peer's link pool (links.ts) is given by its host (a node's runtime,
// a driver, a test): how to make and signal links, what it serves, its limits,
// and where task messages and the swarm's messages go.
import type { ObjectId } from '../ids.js';
import type { IceConfig, PeerFactory } from './raw-peer.js';
import type { Direct, Have, Shortcut } from './wire.js';
import type { ObjectSource } from './source.js';

export interface PeerLinksOptions {
  factory: PeerFactory;
  /** The ICE servers the coordinator handed out (none: host candidates only). */
  ice?: () => IceConfig | undefined;
  /** This peer's id (its node id, or a driver's job id); null until welcomed. */
  self(): string | null;
  sendSignal(peer: string, data: string): void;
  /** An object held here, to serve a request: its bytes, or a source streaming it from a lower tier. */
  lookup(id: ObjectId): Promise<Uint8Array | ObjectSource | undefined>;
  log?: (text: string) => void;
  maxLinks?: number;
  idleMs?: number;
  connectTimeoutMs?: number;
  /** A transfer with no chunk for this long fails (and the reader uses the relay). */
  stallMs?: number;
  /** A link with bytes queued whose connection sent no packet (or heard none) for this long is closed as frozen (link-watch.ts). */
  frozenMs?: number;
  /** Receive buffers reserved at once, bounding memory under many concurrent fetches. */
  incomingBytes?: number;
  /** After a link failed to come up, how long to go straight to the relay for that peer. */
  failedForMs?: number;
  /** Bytes being served at once (one object always): objects in memory once each, and each stream from a lower tier its read-ahead. */
  servingBytes?: number;
  /** This node's cap on its upload over peer links, MiB/s (upload-cap.ts); none by default. */
  maxUploadMiBps?: number;
  /** A task's result sent by `peer` (a driver's; unset: ignored). */
  result?: (peer: string, r: Shortcut) => void;
  /** A direct submission's task or refusal from `peer` (shared/protocol/direct.ts; unset: ignored). */
  direct?: (peer: string, d: Direct) => void;
  /** A link closed (what it carried in flight is lost). */
  linkClosed?: (peer: string) => void;
}

export const DEFAULT_MAX_LINKS = 32;

/** The swarm's side of the pool (swarm.ts): objects being fetched, served by chunk runs, and their peers' have messages. */
export interface SwarmHooks {
  partial(id: ObjectId, from: number, end: number): Uint8Array | undefined;
  have(peer: string, h: Have): void;
}
