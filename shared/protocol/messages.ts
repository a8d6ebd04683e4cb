// The wire contract between drivers, nodes and the coordinator: one union of
// messages told apart by `t`, each with its checker. A frame is a msgpack
// array of messages, batched per event-loop turn (see frame.ts). Their common
// fields are in fields.ts, the task's records in task.ts.
import { ERROR_CODES } from '../error-codes.js';
import { arr, bool, either, id, int, lit, numIn, obj, opt, str, tagged, type Check, type Infer } from './check.js';
import { NODE_ID_BYTES } from '../ids.js';
import { fnId, ids, jobId, MAX_ARGS, MAX_IDS, MAX_LOCATED, MAX_RETURNS, MAX_SIGNAL_CHARS, nodeId, objectId, resources, taskId, value } from './fields.js';
import { failureCheck, fnSource, resultCheck, taskSpecCheck, type TaskResult } from './task.js';
import { TAG_BYTES } from './shortcut.js';
import { groupMessages } from './group.js';

export { MAX_BATCH, MAX_LOCATED, MAX_REPLICAS, MAX_RESOURCES, MAX_SIGNAL_CHARS, MAX_VALUE_BYTES, PROTOCOL_VERSION, RELAY_CHUNK_BYTES } from './fields.js';
export { actorLiveCpu, actorPartCheck, argCheck, envDeclCheck, failureCheck, resultCheck, schedulingCheck, taskSpecCheck } from './task.js';
export type { ActorPart, Arg, EnvDecl, FunctionSource, Scheduling, TaskResult, TaskSpec } from './task.js';

/** A task's run time in ms, as a node reports it: up to a year (a longer or negative one is a lie). */
const runMs = numIn(0, 366 * 24 * 3600 * 1000);

/** Actors a node may say it still hosts when it joins (issue 15). */
const MAX_HOSTED_ACTORS = 10_000;

const nodeInfo = obj({
  kind: lit('edge', 'browser'),
  name: str(256),
  resources,
  storeBytes: int(0, 2 ** 50),
  /**
   * This process as an actor host (issue 15): its secret key (the GCS keeps a
   * hash with each actor it hosts) and the actors an earlier session of it
   * hosted, still alive here, for the coordinator that took their job over.
   */
  host: opt(obj({ key: str(64), actors: arr(taskId, MAX_HOSTED_ACTORS) })),
});

/** ICE servers handed to a peer in its welcome (issue 17; coordinator/signal/ice.ts). */
const iceCheck = obj({
  iceServers: arr(obj({ urls: str(512), username: opt(str(512)), credential: opt(str(512)) }), 8),
  relayOnly: opt(bool),
});

