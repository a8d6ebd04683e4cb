// What each part of the node runtime reads and calls of the others (issue 12:
// narrow contexts instead of the whole NodeRuntime, so that the parts do not
// import each other). Types only; NodeRuntime, NodeTasks, ActorHost and
// ObjectAccess implement them.
import type { ClusterInfo, Fetched } from '../api/core.js';
import type { ObjectClient } from '../api/object-client.js';
import type { Failure } from '../errors.js';
import type { ObjectId, TaskId } from '../ids.js';
import type { FunctionSource, Msg, MsgOf, TaskResult } from '../protocol/messages.js';
import type { ObjectFetcher } from '../transfer/fetcher.js';
import type { PeerLinks } from '../transfer/links.js';
import type { IceConfig } from '../transfer/raw-peer.js';
import type { EnvCache } from './env-cache.js';
import type { Executor, LocalScheduler, LocalTask } from './executors.js';
import type { NodeOptions } from './platform.js';
import type { StartReports } from './start-reports.js';
import type { ObjectStore } from './store.js';
import type { AnnouncedFunctions } from './announced-functions.js';

/** The node's session with the coordinator, as every part sees it. */
export interface NodeSession {
  send(m: Msg): void;
  /** A notable thing the node did (the volunteer page shows them). */
  onEvent(text: string): void;
  log(text: string): void;
  /** The session ended: nothing is sent any more. */
  readonly closed: boolean;
  readonly inlineMax: number;
  /** Object bytes inside coordinator messages (stats). */
  readonly inlineBytes: { in: number; out: number };
}

/** What a task's end carries: its outputs, or why there are none. */
export interface TaskEnd {
  returns?: { bytes: Uint8Array; refs: ObjectId[] }[];
  failure?: Failure;
  ms?: number;
}

/** The tasks this node runs, from admission to their end (NodeTasks, admission.ts). */
export interface TaskTable {
  get(id: TaskId): LocalTask | undefined;
  forget(id: TaskId): void;
  adopt(host: LocalTask): void;
  /** `sc`: the coordinator's tag for a result shortcut to the driver (shared/protocol/shortcut.ts). */
  admit(spec: LocalTask['spec'], inline?: Map<ObjectId, Uint8Array>, sc?: string): void;
  end(t: LocalTask, r: TaskEnd): void;
  cancel(taskId: TaskId, force: boolean, attempt?: number): void;
  /** The tasks of an executor that went: each ends with its fate's failure, or runs again ('again'). */
  rehome(ex: Executor, cause: string, fate: (o: LocalTask) => Failure | 'again'): void;
  /** Up to `count` tasks not started go back; with `ids`, only those of them. */
  giveBack(count: number, ids?: readonly TaskId[]): void;
}

/** The actors living on this node (ActorHost, actor-host.ts). */
export interface ActorTable {
  addCall(actorId: string, t: LocalTask): boolean;
  started(host: LocalTask): void;
  executorOf(id: string): LocalTask['executor'] | undefined;
  isHost(t: LocalTask): boolean;
  pump(id: string): void;
  destroy(id: string, why: string): void;
  lost(orphans: LocalTask[], cause: string): void;
  lookup(name: string, ns: string | undefined, t: LocalTask): Promise<{ id: string; className: string }>;
  ask(c: { q: 'nodes' | 'namedActors'; ns?: string; all?: boolean }, t: LocalTask): Promise<ClusterInfo>;
  onActorInfo(m: MsgOf<'actorInfo' | 'info'>): void;
}

/** Objects' bytes: stored, inline or fetched (ObjectAccess, object-access.ts). */
export interface ObjectReader {
  /** `stored`: known to be a stored object (a task's argument not inlined): its holders are asked for at once. */
  resolve(id: ObjectId, stored?: boolean): Promise<Fetched>;
  putArtifact(hash: string): Promise<void>;
}

