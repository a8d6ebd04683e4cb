// Detached actors of ended jobs at a coordinator restart (Ray: a detached
// actor outlives its job until killed). When its job ends, a detached actor's
// rows stay (its creation task and object, its constructor's arguments, its
// host row, its class's function row: task-ends.ts endJob, gcs.ts
// dropJobFunctions); recovery reads those back under the ended job, which is
// kept for them, and drops the job's other rows as before.
import { Packr } from 'msgpackr';
import type { JobId, ObjectId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import { ActorManager } from '../actors/actors.js';
import type { ActorRow } from '../actors/handover.js';
import { depsOf } from '../lineage/lineage.js';
import type { JobManager } from '../jobs/job-manager.js';
import type { JobRecord } from './tables.js';

const rowPackr = new Packr({ useRecords: false, mapsAsObjects: true });

/** An ended job's row (recovery.ts JobRow). */
export type EndedJobRow = Pick<JobRecord, 'id' | 'startedAt' | 'endedAt' | 'counts' | 'namespace'> & {
  firstError?: JobRecord['firstError'];
  endReason?: string;
};

/** What of ended jobs is read back: those jobs, their detached actors' creation tasks, and the objects those need. */
export interface Outliving {
  jobs: Set<JobId>;
  tasks: Set<string>;
  objects: Set<ObjectId>;
}

/**
 * The ended jobs that host a live detached actor (an actor row: a dead
 * actor's row goes), recovered as ended jobs now, before their tasks and objects are read.
 */
export function outlivingActors(jobs: JobManager, ended: EndedJobRow[], actors: ActorRow[], tasks: Iterable<[string, Uint8Array]>): Outliving {
  const out: Outliving = { jobs: new Set(), tasks: new Set(), objects: new Set() };
  const endedById = new Map(ended.map((j) => [j.id, j]));
  const hosted = new Set<string>();
  for (const r of actors) if (endedById.has(r.job as JobId)) hosted.add(r.id);
  if (hosted.size === 0) return out;
  for (const [key, row] of tasks) {
    if (!hosted.has(key)) continue;
    const spec = (rowPackr.unpack(row) as { spec: TaskSpec }).spec;
    if (spec.actor?.kind !== 'create' || !spec.actor.detached) continue;
    out.tasks.add(key);
    out.objects.add(ActorManager.creationObject(spec.taskId));
    for (const id of [...depsOf(spec), ...spec.nested]) out.objects.add(id);
    if (out.jobs.has(spec.jobId)) continue;
    out.jobs.add(spec.jobId);
    const j = endedById.get(spec.jobId)!;
    jobs.recoveredEnded({
      id: j.id,
      startedAt: j.startedAt,
      endedAt: j.endedAt,
      counts: j.counts,
      firstError: j.firstError ?? null,
      endReason: j.endReason || undefined,
      namespace: j.namespace,
    });
  }
  return out;
}
