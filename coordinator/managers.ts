// The coordinator's boxes as the message path sees them: one manager per GCS
// table (nodes, jobs, tasks, objects, actors, functions and events through
// the Gcs), plus the scheduler, the relay and the security keepers.
// coordinator.ts builds them; handlers.ts and inbox.ts use them through this
// interface, so that no module imports coordinator.ts back (no import circles).
import type { IceServers } from './signal/ice.js';
import type { ActorManager } from './actors/actors.js';
import type { ActorHandover } from './actors/handover.js';
import type { Tokens } from './auth/tokens.js';
import type { Gcs } from './gcs/gcs.js';
import type { JobManager } from './jobs/job-manager.js';
import type { LimitKeeper } from './limits/limits.js';
import type { Membership } from './nodes/membership.js';
import type { ArtifactRegistry } from './objects/artifacts.js';
import type { ObjectDirectory } from './objects/directory.js';
import type { Relay } from './objects/relay.js';
import type { Scheduler } from './scheduler/scheduler.js';
import type { TaskEnds } from './scheduler/task-ends.js';
import type { TaskManager } from './scheduler/tasks.js';
import type { DirectLeases } from './scheduler/direct-leases.js';
import type { Signalling } from './signal/signal.js';
import type { Honesty } from './trust/honesty.js';
import type { TrustTable } from './trust/trust.js';
import type { Verifier } from './verify/verifier.js';
import type { GroupManager } from './groups/group-manager.js';
import type { TaskLogs } from './task-logs.js';

export interface Managers {
  readonly gcs: Gcs;
  readonly dir: ObjectDirectory;
  readonly scheduler: Scheduler;
  readonly tasks: TaskManager;
  readonly ends: TaskEnds;
  readonly actors: ActorManager;
  /** Actors that outlive a coordinator, attached again when their node joins (issue 15). */
  readonly handover: ActorHandover;
  readonly verifier: Verifier;
  readonly membership: Membership;
  readonly jobs: JobManager;
  readonly relay: Relay;
  readonly artifacts: ArtifactRegistry;
  readonly signalling: Signalling;
  readonly tokens: Tokens;
  readonly limits: LimitKeeper;
  readonly trust: TrustTable;
  readonly honesty: Honesty;
  /** Drivers' leases on nodes for direct submission (shared/protocol/direct.ts). */
  readonly leases: DirectLeases;
  /** Task groups (coordinator/groups); null when the coordinator's `groups` option is off. */
  readonly groups: GroupManager | null;
  /** Tasks' console lines to their drivers, and those that come after their task's end. */
  readonly taskLogs: TaskLogs;
  readonly inlineMax: number;
  /** STUN/TURN servers handed to peers in their welcome (issue 17); null: host candidates only. */
  readonly ice: IceServers | null;
  readonly maxFrameBytes: number;
}
