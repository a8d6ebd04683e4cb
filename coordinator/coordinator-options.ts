// What a coordinator is started with (coordinator.ts; `startCoordinator` and the CLI pass these).
import type { IceOptions } from './signal/ice.js';
import type { GcsStorage } from './gcs/storage.js';
import type { Limits } from './limits/limits.js';
import type { TrustOptions } from './trust/trust.js';
import type { HoldOptions } from './nodes/hold.js';

export interface CoordinatorOptions {
  /** Swarm broadcast (issue 17): `locate` names the peers fetching an object too (default on; `--no-swarm` turns it off). */
  swarm?: boolean;
  /** Task groups (issue 14, session 26; coordinator/groups): a driver that says `groups` may send `submitGroup`. On by default; `false` (`--no-groups`) turns it off. */
  groups?: boolean;
  storage: GcsStorage;
  /** Driver token; when empty, drivers need none. */
  token?: string;
  inlineMax?: number;
  heartbeatMs?: number;
  /** A node that sends nothing for this long is dead. */
  deadAfterMs?: number;
  /**
   * ...unless it said it holds nothing (no task, actor or object) and was given nothing since:
   * then after this long (issue 14: 10,000 idle tabs send a keepalive every 15 s, half of it, not every 2 s).
   * Default 30 s, never less than deadAfterMs.
   */
  idleDeadAfterMs?: number;
  /**
   * Nodes that miss their deadline together (coordinator/nodes/hold.ts, session 37): from `minNodes` (10) late
   * within a keepalive window they are held, not lost; when they are `share` (0.1) of our nodes they stay held
   * until they speak or `deadAfterMs` (30 s) of silence, `evictPerSec` (0) lost sooner. Checked at start.
   */
  hold?: Partial<HoldOptions>;
  maxFrameBytes?: number;
  /** How long a job waits for its driver after a dropped connection or a restart. Default 20 s. */
  jobGraceMs?: number;
  /** After a restart, how long recovered objects wait for drivers and nodes to claim them. Default 10 s. */
  recoveryGraceMs?: number;
  /** A private mesh (issue 8): nodes must present this token in their hello. */
  joinToken?: string;
  /** STUN/TURN servers handed to peers for their links (issue 17; coordinator/signal/ice.ts). */
  ice?: IceOptions;
  /** A read-only token for the state API and dashboards (issue 7). */
  viewerToken?: string;
  /** Per-connection and per-address limits (coordinator/limits). */
  limits?: Partial<Limits>;
  /** Node trust and adaptive verification (coordinator/trust). */
  trust?: Partial<TrustOptions>;
  /**
   * The GCS is shared with other coordinators (Redis, coordinator/mesh): a
   * running job is read back when its driver resumes here, not at start.
   */
  shared?: boolean;
}
