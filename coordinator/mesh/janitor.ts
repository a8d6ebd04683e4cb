// Running jobs nobody runs (issue 15): a job whose coordinator died and whose
// driver never resumed anywhere keeps a `running` row and its tasks and
// objects in Redis, with no lease. Every coordinator of the mesh looks for
// such jobs now and then; one whose lease stayed free for the job grace (the
// time a driver has to come back) is taken over by the first coordinator to
// claim its lease, and ended as a job whose driver did not come back: its
// rows are freed as any ended job's.
import type { Coordinator } from '../coordinator.js';
import type { MeshRegistry } from './registry.js';

export class JobJanitor {
  /** Jobs seen without a lease, and since when (by our clock). */
  private readonly unleased = new Map<string, number>();
  private running = false;

  constructor(
    private readonly c: Coordinator,
    private readonly registry: MeshRegistry,
    /** Takes a job over (its lease, then its rows read back); resolves either way. */
    private readonly takeOver: (job: string) => Promise<void>,
  ) {}

  /** How often to look: often enough to end an abandoned job soon after its grace. */
  get everyMs(): number {
    return Math.max(500, Math.min(10_000, this.c.jobGraceMs / 2));
  }

  async sweep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = Date.now();
      const found = new Set(await this.registry.unleasedJobs());
      for (const job of this.unleased.keys()) if (!found.has(job)) this.unleased.delete(job);
      for (const job of found) {
        const since = this.unleased.get(job);
        if (since === undefined) this.unleased.set(job, now);
        else if (now - since >= this.c.jobGraceMs) await this.end(job);
      }
    } finally {
      this.running = false;
    }
  }

  private async end(job: string): Promise<void> {
    this.unleased.delete(job);
    if (this.c.gcs.jobs.get(job as never)?.state === 'running') return; // ours already (its driver resumed here)
    await this.takeOver(job);
    const j = this.c.gcs.jobs.get(job as never);
    if (!j || j.state !== 'running' || j.driver) return;
    this.c.gcs.event(
      'job-abandoned',
      `job ${job}: its coordinator is gone and its driver did not come back to any coordinator within ${this.c.jobGraceMs} ms`,
      {
        job,
      },
    );
    this.c.endJob(j.id, `its coordinator is gone and its driver did not come back within ${this.c.jobGraceMs} ms`);
  }
}
