// The GCS's hot tables: plain records in memory. Managers (scheduler/,
// objects/, nodes/) change them; gcs.ts persists what must survive a restart.
import type { Failure } from '../../shared/errors.js';
import type { FunctionId, JobId, NodeId, ObjectId } from '../../shared/ids.js';
import type { FunctionSource, TaskSpec } from '../../shared/protocol/messages.js';
import type { Holders } from '../objects/holders.js';
import type { Session } from '../session.js';
import type { JobLinks, JobMembers } from '../jobs/job-members.js';

export type TaskState = 'waiting-args' | 'queued' | 'assigned' | 'running' | 'finished' | 'failed' | 'cancelled';

export const TERMINAL: ReadonlySet<TaskState> = new Set(['finished', 'failed', 'cancelled']);

/** Its links in its job's list (JobRecord.tasks): joining and leaving the job hashes nothing (issue 14). */
export interface TaskRecord extends JobLinks<TaskRecord> {
  spec: TaskSpec;
  state: TaskState;
  /** The node it is assigned to, while assigned or running. */
  node: NodeRecord | null;
  /** Ref arguments not ready yet. */
  missing: number;
  /** Return objects not yet freed; at 0 a terminal task's lineage is dropped. */
  liveOutputs: number;
  /** Whether the task holds references to its args (until it ends). */
  holdsArgs: boolean;
  /** Waiting in get/wait: its CPU is not counted. */
  blocked: boolean;
  submittedAt: number;
  startedAt: number;
  endedAt: number;
  /** Node that ran it last (kept after it ends, for the timeline). */
  ranOn: NodeId | null;
  /** The executor slot of `ranOn` that ran it, when the node said (the timeline's row). */
  executor?: number;
  /** Verified execution (coordinator/verify, issue 8): the group of a task and of each of its replicas. */
  replicas?: ReplicaSet;
  /** While queued: why no node in the mesh can run it (scheduler/feasibility.ts); the state API shows `infeasible`. */
  infeasible?: string;
  /** Its first output's record, made with it (admit): its `done` settles it without a lookup by id (issue 14, session 17). */
  out0?: ObjectRecord;
  /** Counted among the scheduler's queued tasks (scheduler.ts `queuedCount`): a flag, not a set of records (issue 14, session 17). */
  waiting?: boolean;
  /**
   * Runs lost that are not retries the task spent (task-failures.ts): lost with a link (another coordinator's agent,
   * gone or replaced: the mesh's hiccups), or lost with a node before it started them (never reported `started`).
   */
  sparedLosses?: number;
  /** Its node was sent its cancel (task-ends.ts): given back unstarted or lost with its node, it ends cancelled, it does not run again. */
  cancelAsked?: boolean;
}

/** Where a task is on record (gcs/task-table.ts): what holds it (an output's record, its creator) reaches it without a lookup by id (issue 14). */
export interface TaskPlace {
  readonly t: TaskRecord;
}

/** The replicas of one verified task: they run on distinct nodes (`used`). */
export interface ReplicaSet {
  readonly primary: TaskRecord;
  readonly used: ReadonlySet<NodeId>;
}

export type ObjectState = 'pending' | 'ready' | 'failed';

/** Its links in its job's list (JobRecord.objects). */
export interface ObjectRecord extends JobLinks<ObjectRecord> {
  id: ObjectId;
  job: JobId;
  state: ObjectState;
  size: number;
  hash: string;
  /** The value, when small enough to live in the GCS's small-object store. */
  v: Uint8Array | null;
  failure: Failure | null;
  /** Sessions (nodes, or the driver that put it) holding the bytes. */
  locations: Holders;
  /** Handles + pending tasks + containing objects that refer to it. */
  refs: number;
  /** Refs found inside its value: held while it lives. */
  contains: ObjectId[];
  /** Tasks waiting for it to be ready. */
  dependents: TaskRecord[] | null;
  /** A task's output: where its creating task is on record (admit), so that freeing it finds the task without a lookup; else null. */
  creator: TaskPlace | null;
  /** Sessions told when it settles: the one alone (most objects have one reader, its driver), or a set of several. */
  subscribers: Session | Set<Session> | null;
  /** Freed: out of the directory (a record still held, as a task's `out0`, is not the object's any more). */
  freed?: true;
}

