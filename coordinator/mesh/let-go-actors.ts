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

/**
 * Plain tasks of a job let go of, running (or queued) on our own nodes when it
 * was let go. The new owner reads them back as their next attempt and places
 * them at once; one it placed on the same node through us is a guest task here
 * assigned to that node, whose run the node took over or restarted. Once its
 * grace has passed, a run our node still holds under no such record is stale:
 * its report is ignored, so it is cancelled (cooperatively: a run busy in its
 * own code is not stopped; no executor is killed for it). Every assign and
 * cancel to a node goes through us in order, so the new owner's run of the
 * task is never the one cancelled. Actor tasks are not touched.
 */
export function stopLetGoRuns(c: Coordinator, job: JobId, graceMs: number): void {
  const runs: [TaskId, NodeRecord][] = [];
  for (const t of c.gcs.jobs.get(job)?.tasks ?? []) {
    const n = t.node;
    if (n && n.link === undefined && !t.spec.actor && (t.state === 'assigned' || t.state === 'running')) runs.push([t.spec.taskId, n]);
  }
  if (runs.length === 0) return;
  const timer = setTimeout(() => {
    const back = c.gcs.jobs.get(job);
    if (back && !back.guest) return; // ours again: its tasks are ours to run
    let stopped = 0;
    for (const [id, n] of runs) {
      if (c.gcs.nodes.get(n.id) !== n || c.gcs.tasks.get(id)?.node === n) continue; // gone, or running there for the new owner
      n.session.send({ t: 'cancelTask', taskId: id, force: false });
      stopped++;
    }
    if (stopped > 0) c.gcs.event('runs-let-go-cancelled', `job ${job}: ${stopped} run(s) our nodes held past the new owner's grace cancelled`, { job });
  }, graceMs + MARGIN_MS);
  timer.unref?.();
}
