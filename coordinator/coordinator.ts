// The control plane: GCS tables, the object directory, the task manager and
// scheduler, membership and the relay, driven by the messages of sessions.
import { functionId, isPutObject, newJobId, randomHex, rootTaskId, taskOfObject, type NodeId } from '../shared/ids.js';
import { decodeFrame, FRAME_HARD_MAX } from '../shared/protocol/frame.js';
import { ProtocolError } from '../shared/errors.js';
import { DRIVER_SENDS, NODE_SENDS, PROTOCOL_VERSION, type Handlers, type Msg, type MsgOf } from '../shared/protocol/messages.js';
import { Gcs } from './gcs/gcs.js';
import { recover, type RecoveryReport } from './gcs/recovery.js';
import type { GcsStorage } from './gcs/storage.js';
import type { JobRecord, NodeRecord } from './gcs/tables.js';
import { Membership } from './nodes/membership.js';
import { ObjectDirectory } from './objects/directory.js';
import { Relay } from './objects/relay.js';
import { Signalling } from './signal/signal.js';
import { Scheduler } from './scheduler/scheduler.js';
import { TaskManager } from './scheduler/tasks.js';
import { ActorManager } from './actors/actors.js';
import type { Session } from './session.js';
import { sameSecret, Tokens } from './auth/tokens.js';
import { LimitKeeper, type Limits } from './limits/limits.js';
import { TrustTable, type TrustOptions } from './trust/trust.js';
import { Honesty } from './trust/honesty.js';

export interface CoordinatorOptions {
  storage: GcsStorage;
  /** Driver token; when empty, drivers need none. */
  token?: string;
  inlineMax?: number;
  heartbeatMs?: number;
  /** A node that sends nothing for this long is dead. */
  deadAfterMs?: number;
  maxFrameBytes?: number;
  /** How long a job waits for its driver after a dropped connection or a restart. Default 20 s. */
  jobGraceMs?: number;
  /** After a restart, how long recovered objects wait for drivers and nodes to claim them. Default 10 s. */
  recoveryGraceMs?: number;
  /** A private mesh (issue 8): nodes must present this token in their hello. */
  joinToken?: string;
  /** A read-only token for the state API and dashboards (issue 7). */
  viewerToken?: string;
  /** Per-connection and per-address limits (coordinator/limits). */
  limits?: Partial<Limits>;
  /** Node trust and adaptive verification (coordinator/trust). */
  trust?: Partial<TrustOptions>;
}

type Handler<K extends Msg['t']> = (c: Coordinator, s: Session, m: MsgOf<K>) => string | null | void;

export class Coordinator {
  readonly gcs: Gcs;
  readonly dir: ObjectDirectory;
  readonly scheduler: Scheduler;
  readonly tasks: TaskManager;
  readonly membership: Membership;
  readonly relay: Relay;
  readonly signalling: Signalling;
  readonly inlineMax: number;
  readonly maxFrameBytes: number;
  /** How long a job waits for its driver to come back after a dropped connection or a restart. */
  readonly jobGraceMs: number;
  private readonly token: string;
  readonly sessions = new Set<Session>();
  /** Security (issue 8): secrets, limits, node trust, and what each node may claim. */
  readonly tokens: Tokens;
  readonly limits: LimitKeeper;
  readonly trust: TrustTable;
  readonly honesty = new Honesty();
  /**
   * One-time job credentials (coordinator/jobs, issue 7): a detached job's driver
   * presents one instead of the driver token; the callback learns its job id.
   */
  readonly jobCredentials = new Map<string, (jobId: JobRecord['id']) => void>();
  /** Set once the coordinator shuts down: late socket events are ignored. */
  stopped = false;

