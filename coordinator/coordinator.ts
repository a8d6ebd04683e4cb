// The control plane: GCS tables, the object directory, the task manager and
// scheduler, membership and the relay, driven by the messages of sessions.
import { isPutObject, newJobId, randomHex, type NodeId } from '../shared/ids.js';
import { decodeFrame, FRAME_HARD_MAX } from '../shared/protocol/frame.js';
import { ProtocolError, type ErrorCode } from '../shared/errors.js';
import { DRIVER_SENDS, NODE_SENDS, PROTOCOL_VERSION, type Msg, type MsgOf } from '../shared/protocol/messages.js';
import { Gcs } from './gcs/gcs.js';
import { recover, type RecoveryReport } from './gcs/recovery.js';
import type { GcsStorage } from './gcs/storage.js';
import { MAX_ENDED_JOBS, type JobRecord, type NodeRecord } from './gcs/tables.js';
import { Membership } from './nodes/membership.js';
import { ObjectDirectory } from './objects/directory.js';
import { ArtifactRegistry } from './objects/artifacts.js';
import { Relay } from './objects/relay.js';
import { Signalling } from './signal/signal.js';
import { Scheduler } from './scheduler/scheduler.js';
import { TaskManager } from './scheduler/tasks.js';
import { actorHooks, verifiedTasks } from './scheduler/task-wiring.js';
import { TaskEnds } from './scheduler/task-ends.js';
import { nodeLostFailure } from './scheduler/task-failures.js';
import { ActorManager } from './actors/actors.js';
import { ActorHandover } from './actors/handover.js';
import { Verifier } from './verify/verifier.js';
import { FeasibilityWatch } from './scheduler/feasibility.js';
import type { Session } from './session.js';
import { handlers, type Handler } from './handlers.js';
import { sameSecret, Tokens } from './auth/tokens.js';
import { LimitKeeper, type Limits } from './limits/limits.js';
import { TrustTable, type TrustOptions } from './trust/trust.js';
import { Honesty } from './trust/honesty.js';
import { LoopWatch } from './nodes/loop-watch.js';
import type { CoordinatorMesh } from './mesh/mesh.js';

/** A frame's messages are handled for at most this long per turn (then the loop serves others). */
const MESSAGE_SLICE_MS = 10;

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
  /**
   * The GCS is shared with other coordinators (Redis, coordinator/mesh): a
   * running job is read back when its driver resumes here, not at start.
   */
  shared?: boolean;
}

/** A one-time credential for a detached job's driver (coordinator/jobs). */
export interface JobCredential {
  /** Run again under this job id (a job that was running when the coordinator stopped). */
  jobId?: JobRecord['id'];
  /** Learns the job id once the driver is in (called at once, before the job's `job-started` event). */
  connected: (jobId: JobRecord['id']) => void;
}