/** What ActorHost uses. */
export interface ActorHostContext extends NodeSession {
  readonly local: LocalScheduler;
  readonly tasks: TaskTable;
}

/** What NodeTasks (admission.ts) uses. */
export interface AdmissionContext extends NodeSession {
  readonly local: LocalScheduler;
  readonly starts: StartReports;
  readonly actors: ActorTable;
  readonly access: ObjectReader;
  readonly store: ObjectStore;
  readonly envCache: EnvCache;
  readonly fns: ReadonlyMap<string, FunctionSource>;
  readonly opts: Pick<NodeOptions, 'kind'>;
  tasksRun: number;
  /** A message that rides on the next frame to the coordinator, or leaves within LATER_MS (Outbox.later). */
  sendLater(m: Msg): void;
  /** Where results go straight to drivers (shortcut.ts); null: no peer links. */
  readonly links: PeerLinks | null;
  readonly shortcuts: { sent: number; missed: number };
  /** Tests: called in place of a shortcut task's `done` (platform.ts). */
  readonly afterShortcut?: () => void;
  onTaskEnd(name: string, outcome: 'ok' | 'failed' | 'cancelled'): void;
  /** Task groups' slices (groups.ts): members' ends and hand-backs go there. */
  readonly groups: {
    ended(t: LocalTask, results: TaskResult[] | undefined, failure: Failure | undefined, ms: number | undefined, ex?: number): void;
    handBack(members: readonly LocalTask[]): void;
  };
}

/** What the executors' call server uses. */
export interface CallServerContext extends NodeSession {
  readonly local: LocalScheduler;
  /** Task groups' slices (groups.ts): a member's first call out makes it an ordinary task at the coordinator. */
  readonly groups: { callOut(t: LocalTask): void };
  readonly starts: StartReports;
  readonly tasks: TaskTable;
  readonly actors: ActorTable;
  readonly access: ObjectReader;
  readonly store: ObjectStore;
  readonly objects: ObjectClient;
  readonly fns: Map<string, FunctionSource>;
  readonly fnsAnnounced: AnnouncedFunctions;
}

/** What ObjectAccess uses. */
export interface ObjectAccessContext extends NodeSession {
  readonly store: ObjectStore;
  readonly objects: ObjectClient;
  readonly fetcher: ObjectFetcher;
  readonly envCache: EnvCache;
}

/** What the node's message handlers route to. */
export interface NodeHandlerContext extends Pick<NodeSession, 'send' | 'inlineBytes'> {
  readonly tasks: TaskTable;
  readonly actors: ActorTable;
  readonly access: ObjectReader;
  readonly store: ObjectStore;
  readonly objects: ObjectClient;
  readonly fetcher: ObjectFetcher;
  readonly links: PeerLinks | null;
  /** The ICE servers for new peer links (refreshed by `ice` messages). */
  ice: IceConfig | undefined;
  /** Tasks drivers push here under their leases (direct-tasks.ts). */
  readonly direct: { lease(m: MsgOf<'lease'>): void; hurry(ids: TaskId[]): void };
  log(text: string): void;
  /** The functions this node was given, by id (an `assign` may carry one). */
  readonly fns: Map<string, FunctionSource>;
  /** The volunteer paused it: what is assigned meanwhile goes back. */
  readonly paused: boolean;
  /** Task groups' slices (groups.ts): `assignGroup`, `cancelGroup`. */
  readonly groups: { assign(m: MsgOf<'assignGroup'>): void; cancel(g: TaskId, idx?: readonly number[]): void };
  /** The coordinator's `forget`: functions of ended jobs leave the node and its executors. */
  forgetFunctions(fns: readonly string[]): void;
}

/** What a node's stats() reports: its tasks, its store, and the object bytes it moved (runtime.ts). */
export interface NodeStats {
  running: number;
  queued: number;
  tasksRun: number;
  objects: number;
  storeBytes: number;
  bytesIn: number;
  bytesOut: number;
  peerBytesOut: number;
  linksFrozen: number;
}