  constructor(readonly opts: CoordinatorOptions) {
    this.gcs = new Gcs(opts.storage);
    this.inlineMax = opts.inlineMax ?? 64 * 1024;
    this.maxFrameBytes = opts.maxFrameBytes ?? FRAME_HARD_MAX;
    this.jobGraceMs = opts.jobGraceMs ?? 20_000;
    this.token = opts.token ?? '';
    this.tokens = new Tokens({ driver: this.token, join: opts.joinToken, viewer: opts.viewerToken });
    this.tokens.onChange = (kind) => this.gcs.event('token-rotated', `the ${kind} token was replaced`);
    this.limits = new LimitKeeper(opts.limits);
    this.trust = new TrustTable(
      opts.trust ?? {},
      (node, why) => {
        const n = this.gcs.nodes.get(node);
        this.gcs.event('node-distrusted', `node ${node} disconnected after ${this.trust.opts.maxOffences} offences; last: ${why}`, { node });
        n?.session.fail('DISTRUSTED', `disconnected after ${this.trust.opts.maxOffences} offences; last: ${why}`);
      },
      (node, why) => this.gcs.event('node-offence', `node ${node}: ${why}`, { node }),
    );
    this.dir = new ObjectDirectory(this.gcs, {
      settled: (o, deps) => this.tasks.argSettled(o, deps),
      freed: (o) => this.tasks.outputFreed(o),
    });
    this.scheduler = new Scheduler(
      this.gcs,
      (t, n) => this.tasks.assign(t, n),
      (t, why) =>
        this.tasks.finishFailed(t, { code: 'NODE_LOST', name: 'NodeLostError', message: `task ${t.spec.name} cannot run: ${why}`, stack: '', functionName: t.spec.name, taskId: t.spec.taskId }),
    );
    this.tasks = new TaskManager(this.gcs, this.dir, this.scheduler, this.trust);
    this.tasks.onPlaced = (spec, n) => this.honesty.placed(n.session, spec.taskId);
    this.relay = new Relay(this.gcs, this.dir);
    this.relay.onBadHolder = (h, id, why) => {
      // Its claim is void: readers go to another holder, or the object is rebuilt.
      const o = this.dir.get(id);
      if (o && o.locations.delete(h) && o.locations.size === 0 && !o.v && o.state === 'ready') this.tasks.objectLost(o, `${h.label} ${why}`);
      if (h.role === 'node' && h.nodeId) this.trust.offence(h.nodeId, why);
    };
    this.signalling = new Signalling(this.gcs);
    const heartbeatMs = opts.heartbeatMs ?? 1000;
    this.membership = new Membership(
      this.gcs,
      {
        joined: () => this.scheduler.setNodes([...this.gcs.nodes.values()]),
        lost: (n) => this.nodeLost(n),
      },
      heartbeatMs,
      opts.deadAfterMs ?? Math.max(5000, heartbeatMs * 5),
    );
    this.membership.start();
    this.recovery = recover(this, opts.recoveryGraceMs ?? Math.min(10_000, this.jobGraceMs));
  }

  /** What a restart read back from the durable GCS. */
  readonly recovery: RecoveryReport;

  /** A frame arrived on a session. Bad frames close that session only. */
  onFrame(s: Session, data: Uint8Array): void {
    if (s.closed || this.stopped) return;
    let msgs: Msg[];
    try {
      msgs = decodeFrame(data, this.maxFrameBytes);
    } catch (e) {
      const err = e as ProtocolError;
      s.fail(err.code ?? 'BAD_FRAME', err.message);
      return;
    }
    const over = this.limits.frame(s, msgs.length);
    if (over) return s.fail(over.code, over.message);
    for (const m of msgs) {
      if (s.closed) return;
      if (s.role === 'pending') {
        if (m.t !== 'hello') return s.fail('BAD_MESSAGE', 'the first message must be hello');
        const err = this.hello(s, m);
        if (err) return s.fail(err.code, err.message);
        continue;
      }
      const allowed = s.role === 'driver' ? DRIVER_SENDS : NODE_SENDS;
      if (!allowed.has(m.t)) return s.fail('BAD_MESSAGE', `a ${s.role} may not send '${m.t}'`);
      const breach = this.limits.message(s, m);
      if (breach) return s.fail(breach.code, breach.message);
      const h = handlers[m.t] as Handler<typeof m.t> | null;
      const err = h?.(this, s, m as never);
      if (err) s.send({ t: 'error', code: 'REFUSED', message: err, ref: 'taskId' in m ? String(m.taskId) : undefined });
    }
    this.scheduler.runPending();
  }

