// What a node runtime is given: the platform's pieces (sockets, executors,
// tiers, peer links, timers) and the volunteer's or operator's options.
import type { ActorKeep } from './actor-keep.js';
import type { WebSocketCtor } from '../api/socket.js';
import type { PeerFactory } from '../transfer/raw-peer.js';
import type { SpawnExecutor } from './executors.js';
import type { ObjectStore, SpillTier } from './store.js';
import type { EnvCache, EnvCacheLimits, EnvTier } from './env-cache.js';

export interface NodePlatform {
  WebSocket?: WebSocketCtor;
  spawnExecutor: SpawnExecutor;
  tier?: SpillTier;
  /** A repeating timer (default setInterval); browsers pass one that background tabs do not throttle. */
  every?: (ms: number, fn: () => void) => () => void;
  /** WebRTC peer links (issue 4); without them objects move through the coordinator's relay. */
  peers?: PeerFactory;
  /**
   * The store of an earlier session of this process (a node that reconnects,
   * e.g. after a coordinator restart): its objects are announced on welcome.
   */
  store?: ObjectStore;
  /** Where runtime env artifacts persist across restarts (issue 16): IndexedDB, or a folder. */
  envTier?: EnvTier;
  /** The runtime env cache of an earlier session of this process (kept across reconnects like `store`). */
  envCache?: EnvCache;
  /** Bounds of a new runtime env cache (issue 16): memory and tier bytes, LRU-pruned. */
  envLimits?: EnvCacheLimits;
  /**
   * Actors kept across sessions of this process (issue 15): a dropped
   * connection hands them here, the next session takes them in and says so in
   * its hello. Without it, actors die with their session.
   */
  keep?: ActorKeep;
  /** The platform may compile record readers (Node; a page's CSP refuses `new Function`): the coordinator's frames come as records. */
  readsRecords?: boolean;
  /**
   * Sends small results of plain tasks straight to their drivers where the
   * coordinator tags the assign (shared/protocol/shortcut.ts): Node, whose
   * links to Node drivers are TCP. `afterShortcut` (tests): called in place
   * of the `done` once a shortcut went, to die between the two.
   */
  shortcuts?: boolean;
  afterShortcut?: () => void;
  /** With `shortcuts`: takes plain tasks their drivers push over their links, under the coordinator's lease (shared/protocol/direct.ts). */
  direct?: boolean;
  /** How long its direct tasks' reports may wait for a frame (ms; default LATER_MS). Tests set it long: the coordinator's `hurry` must bring them. */
  laterMs?: number;
}

export interface NodeOptions {
  url: string;
  kind: 'edge' | 'browser';
  name: string;
  /** Executors (one CPU each). */
  cpus: number;
  /** Memory budget of the object store. */
  storeBytes: number;
  /** Custom resources this node offers, e.g. { gpu: 1 }. */
  resources?: Record<string, number>;
  joinToken?: string;
  /** Start paused (a volunteer's choice kept across reloads). */
  paused?: boolean;
  /** Fraction of the time executors may work, (0, 1]. Default 1. */
  cpuShare?: number;
  /** Cap on what this node uploads over peer links, MiB/s (issue 17; upload-cap.ts). Default: none. */
  maxUploadMiBps?: number;
  /** How long a peer link may take to open before a read goes on without it (links.ts connectTimeoutMs). Default 5 s. */
  linkConnectTimeoutMs?: number;
}
