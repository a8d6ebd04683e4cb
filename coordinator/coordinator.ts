// The control plane: GCS tables, the object directory, the task manager and
// scheduler, membership and the relay, driven by the messages of sessions.
import { forgetFunctions } from './nodes/load.js';
import { IceServers } from './signal/ice.js';
import { IceRefresh } from './signal/ice-refresh.js';
import { isPutObject, type NodeId } from '../shared/ids.js';
import { FRAME_HARD_MAX } from '../shared/protocol/frame.js';
import type { FrameIn } from '../shared/protocol/chunk-frame.js';
import { Gcs } from './gcs/gcs.js';
import { recover, type RecoveryReport } from './gcs/recovery.js';
import type { JobRecord, NodeRecord } from './gcs/tables.js';
import { afterShortcuts } from './scheduler/shortcuts.js';
import { Membership } from './nodes/membership.js';
import { holdOptions } from './nodes/hold.js';
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
import { Inbox } from './inbox.js';
import type { Managers } from './managers.js';
import { Tokens } from './auth/tokens.js';
import { JobManager, type JobCredential, type JobMesh } from './jobs/job-manager.js';
import { LimitKeeper } from './limits/limits.js';
import { TrustTable } from './trust/trust.js';
import { Honesty } from './trust/honesty.js';
import { TaskLogs } from './task-logs.js';
import { DirectLeases } from './scheduler/direct-leases.js';
import { DirectHurry } from './scheduler/direct-hurry.js';
import { LoopWatch } from './nodes/loop-watch.js';
import { SessionFlushes } from './flush-turns.js';
import type { CoordinatorOptions } from './coordinator-options.js';
import { traffic } from './traffic.js';
import { coordinatorStats } from './stats.js';
import { GroupManager } from './groups/group-manager.js';

export type { CoordinatorOptions } from './coordinator-options.js';

export class Coordinator implements Managers {
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
  readonly ice: IceServers | null;
  /** Fresh TURN credentials for long sessions (issue 17). */
  readonly iceRefresh: IceRefresh | null;
  readonly maxFrameBytes: number;
  private readonly token: string;
  readonly sessions = new Set<Session>();
  /** Sessions' end-of-turn frames, a slice per turn (issue 14: a turn's socket writes stay bounded). */
  readonly flushes = new SessionFlushes();
  /** Security (issue 8): secrets, limits, node trust, and what each node may claim. */
  readonly tokens: Tokens;
  readonly limits: LimitKeeper;
  readonly trust: TrustTable;
  readonly honesty = new Honesty();
  readonly taskLogs = new TaskLogs();
  readonly leases: DirectLeases;
  /** Asks a node for its held direct tasks' reports when something here waits on one (direct-hurry.ts). */
  readonly hurry: DirectHurry;
  /** The jobs table (coordinator/jobs/job-manager.ts). */
  readonly jobs: JobManager;
  /** Task groups (coordinator/groups): null with the `groups` option off. */
  readonly groups: GroupManager | null;
  /** Set once the coordinator shuts down: late socket events are ignored. */
  stopped = false;
  /** The worst event-loop delay lately (issue 14: no stall may starve heartbeats and HTTP). */
  readonly loop = new LoopWatch();
  /** This coordinator's id among the others on the same Redis (coordinator/mesh). */
  meshId: string | undefined;
  /** Another coordinator's link joined as a node (coordinator/mesh/link-pins.ts: its link is up from now). */
  linkJoined: (peer: string) => void = () => {};