  private hello(s: Session, m: MsgOf<'hello'>): { code: string; message: string } | null {
    if (m.version !== PROTOCOL_VERSION) return { code: 'BAD_MESSAGE', message: `protocol version ${m.version} is not ${PROTOCOL_VERSION}` };
    if (m.role === 'driver') {
      const credential = m.token !== undefined ? this.jobCredentials.get(m.token) : undefined;
      if (m.resume) return this.resumeJob(s, m.resume);
      if (!credential && !this.checkToken(m.token)) return { code: 'UNAUTHORIZED', message: 'a driver needs a valid token' };
      s.role = 'driver';
      const job: JobRecord = {
        id: newJobId(),
        state: 'running',
        driver: s,
        startedAt: Date.now(),
        endedAt: 0,
        tasks: new Set(),
        objects: new Set(),
        counts: { submitted: 0, finished: 0, failed: 0, cancelled: 0 },
        secret: randomHex(24),
        parked: null,
        graceTimer: null,
      };
      s.jobId = job.id;
      this.gcs.jobs.set(job.id, job);
      this.gcs.persistJob(job);
      this.gcs.event('job-started', `job ${job.id} started`, { job: job.id });
      if (credential) {
        this.jobCredentials.delete(m.token!);
        credential(job.id);
      }
      s.send({ t: 'welcome', jobId: job.id, nodeId: undefined, secret: job.secret, inlineMax: this.inlineMax, heartbeatMs: this.membership.heartbeatMs });
      return null;
    }
    if (!m.node) return { code: 'BAD_MESSAGE', message: 'a node hello needs node info' };
    if (!this.tokens.joinOk(m.token)) return { code: 'UNAUTHORIZED', message: 'this mesh is private: a node needs its join token' };
    s.role = 'node';
    const n = this.membership.join(s, m.node);
    s.send({
      t: 'welcome',
      jobId: undefined,
      nodeId: n.id,
      secret: this.membership.secrets.get(n.id),
      inlineMax: this.inlineMax,
      heartbeatMs: this.membership.heartbeatMs,
    });
    return null;
  }

  /**
   * A driver comes back to its job (its connection dropped, or this
   * coordinator restarted). Its handles are set to exactly what it says it holds.
   */
  private resumeJob(s: Session, r: NonNullable<MsgOf<'hello'>['resume']>): { code: string; message: string } | null {
    const job = this.gcs.jobs.get(r.jobId);
    if (!job || job.state !== 'running' || !sameSecret(r.secret, job.secret)) {
      return { code: 'UNAUTHORIZED', message: `job ${r.jobId} cannot be resumed (unknown, ended, or a wrong secret)` };
    }
    if (job.driver && !job.driver.closed) return { code: 'BAD_MESSAGE', message: `job ${r.jobId} has a connected driver` };
    s.role = 'driver';
    s.jobId = job.id;
    job.driver = s;
    if (job.graceTimer) clearTimeout(job.graceTimer);
    job.graceTimer = null;
    for (const id of r.held) this.dir.hold(s, id);
    const parked = job.parked;
    job.parked = null;
    if (parked) for (const [id, n] of parked) this.dir.decRef(id, n);
    this.gcs.event('job-resumed', `job ${job.id}: its driver is back (${r.held.length} handles)`, { job: job.id });
    s.send({ t: 'welcome', jobId: job.id, nodeId: undefined, secret: job.secret, inlineMax: this.inlineMax, heartbeatMs: this.membership.heartbeatMs });
    return null;
  }

