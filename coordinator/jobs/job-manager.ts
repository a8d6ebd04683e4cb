// The jobs table's manager (Ray's GcsJobManager): a driver session starts a
// job, a dropped driver detaches from it and may resume within the grace
// period, and a job ends once. Only this manager writes job records.
import { newJobId, randomHex, type FunctionId, type JobId, type ObjectId } from '../../shared/ids.js';
import type { ErrorCode } from '../../shared/errors.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import { sameSecret } from '../auth/tokens.js';
import type { Gcs } from '../gcs/gcs.js';
import { MAX_ENDED_JOBS, type JobRecord, type ObjectRecord, type TaskRecord } from '../gcs/tables.js';
import type { ArtifactRegistry } from '../objects/artifacts.js';
import type { ObjectDirectory } from '../objects/directory.js';
import type { TaskEnds } from '../scheduler/task-ends.js';
import type { Session } from '../session.js';
import { JobMembers } from './job-members.js';

/** A one-time credential for a detached job's driver (coordinator/jobs). */
export interface JobCredential {
  /** Run again under this job id (a job that was running when the coordinator stopped). */
  jobId?: JobRecord['id'];
  /** Learns the job id once the driver is in (called at once, before the job's `job-started` event). */
  connected: (jobId: JobRecord['id']) => void;
}

/** What the jobs table tells the mesh of coordinators (coordinator/mesh: leases of the jobs this one owns). */
export interface JobMesh {
  takeOver(job: JobId): Promise<unknown>;
  jobStarted(job: JobId): void;
  /** Its lease goes, unless the ended job hosts a live detached actor (then it goes with the last of them). */
  jobEnded(job: JobId): void;
  /** Whether this coordinator holds (or now took) the job's lease. */
  claim(job: JobId): Promise<boolean>;
  /** Asks Redis now whether this coordinator still holds the job's lease (renewing it if so). */
  stillOurs(job: JobId): Promise<boolean>;
  /** The coordinators of the mesh (GET /api/coordinators). */
  list(): unknown[];
  /** A job let go of: the copies our own nodes hold of it wait (bounded) for a takeover back here, else are freed after the wait. */
  keepCopies(job: JobId): void;
  /** A node announced copies the directory refused: those of jobs not taken over yet wait for it; returns the stale rest. */
  parkHoldings<H extends { id: ObjectId; size: number; hash: string }>(s: Session, refused: H[]): H[];
}

export type Refusal = { code: ErrorCode; message: string };

/** The `guest` mark of a job this coordinator let go of (another holds its lease): like a guest's, its rows are not written here. */
const LET_GO = 'let-go';

export class JobManager {
  /**
   * One-time job credentials (coordinator/jobs, issue 7): a detached job's driver
   * presents one instead of the driver token; the callback learns its job id.
   */
  readonly credentials = new Map<string, JobCredential>();
  /** Drivers' sessions, as they start or resume a job (coordinator.ts forgets a closed one): /api/stats counts without a walk. */
  readonly drivers = new Set<Session>();
  /** Called once a job ends (its counts are final); the job runner keeps them with its record. */
  onEnded: (job: JobRecord) => void = () => {};
  /** Functions that left the GCS with an ended job: the nodes holding them are told to forget them. */
  forgetFunctions: (fns: FunctionId[]) => void = () => {};
  /** The other coordinators on the same Redis, when there are (coordinator/mesh). */
  mesh: JobMesh | undefined;

  constructor(
    private readonly gcs: Gcs,
    private readonly dir: ObjectDirectory,
    private readonly ends: TaskEnds,
    private readonly artifacts: ArtifactRegistry,
    /** How long a job waits for its driver to come back after a dropped connection or a restart. */
    readonly graceMs: number,
    /** Whether the coordinator has shut down (a late grace timer must not touch a closed GCS). */
    private readonly stopped: () => boolean,
  ) {}

  get(id: JobId): Readonly<JobRecord> | undefined {
    return this.gcs.jobs.get(id);
  }

  /** A driver session starts a job (with a job credential, a submitted job's driver). */
  start(s: Session, namespace: string | undefined, credential: JobCredential | undefined, token: string | undefined): JobRecord | Refusal {
    // A submitted job run again after a restart keeps its id; recovery left no state under it.
    if (credential?.jobId && this.gcs.jobs.has(credential.jobId)) return { code: 'BAD_MESSAGE', message: `job ${credential.jobId} exists already` };
    s.role = 'driver';
    this.drivers.add(s);
    const job: JobRecord = {
      id: credential?.jobId ?? newJobId(),
      state: 'running',
      driver: s,
      startedAt: Date.now(),
      endedAt: 0,
      tasks: new JobMembers<TaskRecord>(),
      objects: new JobMembers<ObjectRecord>(),
      counts: { submitted: 0, finished: 0, failed: 0, cancelled: 0 },
      secret: randomHex(24),
      parked: null,
      graceTimer: null,
      submitted: !!credential,
      namespace,
    };
    s.jobId = job.id;
    this.gcs.jobs.set(job.id, job);
    this.gcs.persistJob(job);
    this.mesh?.jobStarted(job.id);
    // A submitted job's runner learns its id first: its `job-submitted` event comes before `job-started`.
    if (credential) {
      this.credentials.delete(token!);
      credential.connected(job.id);
    }
    this.gcs.event('job-started', `job ${job.id} started`, { job: job.id });
    return job;
  }