  constructor(readonly opts: CoordinatorOptions) {
    this.gcs = new Gcs(opts.storage);
    this.inlineMax = opts.inlineMax ?? 64 * 1024;
    this.ice = opts.ice && opts.ice.servers.length > 0 ? new IceServers(opts.ice) : null;
    this.iceRefresh = this.ice ? new IceRefresh(this.ice, () => this.sessions) : null;
    this.iceRefresh?.start();
    this.maxFrameBytes = opts.maxFrameBytes ?? FRAME_HARD_MAX;
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
      lost: (o, why) => this.tasks.objectLost(o, why),
      freed: (o) => this.tasks.outputFreed(o),
      awaited: (o, by) => this.hurry.awaited(o, by),
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
    this.groups = opts.groups !== false ? this.startGroups() : null;
    this.handover = new ActorHandover(this.gcs, this.actors, () => this.tasks, opts.jobGraceMs ?? 20_000);
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
    this.scheduler.onPinAway = (t) => feasibility.pinAway(t);
    this.scheduler.askBack = (n, count) => n.session.send({ t: 'giveBack', n: count });
    this.leases = new DirectLeases(this.gcs);
    this.hurry = new DirectHurry(this.gcs, (t) => this.leases.sentStraight(t));
    this.tasks.onTagged = (t, n) => this.leases.grant(t.spec.jobId, n);
    this.tasks.onPlaced = (spec, n) => {
      this.honesty.placed(n.session, spec.taskId);
      if (spec.actor?.kind === 'create') this.handover.placed(spec.taskId, n);
    };
    this.relay = new Relay(this.gcs, this.dir);
    this.artifacts = new ArtifactRegistry(this.gcs, this.dir, opts.jobGraceMs ?? 20_000);
    this.jobs = new JobManager(this.gcs, this.dir, this.ends, this.artifacts, opts.jobGraceMs ?? 20_000, () => this.stopped);
    this.jobs.forgetFunctions = (fns) => forgetFunctions(this.gcs.nodes.values(), fns);
    this.tasks.artifactLost = (o, why) => this.artifacts.lost(o, why);
    this.relay.onBadHolder = (h, id, why) => {
      // Its claim is void: readers go to another holder, or the object is rebuilt.
      this.dir.dropCopy(id, h, `${h.label} ${why}`);
      const n = h.role === 'node' ? this.membership.nodeOf(h) : undefined;
      if (n) this.trust.offence(n.id, why);
    };
    this.signalling = new Signalling(this.gcs, opts.swarm ?? true);
    const heartbeatMs = opts.heartbeatMs ?? 1000;
    const deadAfterMs = opts.deadAfterMs ?? Math.max(5000, heartbeatMs * 5);
    this.membership = new Membership(
      this.gcs,
      {
        joined: (n) => {
          this.scheduler.addNode(n);
          if (n.link !== undefined) this.linkJoined(n.link);
        },
        lost: (n) => this.nodeLost(n),
        // Held: no new work (as a closing node); its tasks stay where they are. Back when it speaks, unless its socket is going.
        held: (n) => {
          this.scheduler.removeNode(n);
          this.leases.held(n, true);
        },
        released: (n) => {
          if (!n.session.closing) this.scheduler.addNode(n);
          this.leases.held(n, false);
        },
      },
      heartbeatMs,
      deadAfterMs,
      Math.max(deadAfterMs, opts.idleDeadAfterMs ?? 30_000),
      holdOptions(opts.hold, deadAfterMs),
    );
    this.membership.start();
    // A link's share of plain tasks (scheduler.ts linkFor): our own nodes' average tasks per CPU, O(1).
    this.scheduler.overdue = (n) => this.membership.overdue(n);
    this.scheduler.ownLoadPerCpu = () => {
      const t = this.membership.totals;
      return t.cpus > 0 ? t.load / t.cpus : Infinity;
    };
    this.inbox = new Inbox(
      this,
      () => this.stopped,
      (s, code) => this.onClose(s, code),
    );
    this.recovery = opts.shared
      ? { jobs: 0, tasksRequeued: 0, tasksFinished: 0, objects: 0 }
      : recover(this, opts.recoveryGraceMs ?? Math.min(10_000, this.jobGraceMs));
  }

  /** Sessions' frames, handled in order, a slice per turn. */
  private readonly inbox: Inbox;

  /** What a restart read back from the durable GCS. */
  readonly recovery: RecoveryReport;

  /** A frame arrived on a session. Bad frames close that session only. */
  onFrame(s: Session, data: FrameIn): void {
    traffic.frameIn(s.role === 'node', data.byteLength === 0);
    this.inbox.frame(s, data);
  }