  /** A driver's connection dropped without a goodbye: its job waits for it a while. */
  private detachJob(s: Session, job: JobRecord): void {
    job.driver = null;
    job.parked = new Map(s.held);
    s.held.clear(); // parked: not released until the job resumes or ends
    this.gcs.event('job-detached', `job ${job.id}: its driver's connection dropped; waiting ${this.jobGraceMs} ms for it`, { job: job.id });
    job.graceTimer = setTimeout(() => {
      job.graceTimer = null;
      if (!job.driver) this.endJob(job.id);
    }, this.jobGraceMs);
    job.graceTimer.unref?.();
  }

  private checkToken(given: string | undefined): boolean {
    return this.tokens.driverOk(given);
  }

  /** Whether an HTTP bearer token is good (constant-time). */
  authorized(header: string | undefined): boolean {
    if (!this.tokens.required('driver')) return true;
    const m = /^Bearer (.+)$/.exec(header ?? '');
    return !!m && this.checkToken(m[1]);
  }

  /** A session closed; `code` 1000 from a driver is a goodbye (its job ends now), anything else a drop. */
  onClose(s: Session, code = 1006): void {
    if (this.stopped || !this.sessions.delete(s)) return;
    const job = s.role === 'driver' && s.jobId ? this.gcs.jobs.get(s.jobId) : undefined;
    if (job && job.driver === s && job.state === 'running' && code !== 1000) this.detachJob(s, job);
    s.closed = true;
    this.relay.dropSession(s);
    if (s.role === 'node' && s.nodeId) {
      const n = this.gcs.nodes.get(s.nodeId);
      if (n) this.membership.remove(n, 'connection closed');
    }
    const orphaned = this.dir.dropSession(s);
    for (const o of orphaned) {
      // A detached driver's large puts wait for it: it announces them again when it resumes.
      if (job && !job.driver && job.state === 'running' && o.job === job.id && isPutObject(o.id)) continue;
      this.tasks.objectLost(o, `its only copy was on ${s.label}, which disconnected`);
    }
    if (s.role === 'driver' && s.jobId && this.gcs.jobs.get(s.jobId)?.driver === s) this.endJob(s.jobId);
  }

  private nodeLost(n: NodeRecord): void {
    this.trust.forget(n.id);
    this.scheduler.setNodes([...this.gcs.nodes.values()]);
    this.tasks.nodeLost(n);
  }

  endJob(jobId: JobRecord['id']): void {
    const job = this.gcs.jobs.get(jobId);
    if (!job || job.state !== 'running') return;
    if (job.graceTimer) clearTimeout(job.graceTimer);
    job.graceTimer = null;
    if (job.parked) for (const [id, n] of job.parked) this.dir.decRef(id, n);
    job.parked = null;
    job.state = 'finished';
    job.endedAt = Date.now();
    job.driver = null;
    this.tasks.endJob(jobId);
    this.gcs.persistJob(job);
    this.gcs.event('job-ended', `job ${jobId} ended: ${job.counts.finished} finished, ${job.counts.failed} failed, ${job.counts.cancelled} cancelled`, { job: jobId });
    // Finished jobs keep a summary row in memory; bound how many.
    if (this.gcs.jobs.size > 1000) {
      for (const [id, j] of this.gcs.jobs) {
        if (this.gcs.jobs.size <= 1000) break;
        if (j.state === 'finished') this.gcs.jobs.delete(id);
      }
    }
  }

  node(id: NodeId): NodeRecord | undefined {
    return this.gcs.nodes.get(id);
  }

  statsJson(): Record<string, number> {
    const mem = process.memoryUsage();
    return {
      ...this.gcs.stats,
      objects: this.gcs.objects.size,
      tasks: this.gcs.tasks.size,
      tasksQueued: this.scheduler.queuedCount,
      nodes: this.gcs.nodes.size,
      drivers: [...this.sessions].filter((s) => s.role === 'driver').length,
      jobs: [...this.gcs.jobs.values()].filter((j) => j.state === 'running').length,
      functions: this.gcs.functions.size,
      actorsAlive: this.tasks.actors.alive,
      ...this.tasks.verifier.stats,
      limitBreaches: Object.values(this.limits.breaches).reduce((a, b) => a + b, 0),
      actorsDead: this.tasks.actors.dead,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
    };
  }