export const messages = {
  // -- both directions -----------------------------------------------------
  /** `code` is one of the registry's (shared/error-codes.ts). */
  error: obj({ t: lit('error'), code: lit(...ERROR_CODES), message: str(4096), ref: opt(str(64)) }),
  /** A slice of an object in flight (relay transfer `x`). */
  chunk: obj({ t: lit('chunk'), x: int(0), o: int(0, 2 ** 42), n: int(0, 2 ** 42), d: value }),
  /** A transfer that cannot go on. */
  xferFail: obj({ t: lit('xferFail'), x: int(0), reason: str(1024) }),
  /**
   * WebRTC signalling (issue 4): to the coordinator `peer` names the target,
   * from it the sender; a peer is a node (its node id) or a driver (its job id).
   */
  signal: obj({ t: lit('signal'), peer: id<string>(NODE_ID_BYTES), data: str(MAX_SIGNAL_CHARS) }),
  /**
   * A barrier: the coordinator echoes it. Every `ready` answer to a subscribe
   * sent before it has arrived when the echo does (wait with a timeout, issue 13).
   */
  sync: obj({ t: lit('sync'), x: int(0) }),

  // -- client -> coordinator -------------------------------------------------
  hello: obj({
    t: lit('hello'),
    role: lit('driver', 'node'),
    version: int(),
    token: opt(str(512)),
    node: opt(nodeInfo),
    /**
     * A driver coming back to its job (after a dropped connection or a
     * coordinator restart), with every object it holds a handle to.
     */
    resume: opt(obj({ jobId, secret: str(128), held: ids })),
    /** `false`: this driver has no peer stack; readers of its objects use the relay at once (issue 11). */
    peers: opt(bool),
    /** A driver's namespace for actor names (unset: the mesh's default namespace ''). */
    namespace: opt(str(256)),
    /** This client reads frames of records (frame-records.ts): a Node client; a tab's CSP refuses their compiled readers. */
    records: opt(bool),
    /**
     * Result shortcuts (shortcut.ts, issue 14): a driver takes small results from the nodes that ran its tasks,
     * a node sends them where the assign carries a tag. Said only when true (an older coordinator refuses unknown fields).
     */
    shortcut: opt(bool),
    /** Direct submission (direct.ts, issue 14, session 15): a driver pushes plain tasks to a node it holds a lease on; a node takes them. Only with `shortcut`. */
    direct: opt(bool),
    /**
     * A node with `direct` that holds its direct tasks' reports for a later frame and answers `hurry` (issue 14,
     * session 20): only such a node is sent one (an older node would refuse the frame carrying it). Said only when true.
     */
    hurry: opt(bool),
    /**
     * A driver with `direct` that honours a `lease` with `held` (session 38): only such a driver is sent one (an older
     * one would refuse the frame carrying it). Said only when true.
     */
    suspend: opt(bool),
    /** Task groups (group.ts, issue 14, session 26): a driver sends `submitGroup`, a node runs `assignGroup`. Said only when true. */
    groups: opt(bool),
    /** This client reads chunk frames (chunk-frame.ts, session 37) and sends them once the welcome says `chunks`. Said only when true. */
    chunks: opt(bool),
    /** This client serves relay transfers under a credit window (`serve` with `w`, `more`; session 37). Said only when true. */
    credit: opt(bool),
  }),
  /**
   * A function's source. From a node (a task there named it), `job`: the named task's job, which uses the function from
   * then on (kept while that job runs, though the job that brought it first ends: shared/node/announced-functions.ts).
   */
  fn: obj({ t: lit('fn'), f: fnSource, job: opt(jobId) }),
  /** `to`: a driver sent the task straight to that node, under its lease (direct.ts): recorded as assigned there. */
  submit: obj({ t: lit('submit'), spec: taskSpecCheck, local: opt(bool), to: opt(nodeId) }),
  /** The node a driver sent task `taskId` straight to refused it (`reason`, direct.ts): placed by the coordinator. */
  unplaced: obj({ t: lit('unplaced'), taskId, reason: str(1024) }),
  /**
   * An object made by `put`: small ones carry their bytes (the coordinator
   * keeps them); large ones stay with the sender, which serves them on request.
   */
  put: obj({ t: lit('put'), id: objectId, v: opt(value), size: int(0, 2 ** 42), hash: opt(str(64)), refs: ids }),
  subscribe: obj({ t: lit('subscribe'), ids }),
  /**
   * A driver took these objects' values from nodes' result shortcuts (shortcut.ts): the coordinator owes it no
   * `ready` for them. Rides on a frame the driver sends anyway (issue 14, session 15; coordinator/objects/shortcut-acks.ts).
   */
  took: obj({ t: lit('took'), ids }),
  /** Ask for the bytes of a stored object on transfer `x`. */
  fetch: obj({ t: lit('fetch'), id: objectId, x: int(0) }),
  /**
   * Which peers hold object `id`; the answer is `located` with the same `x`.
   * `asker` (a coordinator asking for its reader, issue 15): a driver reads,
   * so driver holders are left out (no driver-to-driver links).
   */
  locate: obj({ t: lit('locate'), id: objectId, x: int(0), asker: opt(lit('driver')) }),
  /** Bytes this client received over peer links (checked by hash) since its last report. */
  peerBytes: obj({ t: lit('peerBytes'), n: int(0, 2 ** 42) }),
  /** Holder `peer` sent a chunk of object `id` that does not match its hash (issue 17): for the trust table. */
  badHolder: obj({ t: lit('badHolder'), id: objectId, peer: either(nodeId, jobId) }),
  borrow: obj({ t: lit('borrow'), ids }),
  release: obj({ t: lit('release'), ids }),
  cancel: obj({ t: lit('cancel'), id: objectId, force: bool }),
  /** Stop an actor (by its id): pending and later calls fail with ActorDiedError. */
  killActor: obj({ t: lit('killActor'), id: taskId }),
  /** Look a named actor up; the answer is `actorInfo` with the same `x`. */
  getActor: obj({ t: lit('getActor'), name: str(256), x: int(0), ns: opt(str(256)), job: opt(jobId) }),
  /** Cluster info (Ray's nodes(), cluster/available resources, list_named_actors): the answer is `info` with the same `x`. */
  ask: obj({ t: lit('ask'), x: int(0), q: lit('nodes', 'namedActors'), ns: opt(str(256)), all: opt(bool), job: opt(jobId) }),
  /** `idle`: the node holds nothing (no task, actor or stored object): it may stay quiet for the welcome's idleQuietMs (issue 14). */
  heartbeat: obj({ t: lit('heartbeat'), running: int(), queued: int(), storeBytes: int(0, 2 ** 50), idle: opt(bool) }),
  /** `ex`: the node's executor slot that runs it (the dashboard's timeline rows). */
  started: obj({ t: lit('started'), taskId, attempt: int(), ex: opt(int(0, 4096)) }),
  /** A running task waits in get/wait (its CPU is free for others) or resumes. */
  blocked: obj({ t: lit('blocked'), taskId, attempt: int(), blocked: bool }),
  /**
   * `ms`: how long the task ran, which sets how deep the coordinator fills the node's queue.
   * `ex`: the executor slot it ran on, when the node sent no `started` for it (it ended within a
   * few ms, shared/node/start-reports.ts): the coordinator records it as started `ms` ago.
   */
  /** `sc`: the result went straight to the driver (shortcut.ts): the coordinator sends it no `ready` for it. Only after an assign's tag. */
  done: obj({
    t: lit('done'),
    taskId,
    attempt: int(),
    ms: runMs,
    ex: opt(int(0, 4096)),
    results: arr(resultCheck as Check<TaskResult>, MAX_RETURNS),
    sc: opt(bool),
  }),
  /** `ms` and `ex`: as in `done`, when the task ran and the node sent no `started` (absent: it never ran, or `started` went out). */
  failed: obj({ t: lit('failed'), taskId, attempt: int(), failure: failureCheck, ms: opt(runMs), ex: opt(int(0, 4096)) }),
  /** A node stored an object it was sent (upload target) or fetched. */
  stored: obj({ t: lit('stored'), id: objectId, size: int(0, 2 ** 42), hash: str(64) }),
  /** A node no longer holds these objects. */
  dropped: obj({ t: lit('dropped'), ids }),
  /** `g`, `i`: the task is member `i` of group `g` (group.ts), not a task on record at the coordinator. */
  log: obj({ t: lit('log'), taskId, level: lit('log', 'warn', 'error'), text: str(16 * 1024), g: opt(taskId), i: opt(int(0, 1 << 20)) }),
  /** An actor's state after call `after` (from its checkpoint()); the method log before it can go. */
  actorCheckpoint: obj({ t: lit('actorCheckpoint'), id: taskId, after: taskId, state: value }),
  /** A node's offer changed (issue 3): its executor count, or paused (it offers no CPU meanwhile). */
  capacity: obj({ t: lit('capacity'), cpus: int(0, 4096), paused: bool }),
  /** Tasks assigned to a pausing node that it will not start: placed again, same attempt. */
  /** `noSource`: assigned without its function's source, which the node does not have (a `forget` crossed it). */
  handBack: obj({ t: lit('handBack'), tasks: arr(obj({ taskId, attempt: int(), noSource: opt(bool) }), MAX_IDS) }),
  /**
   * The node leaves on purpose (a tab closed, `tabmesh node` stopped): sent after it handed back what it had not
   * started and before its close frame. The coordinator places nothing more on it and takes back at once what it
   * still has there unstarted, rather than at the close event (seconds on a starved peer).
   */
  leaving: obj({ t: lit('leaving') }),
  /** Objects a restarted node (a reloaded tab) still holds in its store: it serves them again. */
  holding: obj({ t: lit('holding'), objects: arr(obj({ id: objectId, size: int(0, 2 ** 42), hash: str(64) }), MAX_IDS) }),
  /**
   * Runtime env artifacts (issue 16) whose bytes the sender holds, by content
   * hash: a driver's declare them for its job (and are uploaded only if the
   * mesh holds no copy: the answer is `upload`), a node's are its cache.
   */
  artifact: obj({ t: lit('artifact'), arts: arr(obj({ hash: str(64), size: int(0, 2 ** 31) }), 64) }),

  // -- coordinator -> client -------------------------------------------------
  welcome: obj({
    t: lit('welcome'),
    jobId: opt(jobId),
    nodeId: opt(nodeId),
    secret: opt(str(128)),
    inlineMax: int(),
    heartbeatMs: int(),
    /** STUN and TURN servers for peer links (issue 17), with this session's TURN credentials. */
    ice: opt(iceCheck),

    /** To a node: the longest it may stay silent; it then sends a keepalive, an empty frame (issue 14). */
    quietMs: opt(int()),
    /** ...and once it said it holds nothing (heartbeat `idle`) and was given nothing since (issue 14). */
    idleQuietMs: opt(int()),
    /** The coordinator takes task groups (group.ts) from this driver: without it the driver submits each task alone. */
    groups: opt(bool),
    /** The coordinator reads chunk frames (chunk-frame.ts): sent only to a client that said `chunks`. */
    chunks: opt(bool),
  }),
  /**
   * Fresh ICE servers (issue 17): TURN credentials derived from the secret
   * expire (6 h by default), so the coordinator sends new ones before they do;
   * links opened from then on use them (open links keep their allocation).
   */
  ice: obj({ t: lit('ice'), ice: iceCheck }),
  assign: obj({
    t: lit('assign'),
    spec: taskSpecCheck,
    /** Values of small ref arguments, so that the node need not fetch them. */
    inline: arr(obj({ id: objectId, v: value }), MAX_ARGS),
    fn: opt(fnSource),
    /** The coordinator's tag for a result shortcut to the task's driver (shortcut.ts): only to nodes that said `shortcut`. */
    sc: opt(id<string>(TAG_BYTES)),
  }),
  cancelTask: obj({ t: lit('cancelTask'), taskId, force: bool, attempt: opt(int()) }),
  /**
   * A direct-submission lease (direct.ts) granted (`on`) or revoked: to a driver `peer` is the node it may push
   * tasks to, to a node the job (its driver's peer id) whose tasks it may take. `held` (to a driver that said
   * `suspend`, with `on`): the node is held (coordinator/nodes/hold.ts): the lease stands, for the tasks on their way,
   * but new tasks go through the coordinator until a `lease` without it (back) or with `on: false` (lost).
   */
  lease: obj({ t: lit('lease'), peer: id<string>(NODE_ID_BYTES), on: bool, held: opt(bool) }),
  /**
   * Work stealing (issue 14): hand back (`handBack`) up to `n` tasks the coordinator gave this node
   * that have not started, so that a node that joined or went idle gets them. Answered by `handBack`, or not at all.
   * With `ids`, only those of them (a coordinator asking back another's guest tasks names them: the node's newest
   * may be another job's, coordinator/mesh/give-back.ts).
   */
  giveBack: obj({ t: lit('giveBack'), n: int(1, MAX_IDS), ids: opt(arr(taskId, MAX_IDS)) }),
  /**
   * Something at the coordinator waits on these direct tasks of this node (coordinator/scheduler/direct-hurry.ts):
   * their reports go at once, not on a later frame (Outbox.later); what waits for one now goes now.
   */
  hurry: obj({ t: lit('hurry'), ids: arr(taskId, MAX_IDS) }),
  /** The named actor, held for the asker; or why there is none. */
  actorInfo: obj({ t: lit('actorInfo'), x: int(0), id: opt(taskId), className: opt(str(256)), error: opt(str(1024)) }),
  /** The answer to `ask` `x`: the mesh's nodes, or its named actors. */
  info: obj({
    t: lit('info'),
    x: int(0),
    nodes: opt(arr(obj({ nodeId, name: str(256), kind: lit('edge', 'browser'), alive: bool, resources, available: resources }), MAX_IDS)),
    actors: opt(arr(obj({ name: str(256), namespace: str(256) }), MAX_IDS)),
  }),
  free: obj({ t: lit('free'), ids }),
  /** Functions no running job uses any more (their jobs ended, issue 14): drop their sources; a later task of one brings it again. */
  forget: obj({ t: lit('forget'), fns: arr(fnId, MAX_IDS) }),
  /** Put the artifact of this content hash (its id is artifactObjectId(hash)): no copy is left in the mesh. */
  upload: obj({ t: lit('upload'), hash: str(64) }),
  /** Send object `id` on transfer `x` (the coordinator relays it). */
  /** `w` (only to a client that said `credit`): send chunks starting below byte `w` until `more` raises it (relay-window.ts). */
  serve: obj({ t: lit('serve'), id: objectId, x: int(0), w: opt(int(1, 2 ** 42)) }),
  /** Relay transfer `x` may send chunks starting below byte `upTo`; `stop`: its reader went, send nothing more. */
  more: obj({ t: lit('more'), x: int(0), upTo: int(0, 2 ** 42), stop: opt(bool) }),
  /**
   * Peers holding the object asked for by `locate` `x`, other than the asker;
   * `partial`: peers that asked for it lately and may hold some of its chunks (swarm broadcast, issue 17).
   */
  /**
   * A signal to `peer` was not delivered: that peer left (or never was) (issue 17).
   * A link to it cannot open; the sender gives up on it at once instead of at its connect timeout.
   */
  unreachable: obj({ t: lit('unreachable'), peer: id<string>(NODE_ID_BYTES) }),
  located: obj({ t: lit('located'), x: int(0), peers: arr(id<string>(NODE_ID_BYTES), MAX_LOCATED), partial: opt(arr(id<string>(NODE_ID_BYTES), MAX_LOCATED)) }),
  /** Object `id` is ready: its value when small, its size when stored, or its failure. */
  ready: obj({
    t: lit('ready'),
    id: objectId,
    v: opt(value),
    size: int(0, 2 ** 42),
    hash: opt(str(64)),
    failure: opt(failureCheck),
  }),
  /** Why the job's work waits (no node has what a task needs, actors hold every CPU): printed once by the driver. */
  warn: obj({ t: lit('warn'), code: lit(...ERROR_CODES), message: str(4096), ref: opt(str(64)) }),
  output: obj({ t: lit('output'), taskId, level: lit('log', 'warn', 'error'), text: str(16 * 1024), fn: str(256), node: str(64) }),
  ...groupMessages,
} as const;