export interface NodeRecord {
  id: NodeId;
  session: Session;
  kind: 'edge' | 'browser';
  name: string;
  resources: Record<string, number>;
  /** Resources of the tasks assigned and not ended. */
  inflight: Record<string, number>;
  inflightTasks: number;
  /** CPUs held by live actors on this node (part of inflight.cpu). */
  actorCpu: number;
  /**
   * Its tasks (not group members). Written by coordinator/nodes/load.ts only: the shared empty NO_TASKS while it holds
   * none (an empty Set and its table were 2 objects and ~230 bytes a node that every full GC marked, session 38).
   */
  tasks: ReadonlySet<TaskRecord>;
  /** Members of task groups placed on it and not ended (coordinator/groups: they have no record in `tasks`). */
  groupMembers?: number;
  /** The function of the last group slice placed on it: what its members are expected to take (work stealing, rebalance.ts). */
  groupFn?: FunctionId;
  /** Since its first group member was placed or its last one left, whichever is later: how long it went without progress. */
  groupSince?: number;
  /** Functions whose source this node has been sent (made at the first: an idle node's empty Set cost ~150 bytes, issue 14). */
  functions?: Set<FunctionId>;
  joinedAt: number;
  lastSeen: number;
  /** Its last load report said it holds nothing (issue 14): while nothing is placed there, the long dead window applies. */
  saidIdle?: boolean;
  /** When work was placed on it while it was quiet in that way: its short dead window starts no earlier. */
  busySince?: number;
  /** Marked changed since its reader last took the changes (coordinator/nodes/changes.ts): later marks cost a read. */
  changed?: boolean;
  /** Held since (ms): it missed its deadline with many others (coordinator/nodes/hold.ts), takes no new work, keeps its tasks. */
  heldSince?: number;
  /** Where coordinator/nodes/silence.ts counts it (the tick of its last frame and its idle word): its writer only. */
  heardKey?: number;
  /**
   * Not a node but another coordinator of the mesh (coordinator/mesh), its id:
   * it runs tasks placed on it on its own nodes.
   */
  link?: string;
  load: { running: number; queued: number; storeBytes: number };
  tasksDone: number;
  // Who follows it, each field written by its own file only (load.ts reaches them without knowing membership or the
  // scheduler). Fields, not WeakMaps keyed by the record: an ephemeron each, per node, that every full GC handles
  // apart from plain edges (issue 14, session 38).
  // Each typed by the one call made through it, not by its class (the classes' modules import this one).
  /** The deadlines that file it (coordinator/nodes/liveness.ts Deadlines). */
  deadlines?: { refile(n: NodeRecord): void };
  /** The feed its changes go to (coordinator/nodes/changes.ts NodeChanges). */
  feed?: { mark(n: NodeRecord): void };
  /** The totals that count it (coordinator/nodes/totals.ts NodeTotals). */
  totals?: { load: number };
  /** The scheduler index that files it (coordinator/scheduler/node-index.ts NodeIndex). */
  index?: { touch(n: NodeRecord): void };
  /** The silent counts that file it (coordinator/nodes/silence.ts Silence), from its first frame. */
  silence?: { moved(n: NodeRecord): void };
  /** The hash of its process's actor-host key (issue 15): an actor row keeps it, and only that process may claim the actor back. */
  hostKey?: string;
}

/** Ended jobs kept in memory and in the durable GCS (the oldest go first). */
export const MAX_ENDED_JOBS = 1000;

export interface JobRecord {
  id: JobId;
  state: 'running' | 'finished';
  driver: Session | null;
  startedAt: number;
  endedAt: number;
  /** Its tasks on record, in submit order (coordinator/jobs/job-members.ts). */
  tasks: JobMembers<TaskRecord>;
  /** Its objects in the directory, in creation order. */
  objects: JobMembers<ObjectRecord>;
  counts: { submitted: number; finished: number; failed: number; cancelled: number };
  /**
   * While it runs on a durable GCS: the part of `counts` no record holds any more (tasks freed, groups whose every
   * member ended), kept in its row; a restart counts this plus what it reads back (gcs/job-gone.ts).
   */
  gone?: { submitted: number; finished: number; failed: number; cancelled: number };
  /** Its groups counted in `gone`, by group id, with what each counted there (their rows, table 'groups'). */
  goneGroups?: Map<string, { submitted: number; finished: number; failed: number; out?: readonly number[] }>;
  /** Presented by the driver to come back to this job. */
  secret: string;
  /** Handles the driver held when its connection dropped, kept until it resumes or the grace ends. */
  parked: Map<ObjectId, number> | null;
  /** Ends the job if its driver does not come back in time. */
  graceTimer: ReturnType<typeof setTimeout> | null;
  /**
   * A detached driver of a submitted program (coordinator/jobs): after a restart
   * the job runner runs the program again instead of waiting for its driver.
   */
  submitted?: boolean;
  /** Its driver's namespace for actor names (Ray's namespaces; '' is the mesh's default). */
  namespace?: string;

  /**
   * The job of another coordinator of the mesh (coordinator/mesh), its id:
   * this one runs tasks the owner placed on it, and never writes the job's rows.
   */
  guest?: string;

  /** The first task failure of the job (not a cancel): a driver session's error summary, kept across restarts. */
  firstError?: { name: string; message: string; functionName: string } | null;
  /** How the job ended (its driver said goodbye, did not come back, was cancelled). */
  endReason?: string;
  /** Read back from the durable GCS after a restart: a task group its driver sends again may have members on record (coordinator/groups). */
  recovered?: true;
  /** Functions this job uses (its tasks or its driver named them), with their rows where durable: they go with the job (Gcs.jobUses). */
  fnRows?: Set<FunctionId>;
}

export interface FunctionRecord extends FunctionSource {
  /** EWMA of run time in ms, reported by nodes. */
  ewmaMs: number;
  runs: number;
  /** Jobs that use it (JobRecord.fnRows): it leaves the table when the last of them ends (Gcs.dropJobFunctions). */
  jobs: number;
}

export interface EventRecord {
  seq: number;
  ts: number;
  kind: string;
  message: string;
  job?: string;
  node?: string;
  task?: string;
  object?: string;
}
