// Taking a job over (issue 15): its driver came back to this coordinator (or
// the janitor found it abandoned) and its lease is free: the lease is claimed,
// the job's rows are read back from Redis as a restart would, and what our
// nodes held of it as a guest job is announced again under its own rows.
import type { JobId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import { functionsOf, recoverRows } from '../gcs/recovery.js';
import { guestCopies, type MovedHoldings } from './moved-holdings.js';
import type { PeerAgents } from './peer-agents.js';
import type { MeshRegistry } from './registry.js';

/** What a takeover reads and writes of the mesh (mesh.ts). */
export interface TakeoverMesh {
  /** This coordinator's mesh id. */
  readonly id: string;
  readonly registry: MeshRegistry;
  readonly held: MovedHoldings;
  readonly agents: PeerAgents;
  /** How long recovered objects wait for their holders (read when they are recovered). */
  graceMs(): number;
  /** The mesh is closing: nothing more is written. */
  closed(): boolean;
  /** Takes the job's lease (waiting for it to lapse); whether it is ours. */
  claim(job: JobId): Promise<boolean>;
}

/** Takes job `job` over once its lease is ours and reads its rows back; resolves either way. */
export async function takeOverJob(c: Coordinator, job: JobId, m: TakeoverMesh): Promise<void> {
  if (!(await m.claim(job))) return;
  const existing = c.gcs.jobs.get(job);
  if (existing && !existing.guest) return;
  // What our nodes hold of the guest job stays there: announced again under the job's own rows.
  m.held.keep(guestCopies(c, job));
  for (const a of m.agents.values()) a.dropJob(job);
  const rows = await m.registry.loadJob(job);
  if (m.closed()) return; // closed while Redis answered: nothing more is written
  // Only the job's functions are read: its own rows (recoverRows reads them), else rows written under no job by a
  // coordinator older than session 11 (its tasks placed here without them crashed the scheduler's assign).
  c.gcs.functionsRead(rows.functions.map(([, row]) => row));
  const missing = [...functionsOf(rows)].filter((id) => !c.gcs.functions.has(id));
  if (missing.length) {
    const fns = await m.registry.loadFunctions(missing);
    if (m.closed()) return;
    c.gcs.functionsRead(fns);
  }
  if (c.gcs.jobs.has(job)) return;
  const r = recoverRows(c, rows, m.graceMs());
  if (r.jobs === 0) return void m.registry.release(job);
  const kept = m.held.replay();
  if (kept > 0) c.gcs.event('holdings-kept', `job ${job}: ${kept} copies announced before the takeover are its objects' locations`, { job });
  c.gcs.event(
    'coordinator-recovered',
    `recovered ${r.jobs} running job(s), ${r.tasksRequeued} unfinished task(s) to run again, ${r.tasksFinished} finished, ${r.objects} object(s)`,
    {
      job,
    },
  );
  c.gcs.event('job-taken-over', `job ${job} taken over by coordinator ${m.id}`, { job });
}
