// Rows of the state API that a mesh's coordinators exchange (issue 15): a
// node's and a job's row as /api/nodes and /api/jobs list them, the rows this
// coordinator provides when another one asks (coordinator/mesh/mesh-view.ts),
// and the merged page of the whole mesh.
import type { FastifyReply } from 'fastify';
import type { JobId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import type { JobRecord, NodeRecord } from '../gcs/tables.js';
import { ENDED, type JobRunner, type SubmittedJob } from '../jobs/runner.js';
import { MAX_VIEW_ROWS, meshViewOf, mergePages, provideView, type ViewPage, type ViewQuery, type ViewRow } from '../mesh/mesh-view.js';
import type { Listed, Lists } from './lists.js';
import type { Query } from './schemas.js';

export const MAX_LIMIT = 1000;

export function jobStatus(j: JobRecord | undefined, s: SubmittedJob | undefined): string {
  return s ? s.status : (j?.state ?? 'finished');
}

export type Rows = ReturnType<typeof rowsOf>;

/** The row builders of one coordinator's state API. */
export function rowsOf(c: Coordinator, runner: JobRunner) {
  const { gcs } = c;
  const jobSummary = (id: JobId) => {
    const j = gcs.jobs.get(id);
    const s = runner.jobs.get(id);
    const counts = j?.counts ?? s?.counts ?? { submitted: 0, finished: 0, failed: 0, cancelled: 0 };
    let running = 0;
    // Only tasks an executor runs: an assigned task may still wait for its arguments or a free slot on its node.
    if (j?.state === 'running') for (const t of j.tasks) if (t.state === 'running') running++;
    // Task groups' members (coordinator/groups): those on nodes, up to each node's CPUs.
    if (j?.state === 'running' && c.groups) running += c.groups.runningOf(j);
    // A submitted job counts from its submission (kept in its durable record, unlike the GCS job's start).
    const startedAt = s?.submittedAt ?? j?.startedAt ?? 0;
    const endedAt = s ? s.endedAt : (j?.endedAt ?? 0);
    return {
      id,
      name: s?.name ?? 'driver',
      kind: s ? 'submitted' : 'driver',
      status: jobStatus(j, s),
      progress: {
        total: counts.submitted,
        done: counts.finished,
        failed: counts.failed,
        cancelled: counts.cancelled,
        running,
        fraction: counts.submitted ? (counts.finished + counts.failed + counts.cancelled) / counts.submitted : s && ENDED.has(s.status) ? 1 : 0,
      },
      startedAt,
      endedAt,
      durationMs: startedAt ? (endedAt || Date.now()) - startedAt : 0,
    };
  };
  const allJobIds = (): JobId[] => {
    const ids = new Map<JobId, number>();
    for (const j of gcs.jobs.values()) ids.set(j.id, j.startedAt);
    for (const s of runner.jobs.values()) if (!ids.has(s.id)) ids.set(s.id, s.submittedAt);
    return [...ids].sort((a, b) => b[1] - a[1]).map(([id]) => id);
  };
  const nodeRow = (n: NodeRecord) => ({
    id: n.id,
    kind: n.kind,
    name: n.name,
    resources: n.resources,
    inflightTasks: n.inflightTasks,
    load: { ...n.load }, // a copy: membership writes the record's in place
    tasksDone: n.tasksDone,
    joinedAt: n.joinedAt,
    lastSeen: n.lastSeen,
    /** Held (coordinator/nodes/hold.ts): silent with many others, not lost yet; takes no new work. */
    state: n.heldSince !== undefined ? ('held' as const) : ('alive' as const),
    /** Issue 8: verified results agreed and disagreed, offences, and the level they give. */
    trust: c.trust.view(n.id),
  });
  return { jobSummary, allJobIds, nodeRow };
}

/** Rows the other coordinators of a mesh ask for (issue 15): our own nodes (not their links to us), our own jobs (not guests). */
export function provideRows(c: Coordinator, { jobSummary, allJobIds, nodeRow }: Rows, lists: Lists): void {
  const { gcs } = c;
  provideView(c, 'nodes', (q) => {
    const rows = [];
    let total = 0;
    for (const n of gcs.nodes.values()) {
      if (n.link !== undefined || (q.kind && n.kind !== q.kind)) continue;
      if (rows.length < q.take) rows.push(nodeRow(n));
      total++;
    }
    return { total, rows };
  });
  provideView(c, 'jobs', (q) => {
    const rows = allJobIds()
      .filter((id) => !gcs.jobs.get(id)?.guest)
      .map(jobSummary)
      .filter((j) => (!q.status || j.status === q.status) && (!q.kind || j.kind === q.kind));
    return { total: rows.length, rows: rows.slice(0, q.take) };
  });
  // Tasks, objects and actors of our own jobs (a guest job's are its owner's to list), live then recently ended.
  const view = (p: Listed<object>): ViewPage => ({ total: p.total, rows: p.rows as ViewRow[] });
  provideView(c, 'tasks', (q) => view(lists.tasks(q, 0, q.take)));
  provideView(c, 'objects', (q) => view(lists.objects(q, 0, q.take)));
  provideView(c, 'actors', (q) => view(lists.actors(q, 0, q.take)));
}

/** The whole mesh's page (every coordinator's rows), or null when this coordinator is alone. */
export async function meshPage(
  c: Coordinator,
  reply: FastifyReply,
  q: Query,
  vq: Omit<ViewQuery, 'take'>,
  order?: (a: Record<string, unknown>, b: Record<string, unknown>) => number,
) {
  const view = meshViewOf(c);
  if (!view) return null;
  const limit = Math.min(MAX_LIMIT, Number(q.limit ?? 100));
  const offset = Number(q.offset ?? 0);
  const g = await view.gather({ ...vq, take: offset + limit });
  const p = mergePages(g, offset, limit, order);
  void reply.header('x-total-count', String(p.total));
  if (g.missing.length) void reply.header('x-mesh-missing', g.missing.join(','));
  // Each coordinator sends its first MAX_VIEW_ROWS rows at most: a page past them is cut short, and says so (issue 15).
  if (offset + limit > MAX_VIEW_ROWS && g.pages.some((x) => x.page.total > MAX_VIEW_ROWS)) void reply.header('x-mesh-bound', String(MAX_VIEW_ROWS));
  return p.rows;
}