  /**
   * A driver comes back to its job (its connection dropped, or this
   * coordinator restarted). Its handles are set to exactly what it says it holds.
   */
  resume(s: Session, r: NonNullable<MsgOf<'hello'>['resume']>): JobRecord | Refusal {
    const job = this.gcs.jobs.get(r.jobId);
    if (!job || job.state !== 'running' || !sameSecret(r.secret, job.secret)) {
      return { code: 'UNAUTHORIZED', message: `job ${r.jobId} cannot be resumed (unknown, ended, or a wrong secret)` };
    }
    if (job.driver && !job.driver.closed) return { code: 'BAD_MESSAGE', message: `job ${r.jobId} has a connected driver` };
    s.role = 'driver';
    this.drivers.add(s);
    s.jobId = job.id;
    job.driver = s;
    if (job.graceTimer) clearTimeout(job.graceTimer);
    job.graceTimer = null;
    for (const id of r.held) this.dir.hold(s, id);
    const parked = job.parked;
    job.parked = null;
    if (parked) for (const [id, n] of parked) this.dir.decRef(id, n);
    this.gcs.event('job-resumed', `job ${job.id}: its driver is back (${r.held.length} handles)`, { job: job.id });
    return job;
  }

  /**
   * Another coordinator refused a task of this job as not run for us: it may
   * have taken the job over while we were paused past its lease. Whether the
   * lease is still ours; if not, the job is let go (nothing of it is failed here).
   */
  async leaseHeld(jobId: JobId): Promise<boolean> {
    if (!this.mesh) return true;
    const ours = await this.mesh.stillOurs(jobId).catch(() => true);
    if (!ours) this.letGo(jobId, 'another coordinator took its lease');
    return ours;
  }

  /**
   * Another coordinator of the mesh holds the job's lease now (this one paused
   * or was cut off past it, issue 15): the job's rows are the new owner's. Its
   * records are forgotten here without ending anything on the nodes (no
   * cancel, free or actor kill, no row, no job-ended hook): the new owner
   * decides what runs on. Its driver, if still here, is sent away to resume it
   * where it lives now.
   */
  letGo(jobId: JobId, why: string): void {
    const job = this.gcs.jobs.get(jobId);
    if (!job || job.state !== 'running' || job.guest) return;
    const driver = job.driver;
    const open = driver !== null && !driver.closed;
    if (driver) {
      // Its driver is done here, as after Session.fail: nothing more goes to it (the job's objects freed below are not
      // "freed" to a driver that resumes them elsewhere) and its frames still waiting in the inbox are not handled.
      driver.outbox.flush();
      driver.closed = true;
    }
    job.guest = LET_GO;
    this.gcs.event('job-let-go', `job ${jobId}: ${why}; it goes on at the coordinator holding its lease`, { job: jobId });
    this.mesh?.keepCopies(jobId);
    if (job.graceTimer) clearTimeout(job.graceTimer);
    job.graceTimer = null;
    job.state = 'finished';
    job.endedAt = Date.now();
    job.endReason = why;
    job.driver = null;
    this.ends.endJob(jobId, true);
    this.artifacts.jobEnded(jobId);
    // Handles the driver left parked: the job's own objects are gone already (detached first); others count down.
    if (job.parked) for (const [id, n] of job.parked) this.dir.decRef(id, n);
    job.parked = null;
    // So do the handles of a driver still here. Left on its session, they were released when its close was handled,
    // by id: onto the new owner's guest records of the same tasks if it had placed them here by then (their outputs
    // freed as they ended, reported OBJECT_LOST; test/unit/let-go-handles.test.ts).
    if (driver) {
      for (const [id, n] of driver.held) this.dir.decRef(id, n);
      driver.held.clear();
    }
    this.gcs.jobs.delete(jobId);
    // 1012 (service restart): the driver reconnects, to the next coordinator of its list first.
    if (open) driver.ws.close(1012, 'job moved to another coordinator');
  }