export class Coordinator {
  readonly gcs: Gcs;
  readonly dir: ObjectDirectory;
  readonly scheduler: Scheduler;
  readonly tasks: TaskManager;
  /** Cancel, node loss and job end for tasks (scheduler/task-ends.ts). */
  readonly ends: TaskEnds;
  readonly actors: ActorManager;
  /** Actors that outlive a coordinator, attached again when their node joins (issue 15). */
  readonly handover: ActorHandover;
  /** Verified execution: replicas on distinct nodes, settled by majority (issue 8). */
  readonly verifier: Verifier;
  readonly membership: Membership;
  readonly relay: Relay;
  /** Runtime env artifacts of the mesh, by content hash (issue 16). */
  readonly artifacts: ArtifactRegistry;
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
  readonly jobCredentials = new Map<string, JobCredential>();
  /** Called once a job ends (its counts are final); the job runner keeps them with its record. */
  onJobEnded: (job: JobRecord) => void = () => {};
  /** Set once the coordinator shuts down: late socket events are ignored. */
  stopped = false;
  /** The worst event-loop delay lately (issue 14: no stall may starve heartbeats and HTTP). */
  readonly loop = new LoopWatch();
  /** The other coordinators on the same Redis (coordinator/mesh), and this one's id among them. */
  mesh: CoordinatorMesh | undefined;
  meshId: string | undefined;

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
      (t, why) => this.tasks.finishFailed(t, nodeLostFailure(t.spec, `task ${t.spec.name} cannot run: ${why}`)),
    );
    // The task manager calls the actor manager and the verifier; they call it back (read late, once it exists).
    this.actors = new ActorManager(
      this.gcs,
      actorHooks(() => this.tasks, this.dir, this.scheduler),
    );
    this.verifier = new Verifier(
      this.gcs,
      this.scheduler,
      verifiedTasks(() => this.tasks),
      this.trust,
    );
    this.tasks = new TaskManager(this.gcs, this.dir, this.scheduler, this.actors, this.verifier);
    this.ends = new TaskEnds(this.gcs, this.dir, this.scheduler, this.tasks, this.actors);
    this.handover = new ActorHandover(this.gcs, this.actors, () => this.tasks, this.jobGraceMs);
    const feasibility = new FeasibilityWatch(
      this.gcs,
      (job, code, message, t) => this.gcs.jobs.get(job)?.driver?.send({ t: 'warn', code, message, ref: t.spec.taskId }),
      (n) =>
        this.actors
          .list()
          .filter((a) => a.node === n && a.state === 'alive')
          .map((a) => a.className),
    );
    this.scheduler.onStuck = (key, t, nodes, queued) => feasibility.stuck(key, t, nodes, queued);
    this.scheduler.askBack = (n, count) => n.session.send({ t: 'giveBack', n: count });
    this.tasks.onPlaced = (spec, n) => this.honesty.placed(n.session, spec.taskId);
    this.relay = new Relay(this.gcs, this.dir);
    this.artifacts = new ArtifactRegistry(this.gcs, this.dir);
    this.tasks.artifactLost = (o, why) => this.artifacts.lost(o, why);
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
        joined: (n) => this.scheduler.addNode(n),
        lost: (n) => this.nodeLost(n),
      },
      heartbeatMs,
      opts.deadAfterMs ?? Math.max(5000, heartbeatMs * 5),
    );
    this.membership.start();
    this.recovery = opts.shared
      ? { jobs: 0, tasksRequeued: 0, tasksFinished: 0, objects: 0 }
      : recover(this, opts.recoveryGraceMs ?? Math.min(10_000, this.jobGraceMs));
  }

  /** What a restart read back from the durable GCS. */
  readonly recovery: RecoveryReport;

  /** A frame arrived on a session. Bad frames close that session only. */
  onFrame(s: Session, data: Uint8Array): void {
    if (s.closed || this.stopped) return;
    s.bytesIn += data.byteLength;
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
    if (s.nodeId) {
      // Any frame is a sign of life (nodes skip unchanged heartbeats, issue 14).
      const n = this.gcs.nodes.get(s.nodeId);
      if (n) n.lastSeen = Date.now();
    }
    const first = msgs[0];
    if (this.mesh && s.role === 'pending' && first?.t === 'hello' && first.resume && !this.backlog.has(s)) {
      const job = this.gcs.jobs.get(first.resume.jobId);
      if (!job || job.guest) {
        // A driver of a job this coordinator does not own (its coordinator died): take it over first.
        this.backlog.set(s, { frames: [msgs], at: 0 });
        void this.mesh
          .takeOver(first.resume.jobId)
          .catch((e: Error) => this.gcs.event('job-takeover-failed', `job ${first.resume!.jobId}: ${e.message}`))
          .finally(() => this.drainBacklog(s, true));
        return;
      }
    }
    const waiting = this.backlog.get(s);
    if (waiting) {
      // Messages of a session are handled in order: behind what is still waiting.
      waiting.frames.push(msgs);
      return;
    }
    const stop = this.handleMessages(s, msgs, 0, performance.now() + MESSAGE_SLICE_MS);
    if (stop < msgs.length) {
      this.backlog.set(s, { frames: [msgs], at: stop });
      setImmediate(() => this.drainBacklog(s));
    }
    this.scheduler.runPending();
  }

  /**
   * Frames whose handling was cut at MESSAGE_SLICE_MS (issue 14: a driver's
   * frame of thousands of submits must not stall heartbeats and HTTP): the
   * rest is handled in later turns, in order, before anything newer from
   * that session. `at` is where the first frame stopped.
   */
  private readonly backlog = new Map<Session, { frames: Msg[][]; at: number }>();

  /** Handles msgs[from..] until `deadline`; returns where it stopped (msgs.length: all done, or the session closed). */
  private handleMessages(s: Session, msgs: Msg[], from: number, deadline: number): number {
    for (let i = from; i < msgs.length; i++) {
      if (i > from && (i & 127) === 0 && performance.now() > deadline) return i;
      const m = msgs[i];
      if (s.closed) return msgs.length;
      if (s.role === 'pending') {
        if (m.t !== 'hello') return (void s.fail('BAD_MESSAGE', 'the first message must be hello'), msgs.length);
        const err = this.hello(s, m);
        if (err) return (void s.fail(err.code, err.message), msgs.length);
        continue;
      }
      const allowed = s.role === 'driver' ? DRIVER_SENDS : NODE_SENDS;
      if (!allowed.has(m.t)) return (void s.fail('BAD_MESSAGE', `a ${s.role} may not send '${m.t}'`), msgs.length);
      const breach = this.limits.message(s, m);
      if (breach) return (void s.fail(breach.code, breach.message), msgs.length);
      const h = handlers[m.t] as Handler<typeof m.t> | null;
      const err = h?.(this, s, m);
      if (err) s.send({ t: 'error', code: 'REFUSED', message: err, ref: 'taskId' in m ? String(m.taskId) : undefined });
    }
    return msgs.length;
  }

  /** Handles a session's waiting frames, a slice per turn; `all` handles them at once (the session is closing). */
  private drainBacklog(s: Session, all = false): void {
    const q = this.backlog.get(s);
    if (!q || this.stopped) return;
    const deadline = all ? Infinity : performance.now() + MESSAGE_SLICE_MS;
    while (q.frames.length > 0) {
      const msgs = q.frames[0];
      q.at = this.handleMessages(s, msgs, q.at, deadline);
      if (q.at < msgs.length) {
        setImmediate(() => this.drainBacklog(s));
        this.scheduler.runPending();
        return;
      }
      q.frames.shift();
      q.at = 0;
    }
    this.backlog.delete(s);
    this.scheduler.runPending();
  }

  private hello(s: Session, m: MsgOf<'hello'>): { code: ErrorCode; message: string } | null {
    if (m.version !== PROTOCOL_VERSION) return { code: 'BAD_MESSAGE', message: `protocol version ${m.version} is not ${PROTOCOL_VERSION}` };
    s.peerless = m.peers === false;
    if (m.role === 'driver') {
      const credential = m.token !== undefined ? this.jobCredentials.get(m.token) : undefined;
      if (m.resume) return this.resumeJob(s, m.resume);
      if (!credential && !this.checkToken(m.token))
        return { code: 'UNAUTHORIZED', message: m.token ? 'the driver token is wrong' : 'this coordinator needs a driver token' };
      // A submitted job run again after a restart keeps its id; recovery left no state under it.
      if (credential?.jobId && this.gcs.jobs.has(credential.jobId)) return { code: 'BAD_MESSAGE', message: `job ${credential.jobId} exists already` };
      s.role = 'driver';
      const job: JobRecord = {
        id: credential?.jobId ?? newJobId(),
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
        submitted: !!credential,
        namespace: m.namespace,
      };
      s.jobId = job.id;
      this.gcs.jobs.set(job.id, job);
      this.gcs.persistJob(job);
      this.mesh?.jobStarted(job.id);
      // A submitted job's runner learns its id first: its `job-submitted` event comes before `job-started`.
      if (credential) {
        this.jobCredentials.delete(m.token!);
        credential.connected(job.id);
      }
      this.gcs.event('job-started', `job ${job.id} started`, { job: job.id });
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
    if (m.node.host?.actors.length) this.handover.joined(n, m.node.host.actors);
    return null;
  }

  /**
   * A driver comes back to its job (its connection dropped, or this
   * coordinator restarted). Its handles are set to exactly what it says it holds.
   */
  private resumeJob(s: Session, r: NonNullable<MsgOf<'hello'>['resume']>): { code: ErrorCode; message: string } | null {
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
      if (!job.driver && !this.stopped) this.endJob(job.id, `its driver's connection dropped and it did not come back within ${this.jobGraceMs} ms`); // not after close: the GCS is closed
    }, this.jobGraceMs);
    job.graceTimer.unref?.();
  }

  private checkToken(given: string | undefined): boolean {
    return this.tokens.driverOk(given);
  }

  /** A session closed; `code` 1000 from a driver is a goodbye (its job ends now), anything else a drop. */
  onClose(s: Session, code = 1006): void {
    if (this.stopped || !this.sessions.has(s)) return;
    // What it sent before closing counts: its waiting frames are handled first.
    if (this.backlog.has(s)) this.drainBacklog(s, true);
    if (!this.sessions.delete(s)) return;
    const job = s.role === 'driver' && s.jobId ? this.gcs.jobs.get(s.jobId) : undefined;
    if (job && job.driver === s && job.state === 'running' && code !== 1000) this.detachJob(s, job);
    s.closed = true;
    this.relay.dropSession(s);
    this.artifacts.dropSession(s);
    if (s.role === 'node' && s.nodeId) {
      const n = this.gcs.nodes.get(s.nodeId);
      if (n) this.membership.remove(n, 'connection closed');
    }
    const orphaned = this.dir.dropSession(s);
    for (const o of orphaned) {
      // A detached driver's large puts wait for it: it announces them again when it resumes.
      if (job && !job.driver && job.state === 'running' && o.job === job.id && isPutObject(o.id) && !this.artifacts.has(o.id)) continue;
      this.tasks.objectLost(o, `its only copy was on ${s.label}, which disconnected`);
    }
    if (s.role === 'driver' && s.jobId && this.gcs.jobs.get(s.jobId)?.driver === s) this.endJob(s.jobId, 'its driver closed the session');
  }

  private nodeLost(n: NodeRecord): void {
    this.trust.forget(n.id);
    this.scheduler.removeNode(n);
    this.ends.nodeLost(n);
  }

  endJob(jobId: JobRecord['id'], reason = 'it was ended'): void {
    const job = this.gcs.jobs.get(jobId);
    if (!job || job.state !== 'running') return;
    job.endReason = reason;
    if (job.graceTimer) clearTimeout(job.graceTimer);
    job.graceTimer = null;
    if (job.parked) for (const [id, n] of job.parked) this.dir.decRef(id, n);
    job.parked = null;
    job.state = 'finished';
    job.endedAt = Date.now();
    job.driver = null;
    if (!job.guest) this.mesh?.jobEnded(jobId);
    this.ends.endJob(jobId);
    this.artifacts.jobEnded(jobId);
    this.gcs.persistJob(job);
    this.onJobEnded(job);
    this.gcs.event('job-ended', `job ${jobId} ended: ${job.counts.finished} finished, ${job.counts.failed} failed, ${job.counts.cancelled} cancelled`, {
      job: jobId,
    });
    // Finished jobs keep a summary row in memory and in the durable GCS; bound how many.
    if (this.gcs.jobs.size > MAX_ENDED_JOBS) {
      for (const [id, j] of this.gcs.jobs) {
        if (this.gcs.jobs.size <= MAX_ENDED_JOBS) break;
        if (j.state !== 'finished') continue;
        this.gcs.jobs.delete(id);
        this.gcs.storage.delete('jobs', id, id);
      }
    }
  }

  node(id: NodeId): NodeRecord | undefined {
    return this.gcs.nodes.get(id);
  }

  private meshLinks(): number {
    let n = 0;
    if (this.mesh) for (const node of this.gcs.nodes.values()) if (node.link !== undefined) n++;
    return n;
  }

  statsJson(): Record<string, number> {
    const mem = process.memoryUsage();
    return {
      ...this.gcs.stats,
      objects: this.gcs.objects.size,
      tasks: this.gcs.tasks.size,
      tasksQueued: this.scheduler.queuedCount,
      // Other coordinators of the mesh are nodes of this one (coordinator/mesh), not counted as nodes.
      nodes: this.gcs.nodes.size - this.meshLinks(),
      meshLinks: this.meshLinks(),
      drivers: [...this.sessions].filter((s) => s.role === 'driver').length,
      jobs: [...this.gcs.jobs.values()].filter((j) => j.state === 'running').length,
      functions: this.gcs.functions.size,
      actorsAlive: this.actors.alive,
      ...this.verifier.stats,
      limitBreaches: Object.values(this.limits.breaches).reduce((a, b) => a + b, 0),
      actorsDead: this.actors.dead,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      // Buffers and ArrayBuffers (objects in a local node's store, relay chunks) live outside the JS heap.
      externalBytes: mem.external,
      arrayBuffersBytes: mem.arrayBuffers,
      loopDelayMaxMs: this.loop.maxMs(),
      schedulerSlicedPasses: this.scheduler.slicedPasses,
      rebalanceRounds: this.scheduler.rebalancer.stats.rounds,
      rebalanceAsked: this.scheduler.rebalancer.stats.asked,
    };
  }

  close(): void {
    this.stopped = true;
    this.handover.close();
    this.loop.stop();
    this.membership.stop();
    this.gcs.close();
  }
}