export type MessageKind = keyof typeof messages;
export type Msg = { [K in MessageKind]: Infer<(typeof messages)[K]> }[MessageKind];
export type MsgOf<K extends MessageKind> = Extract<Msg, { t: K }>;

export const messageCheck: Check<Msg> = tagged('t', messages as unknown as Record<string, Check<Msg>>);

/** Which kinds each side may send to the coordinator. */
export const DRIVER_SENDS = new Set<MessageKind>([
  'fn',
  'submit',
  'put',
  'chunk',
  'killActor',
  'getActor',
  'ask',
  'xferFail',
  'subscribe',
  'took',
  'unplaced',
  'fetch',
  'borrow',
  'release',
  'cancel',
  'signal',
  'locate',
  'peerBytes',
  'badHolder',
  'sync',
  'artifact',
  'submitGroup',
  'groupRelease',
  'materialize',
]);
export const NODE_SENDS = new Set<MessageKind>([
  ...DRIVER_SENDS,
  'heartbeat',
  'started',
  'blocked',
  'done',
  'actorCheckpoint',
  'failed',
  'stored',
  'dropped',
  'log',
  'error',
  'capacity',
  'handBack',
  'leaving',
  'holding',
  'groupDone',
  'groupHandBack',
  'groupStarted',
  'groupCallOut',
]);

/** Handler table type: a new kind does not compile until every table handles or ignores it. */
export type Handlers<Ctx> = { [K in MessageKind]: ((ctx: Ctx, m: MsgOf<K>) => void) | null };
