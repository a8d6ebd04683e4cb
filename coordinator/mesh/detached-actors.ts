// Detached actors of ended jobs on a shared GCS (issue 6, session 29). A
// coordinator on Redis reads a job's rows only when it takes the job over (a
// driver resumes it, or the janitor ends it), so after a restart nobody read
// back a detached actor whose job had ended: its node's claim went unanswered
// and the actor was stopped. Now the ended job's lease stays with the
// coordinator hosting its live detached actors (mesh.ts leasedJobs), and the
// actor -> job relation is a row of its own (gcs.persistDetached): a
// coordinator finds those jobs with one read, and adopts one whose lease is
// free by taking the lease first (the lease makes exactly one coordinator
// adopt it), then reading the job's rows back as a restart does
// (recoverRows with its detached actors, recovery-detached.ts).
import { Packr } from 'msgpackr';
import type { JobId, TaskId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import { functionsOf, recoverRows } from '../gcs/recovery.js';
import type { JobRecord } from '../gcs/tables.js';
import type { MeshRegistry } from './registry.js';

const rowPackr = new Packr({ useRecords: false, mapsAsObjects: true });

/** The job leases as the mesh takes them (mesh.ts). */
export interface AdoptionLeases {
  /** Takes (or renews) the job's lease once: whether it is ours now. */
  stillOurs(job: JobId): Promise<boolean>;
  /** Takes it, waiting for it to lapse if another coordinator holds it: whether it is ours. */
  claim(job: JobId): Promise<boolean>;
  /** How long recovered actors and objects wait for their holders. */
  readonly graceMs: number;
  readonly closed: boolean;
}

export class DetachedAdoption {
  /** Jobs being adopted now (a sweep and a node's claim may ask at once). */
  private readonly adopting = new Set<string>();
  /** Ended jobs with detached actors seen with a free lease, and since when (by our clock). */
  private readonly unleased = new Map<string, number>();
  /** Ended jobs whose leases we held at the last beat for their detached actors. */
  private held = new Set<JobId>();

  constructor(
    private readonly c: Coordinator,
    private readonly registry: MeshRegistry,
    private readonly leases: AdoptionLeases,
  ) {}

  /**
   * Our ended jobs that host a live detached actor (only those actors' creations stay on record: task-ends.ts endJob):
   * their leases stay ours, renewed with the running jobs'. The lease of one whose last such actor died goes now.
   */
  leased(): JobId[] {
    const now = new Set<JobId>();
    for (const j of this.c.gcs.jobs.values()) if (hosts(j)) now.add(j.id);
    for (const job of this.held) if (!now.has(job) && !this.adopting.has(job)) void this.registry.release(job).catch(() => {});
    this.held = now;
    return [...now];
  }

  /** Whether an ended job keeps its lease (mesh.ts jobEnded). */
  hosts(job: JobId): boolean {
    const j = this.c.gcs.jobs.get(job);
    return j !== undefined && hosts(j);
  }

  /**
   * Ended jobs on record with a detached actor whose lease nobody held for a job grace: adopted here. The coordinator
   * the actor's node joins adopts it at once (hosted); this is for a host that never comes back (the adopter's grace
   * then restarts the actor elsewhere or lets it die, and its records go), as the janitor does for running jobs.
   */
  async sweep(): Promise<void> {
    const records = await this.registry.detachedActors();
    const jobs = new Set(records.values());
    for (const job of this.unleased.keys()) if (!jobs.has(job)) this.unleased.delete(job);
    for (const job of jobs) {
      if (this.leases.closed) return;
      if (this.c.gcs.jobs.has(job as JobId) || (await this.registry.owner(job)) !== null) {
        this.unleased.delete(job);
        continue;
      }
      const since = this.unleased.get(job);
      if (since === undefined) this.unleased.set(job, Date.now());
      else if (Date.now() - since >= this.c.jobGraceMs) {
        this.unleased.delete(job);
        await this.adopt(job as JobId, records, false);
      }
    }
  }

  /**
   * A node joined hosting actor `id`, unknown here: if it is a detached actor of an ended job, that job is adopted
   * here once its lease is free (the coordinator that hosted it may look alive for a beat or two).
   */
  async hosted(id: TaskId): Promise<void> {
    const records = await this.registry.detachedActors(id);
    const job = records.get(id) as JobId | undefined;
    if (job && !this.c.gcs.jobs.has(job)) await this.adopt(job, records, true);
  }

  private async adopt(job: JobId, records: ReadonlyMap<string, string>, wait: boolean): Promise<void> {
    if (this.adopting.has(job)) return;
    this.adopting.add(job);
    try {
      await this.adoptNow(job, records, wait);
    } finally {
      this.adopting.delete(job);
    }
  }

  private async adoptNow(job: JobId, records: ReadonlyMap<string, string>, wait: boolean): Promise<void> {
    const { c } = this;
    if (!(await (wait ? this.leases.claim(job) : this.leases.stillOurs(job)))) return; // another adopts it
    if (c.gcs.jobs.has(job) || this.leases.closed) return;
    const rows = await this.registry.loadJob(job);
    if (c.gcs.jobs.has(job) || this.leases.closed) return;
    if (ended(rows.jobs, job) && rows.actors.length > 0) {
      c.gcs.functionsRead(rows.functions.map(([, row]) => row));
      const missing = [...functionsOf(rows)].filter((id) => !c.gcs.functions.has(id));
      if (missing.length) c.gcs.functionsRead(await this.registry.loadFunctions(missing));
      if (c.gcs.jobs.has(job) || this.leases.closed) return;
      recoverRows(c, rows, this.leases.graceMs, true);
    }
    // Records of actors not read back are stale (the actor died, or its job's rows are gone): they go.
    for (const [actor, of] of records) if (of === job && !c.actors.has(actor as TaskId)) c.gcs.dropDetached(actor as TaskId);
    const j = c.gcs.jobs.get(job);
    if (!j || j.tasks.size === 0) {
      await this.registry.release(job);
      return;
    }
    c.gcs.event('detached-adopted', `job ${job} (ended): its detached actors are this coordinator's now (coordinator ${this.registry.id})`, { job });
  }
}

function hosts(j: JobRecord): boolean {
  return j.state !== 'running' && !j.guest && j.tasks.size > 0;
}

/** Whether the job's stored row says it ended (a running job is taken over by its driver's resume, not here). */
function ended(jobs: [string, Uint8Array][], job: string): boolean {
  const row = jobs.find(([k]) => k === job)?.[1];
  if (!row) return false;
  try {
    return (rowPackr.unpack(row) as { state?: unknown } | null)?.state === 'finished';
  } catch {
    return false;
  }
}
