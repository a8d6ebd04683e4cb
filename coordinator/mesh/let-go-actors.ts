// Actors of a job let go of (issue 15) that live on our own nodes. The new
// owner waits for their hosts within its grace; a host still attached here
// cannot join it meanwhile, so once that grace has passed the new owner has
// restarted the actor elsewhere or declared it dead, and the copy here only
// holds an executor. It is stopped then, unless the job came back to us.
import type { JobId, TaskId } from '../../shared/ids.js';
import type { NodeRecord } from '../gcs/tables.js';
import type { Coordinator } from '../coordinator.js';

/** After the new owner's grace, a little more: its decision comes first. */
const MARGIN_MS = 2000;

export function stopLetGoActors(c: Coordinator, job: JobId, graceMs: number): void {
  const kept: [TaskId, NodeRecord][] = [];
  for (const a of c.actors.list()) if (a.job === job && a.state === 'alive' && a.node && a.node.link === undefined) kept.push([a.id, a.node]);
  if (kept.length === 0) return;
  const timer = setTimeout(() => {
    for (const [id, n] of kept) {
      // Gone from here (its node moved to the owner) or ours again (the job came back): nothing to stop.
      if (c.gcs.nodes.get(n.id) !== n || c.actors.has(id)) continue;
      n.session.send({ t: 'killActor', id });
      c.gcs.event('actor-let-go-stopped', `actor ${id.slice(0, 12)} of job ${job}: its node stayed here past the new owner's grace; its copy is stopped`, {
        job,
        node: n.id,
        task: id,
      });
    }
  }, graceMs + MARGIN_MS);
  timer.unref?.();
}
