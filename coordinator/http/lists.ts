// The offset pages of /api/tasks, /api/objects and /api/actors on one
// coordinator: live records then the ones that ended a short while ago,
// filtered on the records, made into rows only when in the page. The same
// lists answer another coordinator of the mesh asking for our rows (issue
// 15), so a guest job's records (run here for their owner) are left to the
// owner's list.
import type { JobId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import type { EndedRecords } from '../dashboard/recent.js';
import { viewOf, type TaskHistory, type TaskView } from '../dashboard/task-history.js';
import type { TaskRecord } from '../gcs/tables.js';
import { actorView, objectView } from './views.js';

export interface Listed<T> {
  /** How many match. */
  total: number;
  rows: T[];
}

/**
 * One page of `items`. `size`: how many there are when nothing is filtered
 * out; the walk then stops at the page's end instead of counting them all
 * (issue 14: a page of 10,000 nodes costs its page, not the mesh).
 */
export function pageOf<T>(items: Iterable<T>, keep: ((x: T) => boolean) | null, offset: number, limit: number, size?: number): Listed<T> {
  const rows: T[] = [];
  let total = 0;
  for (const x of items) {
    if (keep && !keep(x)) continue;
    if (total >= offset && rows.length < limit) rows.push(x);
    total++;
    if (!keep && size !== undefined && rows.length >= limit) break;
  }
  return { total: !keep && size !== undefined ? size : total, rows };
}

export type Lists = ReturnType<typeof listsOf>;

/** The filters of the lists (a state API query, or another coordinator's question). */
export type ListQuery = Partial<Record<'job' | 'state' | 'node' | 'name' | 'minSize', string>>;

export function listsOf(c: Coordinator, history: TaskHistory, ended: EndedRecords) {
  const { gcs } = c;
  const own = (job: JobId) => !gcs.jobs.get(job)?.guest;
  // Live tasks are filtered on their records and turned into views only when in the page (no view per task per request).
  const tasksOf = (q: ListQuery): Iterable<TaskView | TaskRecord> => {
    if (q.job) return history.tasksOf(q.job as JobId).tasks;
    return (function* () {
      yield* gcs.tasks.values();
      // Task groups' members not ended (coordinator/groups): not task records, live as the tasks above are.
      yield* history.liveMembers();
      // Then what ended, the most recent first: tasks that left and group members (one made an ordinary task since is
      // listed as that task, above).
      for (const t of ended.tasks.list()) if (!gcs.tasks.has(t.id)) yield t;
    })();
  };
  const isView = (t: TaskView | TaskRecord): t is TaskView => !('spec' in t);
  const taskState = (t: TaskView | TaskRecord): string => (isView(t) ? t.state : t.state === 'queued' && t.infeasible ? 'infeasible' : t.state);

  const tasks = (q: ListQuery, offset: number, limit: number): Listed<TaskView> => {
    // In a mesh every row is checked for a guest job's; alone, an unfiltered page stops at its end.
    const filtered = q.state || q.node || q.name || c.meshId !== undefined;
    const keep = filtered
      ? (t: TaskView | TaskRecord) =>
          (!q.state || taskState(t) === q.state) &&
          (!q.node || (isView(t) ? t.node : t.ranOn) === q.node) &&
          (!q.name || (isView(t) ? t.name : t.spec.name).includes(q.name)) &&
          own(isView(t) ? t.job : t.spec.jobId)
      : null;
    const p = pageOf(tasksOf(q), keep, offset, limit, q.job ? undefined : gcs.tasks.size + history.liveMemberCount + ended.tasks.size);
    return { total: p.total, rows: p.rows.map((t) => (isView(t) ? t : viewOf(t))) };
  };

  const objects = (q: ListQuery, offset: number, limit: number): Listed<ReturnType<typeof objectView>> => {
    const minSize = Number(q.minSize ?? 0) || 0;
    const job = q.job ? gcs.jobs.get(q.job as JobId) : undefined;
    const all = (function* () {
      // A job's live objects from its own index (not a walk of every object); views made only for those that match.
      if (q.job) {
        if (job) for (const o of job.objects) yield gcs.objects.get(o.id) ?? null;
      } else yield* gcs.objects.values();
    })();
    const keep = (o: { job: JobId; state: string; size: number }) => (!q.state || o.state === q.state) && o.size >= minSize && (!q.job || o.job === q.job);
    const live = pageOf(all, (o) => o !== null && keep(o) && own(o.job), offset, limit);
    const freed = pageOf(
      ended.objects.list(),
      (o) => !gcs.objects.has(o.id) && keep(o) && own(o.job),
      Math.max(0, offset - live.total),
      limit - live.rows.length,
    );
    return { total: live.total + freed.total, rows: [...live.rows.map((o) => objectView(o!)), ...freed.rows] };
  };

  const actors = (q: ListQuery, offset: number, limit: number): Listed<ReturnType<typeof actorView>> => {
    const live = c.actors;
    const all = (function* () {
      for (const a of live.list()) if (own(a.job)) yield actorView(a);
      for (const a of ended.actors.list()) if (!live.has(a.id) && own(a.job)) yield a;
    })();
    return pageOf(all, (a) => (!q.state || a.state === q.state) && (!q.job || a.job === q.job) && (!q.name || (a.name ?? '').includes(q.name)), offset, limit);
  };

  return { tasks, objects, actors };
}