  close(): void {
    this.stopped = true;
    this.membership.stop();
    this.gcs.close();
  }
}

function nodeOf(c: Coordinator, s: Session): NodeRecord | undefined {
  return s.nodeId ? c.node(s.nodeId) : undefined;
}

/** Whether node session `s` runs a task of job `job` (its tasks act within their job only). */
function runsTaskOfJob(c: Coordinator, s: Session, job: string): boolean {
  const n = nodeOf(c, s);
  if (!n) return false;
  for (const t of n.tasks) if (t.spec.jobId === job) return true;
  return false;
}

/** Whether session `s` may create objects and tasks under parent task `parent`. */
function mayActFor(c: Coordinator, s: Session, parent: string): boolean {
  if (s.role === 'driver') return parent === rootTaskId(s.jobId!);
  const t = c.gcs.tasks.get(parent as never);
  return !!t && ((t.node !== null && t.node.session === s) || c.tasks.verifier.runsOn(t, s));
}

/** A node reported on a task it was never given: a lie, unless it is only late (issue 8). */
function madeUp(c: Coordinator, s: Session, what: string, taskId: string): void {
  if (s.nodeId && !c.honesty.mayReport(s, taskId as never)) c.trust.offence(s.nodeId, `${what} for task ${taskId.slice(0, 12)}, which it was never assigned`);
}