  /** A session closed; `code` 1000 from a driver is a goodbye (its job ends now), anything else a drop. */
  onClose(s: Session, code = 1006): void {
    if (this.stopped || !this.sessions.has(s)) return;
    // What it sent before closing counts: its waiting frames are handled first (in later turns; then this runs again).
    if (this.inbox.closing(s, code)) {
      // Its socket is gone: nothing new is placed on a node meanwhile (its frames' `done`s make it look free; under
      // churn at 10,000 nodes, tasks placed on nodes that had left were lost again and again, past their retries).
      const n = s.role === 'node' ? this.membership.nodeOf(s) : undefined;
      if (n) this.scheduler.removeNode(n);
      return;
    }
    if (!this.sessions.delete(s)) return;
    this.jobs.drivers.delete(s);
    const job = s.role === 'driver' && s.jobId ? this.gcs.jobs.get(s.jobId) : undefined;
    if (job && job.driver === s && job.state === 'running' && code !== 1000) this.jobs.detach(s, job);
    s.closed = true;
    this.relay.dropSession(s);
    this.artifacts.dropSession(s);
    if (s.role === 'node') {
      const n = this.membership.nodeOf(s);
      if (n) this.membership.remove(n, 'connection closed');
    }
    const orphaned = this.dir.dropSession(s);
    for (const o of orphaned) {
      // A detached driver's large puts wait for it: it announces them again when it resumes.
      if (job && !job.driver && job.state === 'running' && o.job === job.id && isPutObject(o.id) && !this.artifacts.has(o.id)) continue;
      this.tasks.objectLost(o, `its only copy was on ${s.label}, which disconnected`);
    }
    if (s.role === 'driver' && s.jobId && this.gcs.jobs.get(s.jobId)?.driver === s) {
      const jobId = s.jobId;
      afterShortcuts(this.gcs.jobs.get(jobId), () => this.endJob(jobId, 'its driver closed the session'));
    }
  }

  /** Task groups, wired to the scheduler's pass, its nodes and the job end. */
  private startGroups(): GroupManager {
    const g = new GroupManager(
      this.gcs,
      this.dir,
      this.tasks,
      this.actors,
      () => this.scheduler.soon(),
      () => this.scheduler.index.size > 0,
      this.scheduler.index,
    );
    this.scheduler.groupPass = (deadline) => g.pass(deadline);
    g.placer.links = () => this.scheduler.links;
    g.placer.ownLoadPerCpu = () => this.scheduler.ownLoadPerCpu();
    g.placer.ownCpus = () => this.membership.totals.cpus;
    this.scheduler.onNode = (n, added) => (added ? g.addNode(n) : g.removeNode(n));
    this.ends.onJobEnd = (job, forget, owner) => g.endJob(job, forget, owner);
    return g;
  }

  private nodeLost(n: NodeRecord): void {
    this.trust.forget(n.id);
    this.leases.nodeLeft(n);
    this.scheduler.removeNode(n);
    this.groups?.nodeLost(n);
    this.ends.nodeLost(n);
  }

  endJob(jobId: JobRecord['id'], reason = 'it was ended'): void {
    this.jobs.end(jobId, reason);
  }

  /** The other coordinators on the same Redis (coordinator/mesh). */
  get mesh(): JobMesh | undefined {
    return this.jobs.mesh;
  }

  set mesh(m: JobMesh | undefined) {
    this.jobs.mesh = m;
  }

  /** One-time job credentials of detached jobs' drivers (the jobs table's). */
  get jobCredentials(): Map<string, JobCredential> {
    return this.jobs.credentials;
  }

  /** How long a job waits for its driver to come back after a dropped connection or a restart. */
  get jobGraceMs(): number {
    return this.jobs.graceMs;
  }

  /** Called once a job ends (its counts are final); the job runner keeps them with its record. */
  set onJobEnded(f: (job: JobRecord) => void) {
    this.jobs.onEnded = f;
  }

  node(id: NodeId): NodeRecord | undefined {
    return this.gcs.nodes.get(id);
  }

  private readonly moreStats: (() => Record<string, number>)[] = [];

  /** Adds counters of the process around the coordinator (the CLI's heap compactions) to /api/stats. */
  addStats(f: () => Record<string, number>): void {
    this.moreStats.push(f);
  }

  /** /api/stats: O(1) in nodes and sessions (coordinator/stats.ts). */
  statsJson(): Record<string, number> {
    return coordinatorStats(this, this.inbox, this.moreStats);
  }

  close(): void {
    this.stopped = true;
    this.scheduler.stop();
    this.handover.close();
    this.loop.stop();
    this.iceRefresh?.stop();
    this.membership.stop();
    this.relay.close();
    this.gcs.close();
  }
}