  /** A running job read back after a restart: it waits for its driver to resume it. */
  recovered(row: Pick<JobRecord, 'id' | 'startedAt' | 'counts' | 'gone' | 'secret' | 'namespace'>): void {
    const job: JobRecord = {
      ...row,
      state: 'running',
      driver: null,
      endedAt: 0,
      tasks: new JobMembers<TaskRecord>(),
      objects: new JobMembers<ObjectRecord>(),
      parked: null,
      graceTimer: null,
      recovered: true,
    };
    this.gcs.jobs.set(job.id, job);
    this.awaitDriver(job, `its driver did not come back within ${this.graceMs} ms of a coordinator restart`);
  }

  /** An ended driver session read back after a restart (issue 11: its history). */
  recoveredEnded(row: Pick<JobRecord, 'id' | 'startedAt' | 'endedAt' | 'counts' | 'firstError' | 'endReason' | 'namespace'>): void {
    this.gcs.jobs.set(row.id, {
      ...row,
      state: 'finished',
      driver: null,
      tasks: new JobMembers(),
      objects: new JobMembers(),
      secret: '',
      parked: null,
      graceTimer: null,
    });
  }

  /** A driver's connection dropped without a goodbye: its job waits for it a while. */
  detach(s: Session, job: JobRecord): void {
    job.driver = null;
    job.parked = new Map(s.held);
    s.held.clear(); // parked: not released until the job resumes or ends
    this.gcs.event('job-detached', `job ${job.id}: its driver's connection dropped; waiting ${this.graceMs} ms for it`, { job: job.id });
    this.awaitDriver(job, `its driver's connection dropped and it did not come back within ${this.graceMs} ms`);
  }

  /**
   * A recovery hold on object `id` of job `jobId` ends (coordinator/gcs/recovery.ts) while the job waits for its
   * driver: parked as the handles of a driver whose connection dropped are, until it resumes (its hello says what it
   * holds) or the job ends. Released now, the job's finished tasks were freed while their owner was away, and the
   * owner, back, sent them again as new tasks: each counted twice in its job. False (nothing parked) when the job
   * has its driver, ended, or is not this coordinator's.
   */
  parkRecoveryHold(jobId: JobId, id: ObjectId): boolean {
    const job = this.gcs.jobs.get(jobId);
    if (!job || job.state !== 'running' || job.driver || job.guest || job.submitted) return false;
    const parked = (job.parked ??= new Map());
    parked.set(id, (parked.get(id) ?? 0) + 1);
    return true;
  }

  /** Ends the job unless its driver comes back within the grace period. */
  private awaitDriver(job: JobRecord, reason: string): void {
    job.graceTimer = setTimeout(() => {
      job.graceTimer = null;
      if (!job.driver) this.end(job.id, reason);
    }, this.graceMs);
    job.graceTimer.unref?.();
  }

  end(jobId: JobId, reason = 'it was ended'): void {
    // Not after close: the GCS is closed, and a job still running at the stop runs again at the next start (a
    // submitted job's launch finishing as the server stops, a mesh janitor's sweep, a cancel's answer in flight).
    if (this.stopped()) return;
    const job = this.gcs.jobs.get(jobId);
    if (!job || job.state !== 'running') return;
    job.endReason = reason;
    if (job.graceTimer) clearTimeout(job.graceTimer);
    job.graceTimer = null;
    if (job.parked) for (const [id, n] of job.parked) this.dir.decRef(id, n);
    job.parked = null;
    job.state = 'finished';
    job.endedAt = Date.now();
    // Its driver may stay connected (DELETE /api/jobs/:id of a driver's job): its task groups' members are told to it.
    const owner = job.driver;
    job.driver = null;
    this.ends.endJob(jobId, false, owner);
    // After its end: a job that hosts a live detached actor keeps its lease (coordinator/mesh/detached-actors.ts).
    if (!job.guest) this.mesh?.jobEnded(jobId);
    this.artifacts.jobEnded(jobId);
    this.gcs.persistJob(job);
    const dropped = this.gcs.dropJobFunctions(job);
    if (dropped.length > 0) this.forgetFunctions(dropped);
    this.onEnded(job);
    this.gcs.event('job-ended', `job ${jobId} ended: ${job.counts.finished} finished, ${job.counts.failed} failed, ${job.counts.cancelled} cancelled`, {
      job: jobId,
    });
    // Finished jobs keep a summary row in memory and in the durable GCS; bound how many.
    if (this.gcs.jobs.size > MAX_ENDED_JOBS) {
      for (const [id, j] of this.gcs.jobs) {
        if (this.gcs.jobs.size <= MAX_ENDED_JOBS) break;
        // An ended job's tasks still on record are its live detached actors' creations: its row is theirs to restart with.
        if (j.state !== 'finished' || j.tasks.size > 0) continue;
        this.gcs.jobs.delete(id);
        this.gcs.storage.delete('jobs', id, id);
      }
    }
  }
}