const handlers: { [K in Msg['t']]: Handler<K> | null } = {
  hello: null,
  welcome: null,
  assign: null,
  cancelTask: null,
  free: null,
  serve: null,
  located: null,
  ready: null,
  output: null,
  error: (c, s, m) => {
    c.gcs.event('client-error', `${s.label} reported ${m.code}: ${m.message}`);
  },
  fn: (c, _s, m) => {
    if (functionId(m.f.kind, m.f.source) !== m.f.fnId) return `function id ${m.f.fnId} does not match its source`;
    if (!c.gcs.functions.has(m.f.fnId)) c.gcs.addFunction({ ...m.f, ewmaMs: -1, runs: 0 });
  },
  submit: (c, s, m) => {
    const spec = m.spec;
    if (spec.attempt !== 0) return 'a new task starts at attempt 0';
    if (!mayActFor(c, s, spec.parentId)) return `task ${spec.taskId}: parent ${spec.parentId} is not yours`;
    if (s.role === 'driver' && spec.jobId !== s.jobId) return `task ${spec.taskId} is not of your job`;
    const job = c.gcs.jobs.get(spec.jobId);
    if (job && !c.gcs.tasks.has(spec.taskId)) {
      const k = job.counts;
      const over = c.limits.tasks(k.submitted - k.finished - k.failed - k.cancelled);
      if (over) return void s.fail(over.code, over.message);
    }
    const local = m.local ? nodeOf(c, s) ?? null : null;
    return c.tasks.submit(spec, s, local);
  },
  put: (c, s, m) => {
    if (!isPutObject(m.id) || !mayActFor(c, s, taskOfObject(m.id))) return `put ${m.id}: not a put id of yours`;
    if (m.v && m.v.byteLength !== m.size) return `put ${m.id}: size ${m.size} does not match ${m.v.byteLength} bytes`;
    const existing = c.dir.get(m.id);
    if (existing) {
      // The same task re-ran, or a driver that resumed announces it again: the object is the same (deterministic ids).
      if (!m.v) existing.locations.add(s);
      if (!s.held.has(m.id)) c.dir.hold(s, m.id);
      return;
    }
    const job = s.role === 'driver' ? s.jobId! : c.gcs.tasks.get(taskOfObject(m.id))!.spec.jobId;
    const o = c.dir.create(m.id, job, 0);
    c.dir.hold(s, m.id);
    if (m.v) c.dir.setReady(o, { v: m.v, size: m.size, contains: m.refs });
    else c.dir.setReady(o, { size: m.size, hash: m.hash, location: s, contains: m.refs });
  },
  subscribe: (c, s, m) => c.dir.subscribe(s, m.ids),
  fetch: (c, s, m) => {
    c.honesty.asked(s, m.id);
    c.relay.fetch(s, m);
  },
  // Peer links (issue 4): signalling, holder lookup, and bytes receivers moved peer-to-peer.
  signal: (c, s, m) => c.signalling.relay(s, m),
  locate: (c, s, m) => {
    c.honesty.asked(s, m.id);
    c.signalling.locate(s, m);
  },
  peerBytes: (c, _s, m) => {
    c.gcs.stats.bytesPeer += m.n;
  },
  chunk: (c, s, m) => c.relay.chunk(s, m),
  xferFail: (c, s, m) => c.relay.fail(s, m),
  borrow: (c, s, m) => {
    for (const id of m.ids) c.dir.hold(s, id);
  },
  release: (c, s, m) => {
    for (const id of m.ids) c.dir.unhold(s, id);
  },
  actorInfo: null,
  actorCheckpoint: (c, s, m) => {
    const a = c.tasks.actors.actors.get(m.id);
    if (!a || a.node?.session !== s) return `actor ${m.id} does not live on this node`;
    c.tasks.actors.checkpointed(m.id, m.after, m.state);
  },
  killActor: (c, s, m) => {
    const a = c.tasks.actors.actors.get(m.id);
    if (!a) return null;
    // Its job's driver, its tasks' nodes, or any session holding a handle to it may kill it.
    const held = s.held.has(ActorManager.creationObject(m.id));
    const ofJob = s.role === 'driver' ? a.job === s.jobId : runsTaskOfJob(c, s, a.job);
    if (!held && !ofJob) return `actor ${m.id} is not yours`;
    c.tasks.actors.kill(m.id, s.role === 'driver' ? 'killed by its driver' : 'killed by a task');
  },
  getActor: (c, s, m) => {
    const a = c.tasks.actors.lookup(m.name);
    if (!a || !c.dir.hold(s, ActorManager.creationObject(a.id))) {
      s.send({ t: 'actorInfo', x: m.x, error: `no live actor named '${m.name}'` });
      return;
    }
    s.send({ t: 'actorInfo', x: m.x, id: a.id, className: a.className });
  },
  cancel: (c, s, m) => {
    const t = c.gcs.tasks.get(taskOfObject(m.id));
    if (!t) return null;
    // A driver cancels within its job; a node on behalf of a task of that job it is running.
    if (s.role === 'driver' ? t.spec.jobId !== s.jobId : !runsTaskOfJob(c, s, t.spec.jobId)) return `task of ${m.id} is not of your job`;
    c.tasks.cancel(m.id, m.force);
  },
  heartbeat: (c, s, m) => {
    const n = nodeOf(c, s);
    if (n) c.membership.heartbeat(n, m);
  },
  started: (c, s, m) => {
    const t = c.tasks.ownedBy(s, m.taskId, m.attempt);
    if (typeof t === 'string') return null; // a late report about a task moved elsewhere
    c.tasks.started(t);
  },
  blocked: (c, s, m) => {
    const t = c.tasks.ownedBy(s, m.taskId, m.attempt);
    if (typeof t !== 'string') c.tasks.setBlocked(t, m.blocked);
  },
  done: (c, s, m) => {
    const t = c.tasks.ownedBy(s, m.taskId, m.attempt);
    // A late report for a task that moved on (cancelled, job ended, retried): not news.
    if (typeof t === 'string') return void (c.gcs.stats.staleReports++, madeUp(c, s, 'a result', m.taskId));
    nodeOf(c, s)!.lastSeen = Date.now();
    return c.tasks.done(t, m, s);
  },
  failed: (c, s, m) => {
    const t = c.tasks.ownedBy(s, m.taskId, m.attempt);
    if (typeof t === 'string') return void (c.gcs.stats.staleReports++, madeUp(c, s, 'a failure', m.taskId));
    c.tasks.reportedFailed(t, m.failure);
  },
  stored: (c, s, m) => {
    if (!c.honesty.mayStore(s, m.id)) {
      if (s.nodeId) c.trust.offence(s.nodeId, `claimed a copy of object ${m.id.slice(0, 12)}, which it never asked for`);
      return;
    }
    const o = c.dir.get(m.id);
    if (o && o.state === 'ready' && o.size === m.size && (!o.hash || o.hash === m.hash)) o.locations.add(s);
  },
  dropped: (c, s, m) => {
    for (const id of m.ids) {
      const o = c.dir.get(id);
      if (o && o.locations.delete(s) && o.locations.size === 0 && !o.v && o.state === 'ready') {
        c.tasks.objectLost(o, `its last copy was dropped by ${s.label}`);
      }
    }
  },
  log: (c, s, m) => {
    const t = c.gcs.tasks.get(m.taskId);
    const n = nodeOf(c, s);
    if (!t || !n || (t.node?.session !== s && !c.tasks.verifier.runsOn(t, s))) return;
    const job = c.gcs.jobs.get(t.spec.jobId);
    job?.driver?.send({ t: 'output', taskId: m.taskId, level: m.level, text: m.text, fn: t.spec.name, node: n.name });
  },
  // Browser nodes (issue 3): pause, executor count, and re-announcing after a reload.
  capacity: (c, s, m) => {
    const n = nodeOf(c, s);
    if (!n) return;
    // A paused node offers no CPU: the scheduler stops placing work there.
    n.resources.cpu = m.paused ? 0 : m.cpus;
    c.gcs.event('node-capacity', `node ${n.id} (${n.name}) ${m.paused ? 'paused' : `offers ${m.cpus} cpu`}`, { node: n.id });
    c.scheduler.soon();
  },
  handBack: (c, s, m) => {
    for (const { taskId, attempt } of m.tasks) {
      const t = c.tasks.ownedBy(s, taskId, attempt);
      if (typeof t === 'string' || t.state !== 'assigned') continue; // started ones finish where they are
      const n = t.node!;
      if (t.blocked) c.tasks.setBlocked(t, false);
      n.tasks.delete(t);
      Scheduler.charge(n, t, -1);
      t.node = null;
      c.scheduler.enqueue(t, true);
    }
  },
  holding: (c, s, m) => {
    const stale = m.objects.filter((h) => {
      const o = c.dir.get(h.id);
      if (!o || o.v || (o.state !== 'pending' && (!o.hash || o.hash !== h.hash)) || o.size !== h.size) return true;
      if (o.state === 'failed' && o.failure?.code === 'OBJECT_LOST') {
        // Its last copy went with the tab's old session; the reloaded tab has it
        // again (until lineage reconstruction, issue 6, this is the only way back).
        o.state = 'ready';
        o.failure = null;
        c.gcs.persistObject(o);
        c.gcs.event('object-recovered', `object ${o.id} is back on ${s.label}`, { object: o.id, job: o.job });
      }
      if (o.state === 'pending' && o.size > 0 && o.size === h.size) {
        // Being rebuilt from lineage (issue 6) since the tab's old session
        // closed: the copy is back, so it is ready now (a re-run that still
        // finishes only adds a location). Its contained refs are held already.
        // setReady trades the holds of what it contains for the same new ones.
        c.dir.setReady(o, { size: h.size, hash: h.hash, location: s, contains: o.contains });
        c.gcs.event('object-recovered', `object ${o.id} is back on ${s.label}`, { object: o.id, job: o.job });
        return false;
      }
      if (o.state !== 'ready') return true;
      o.locations.add(s);
      return false;
    });
    if (stale.length) s.send({ t: 'free', ids: stale.map((h) => h.id) });
  },
};
