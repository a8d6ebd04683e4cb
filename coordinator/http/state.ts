// The state API (issue 7): JSON, paged (`limit`, `offset`; the total in the
// X-Total-Count header) and filterable. In a mesh of coordinators /api/nodes
// and /api/jobs list every coordinator's rows (coordinator/mesh/mesh-view.ts). Lists are arrays, as /api/nodes and
// /api/events always were. Reading takes a viewer or driver token; submitting
// and cancelling jobs the driver token.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { JobId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import type { EndedRecords } from '../dashboard/recent.js';
import type { TaskHistory } from '../dashboard/task-history.js';
import type { NodeRecord } from '../gcs/tables.js';
import { JobError, type JobRunner } from '../jobs/runner.js';
import type { JobRuntimeEnv } from '../jobs/env.js';
import type { Access } from './access.js';
import { chromeTrace, layoutTimeline } from './trace.js';
import { listsOf, pageOf, type Listed } from './lists.js';
import { httpError } from './errors.js';
import { schemas, type Query } from './schemas.js';
import { taskPage } from './task-pages.js';
import { jobStatus, MAX_LIMIT, meshPage, provideRows, rowsOf } from './mesh-rows.js';
import { groupRow } from '../groups/group-record.js';

const JOB_ID = /^[0-9a-f]{16}$/;

/**
 * One page of `items`. `size`: how many there are when nothing is filtered
 * out; the walk then stops at the page's end instead of counting them all
 * (issue 14: a page of 10,000 nodes costs its page, not the mesh).
 */
function page<T>(reply: FastifyReply, q: Query, items: Iterable<T>, keep: ((x: T) => boolean) | null = null, size?: number): T[] {
  return listed(reply, q, (_, offset, limit) => pageOf(items, keep, offset, limit, size));
}

/** A list's page by `offset` and `limit`, its total in X-Total-Count; rows say their coordinator (null when alone). */
function listed<T>(reply: FastifyReply, q: Query, list: (q: Query, offset: number, limit: number) => Listed<T>): T[] {
  const p = list(q, Number(q.offset ?? 0), Math.min(MAX_LIMIT, Number(q.limit ?? 100)));
  void reply.header('x-total-count', String(p.total));
  return p.rows;
}

export interface StateDeps {
  c: Coordinator;
  access: Access;
  runner: JobRunner;
  history: TaskHistory;
  /** Tasks, objects and actors that left the GCS a short while ago: listed after the live ones. */
  ended: EndedRecords;
}

export function registerState(app: FastifyInstance, { c, access, runner, history, ended }: StateDeps): void {
  const read = (schema: object) => ({ onRequest: access.read, schema });
  const write = (schema: object) => ({ onRequest: access.write, schema });
  const { gcs } = c;

  const rows = rowsOf(c, runner);
  const { jobSummary, allJobIds, nodeRow } = rows;
  const known = (id: string): id is JobId => JOB_ID.test(id) && (gcs.jobs.has(id as JobId) || runner.jobs.has(id as JobId));

  const lists = listsOf(c, history, ended);
  provideRows(c, rows, lists);

  app.get('/api/nodes', read(schemas.nodes), async (req, reply) => {
    const q = req.query as Query;
    let nodes: NodeRecord[];
    if (q.after !== undefined) {
      // Cursor paging from the node index (issue 14): X-Next-Cursor is the `after` of the next page. This coordinator's nodes only.
      const index = c.scheduler.index;
      // The cursor is a join seq + 1, so that 0 means from the first node.
      const p = index.page(Number(q.after) - 1, Math.min(MAX_LIMIT, Number(q.limit ?? 100)), q.kind);
      void reply.header('x-total-count', String(q.kind ? (index.kinds.get(q.kind) ?? 0) : index.size));
      if (p.next !== null) void reply.header('x-next-cursor', String(p.next + 1));
      nodes = p.nodes;
    } else {
      // In a mesh: every coordinator's nodes, this one's first.
      const mesh = await meshPage(c, reply, q, { what: 'nodes', kind: q.kind });
      if (mesh) return mesh;
      nodes = page(reply, q, gcs.nodes.values(), q.kind ? (n) => n.kind === q.kind : null, gcs.nodes.size);
    }
    return nodes.map((n) => ({ ...nodeRow(n), coordinator: c.meshId ?? null }));
  });

  app.get('/api/events', read(schemas.events), async (req, reply) => {
    const q = req.query as Query;
    const since = Number(q.since ?? 0);
    const matching = gcs.events.filter((e) => e.seq > since && (!q.kind || e.kind === q.kind) && (!q.job || e.job === q.job));
    // The most recent `limit` (default 1000) unless an offset pages through older ones.
    const limit = Math.min(MAX_LIMIT, Number(q.limit ?? MAX_LIMIT));
    void reply.header('x-total-count', String(matching.length));
    const end = matching.length - Number(q.offset ?? 0);
    return matching.slice(Math.max(0, end - limit), Math.max(0, end));
  });

  app.get('/api/jobs', read(schemas.jobs), async (req, reply) => {
    const q = req.query as Query;
    // In a mesh: every coordinator's jobs, newest first.
    const mesh = await meshPage(c, reply, q, { what: 'jobs', status: q.status, kind: q.kind }, (a, b) => Number(b.startedAt) - Number(a.startedAt));
    if (mesh) return mesh;
    const rows = allJobIds().map(jobSummary);
    return page(reply, q, rows, (j) => (!q.status || j.status === q.status) && (!q.kind || j.kind === q.kind));
  });

  app.get('/api/jobs/:id', read(schemas.job), async (req) => {
    const { id } = req.params as { id: string };
    if (!known(id)) throw httpError('NOT_FOUND', `no job ${id}`);
    const s = runner.jobs.get(id);
    const j = gcs.jobs.get(id);
    return {
      ...jobSummary(id),
      result: s?.status === 'succeeded' ? s.result : null,
      error: s?.error ?? null,
      // A driver session's summary (its program runs elsewhere): its first failed task, and how it ended; kept across restarts.
      firstTaskError: j?.firstError ?? null,
      endReason: j?.endReason ?? null,
      source: s?.source ?? null,
      logLines: s?.logSeq ?? 0,
    };
  });

  app.get('/api/jobs/:id/log', read(schemas.jobLog), async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!known(id)) throw httpError('NOT_FOUND', `no job ${id}`);
    const since = Number((req.query as Query).since ?? 0);
    const s = runner.jobs.get(id);
    return page(reply, req.query as Query, s?.log ?? [], (l) => l.seq > since);
  });

  app.post(
    '/api/jobs',
    {
      ...write(schemas.submitJob),
      bodyLimit: 1 << 20,
      config: { badRequest: 'BAD_JOB', bodyHint: 'send { "source": "...", "name"?: "...", "timeoutMs"?: N, "runtimeEnv"?: {...} }' },
    },
    async (req, reply) => {
      const body = req.body as { source: string; name?: string; timeoutMs?: number; runtimeEnv?: JobRuntimeEnv };
      try {
        // The runtime env is checked and resolved by the runner (coordinator/jobs/env.ts): a bad one is a 400 BAD_JOB naming what is wrong.
        const job = await runner.submit(body);
        return reply.code(201).send({ id: job.id });
      } catch (e) {
        if (e instanceof JobError) throw httpError(e.code, e.message);
        throw e;
      }
    },
  );

  app.delete('/api/jobs/:id', write(schemas.job), async (req) => {
    const { id } = req.params as { id: string };
    if (!known(id)) throw httpError('NOT_FOUND', `no job ${id}`);
    if (!runner.cancel(id)) c.endJob(id, 'it was cancelled (DELETE /api/jobs/:id)'); // a driver's job: its tasks are cancelled, its driver goes on
    return { id, status: jobStatus(gcs.jobs.get(id), runner.jobs.get(id)) };
  });

  // Task groups (coordinator/groups): a group is one row with its members' counts (a member made an ordinary task is listed in /api/tasks).
  app.get('/api/groups', read(schemas.groups), async (req, reply) => {
    const q = req.query as Query;
    const all = c.groups?.table.groups.values() ?? [];
    return page(reply, q, all, q.job ? (g) => g.job.id === q.job : null, q.job ? undefined : (c.groups?.table.groups.size ?? 0)).map(groupRow);
  });

  app.get('/api/tasks', read(schemas.tasks), async (req, reply) => {
    const q = req.query as Query;
    if (q.after !== undefined) {
      // Cursor paging from the task table's submit order (issue 14); this coordinator's tasks only.
      const p = taskPage(gcs.tasks, ended.tasks, q, Math.min(MAX_LIMIT, Number(q.limit ?? 100)), undefined, history.members);
      if (p.total !== null) void reply.header('x-total-count', String(p.total));
      if (p.next !== null) void reply.header('x-next-cursor', String(p.next));
      return p.rows.map((t) => ({ ...t, coordinator: c.meshId ?? null }));
    }
    // In a mesh: every coordinator's tasks, this one's first.
    const mesh = await meshPage(c, reply, q, { what: 'tasks', job: q.job, state: q.state, node: q.node, name: q.name });
    return mesh ?? listed(reply, q, lists.tasks).map((r) => ({ ...r, coordinator: null }));
  });

  app.get('/api/objects', read(schemas.objects), async (req, reply) => {
    const q = req.query as Query;
    const mesh = await meshPage(c, reply, q, { what: 'objects', job: q.job, state: q.state, minSize: q.minSize });
    return mesh ?? listed(reply, q, lists.objects).map((r) => ({ ...r, coordinator: null }));
  });

  app.get('/api/actors', read(schemas.actors), async (req, reply) => {
    const q = req.query as Query;
    const mesh = await meshPage(c, reply, q, { what: 'actors', job: q.job, state: q.state, name: q.name });
    return mesh ?? listed(reply, q, lists.actors).map((r) => ({ ...r, coordinator: null }));
  });

  app.get('/api/jobs/:id/graph', read(schemas.job), async (req) => {
    const { id } = req.params as { id: string };
    if (!known(id)) throw httpError('NOT_FOUND', `no job ${id}`);
    const { tasks, omitted } = history.tasksOf(id);
    return { job: id, tasks, omitted };
  });

  const nodeInfo = (n: string) => {
    const live = gcs.nodes.get(n as never);
    return { name: live?.name ?? history.nodeNames.get(n as never) ?? n, slots: live?.resources.cpu ?? 0 };
  };
  app.get('/api/timeline', read(schemas.timeline), async (req, reply) => {
    const q = req.query as Query & { job: string };
    if (!known(q.job)) throw httpError('NOT_FOUND', `no job ${q.job}`);
    const timeline = layoutTimeline(history.tasksOf(q.job).tasks, nodeInfo);
    if (q.format === 'bars') return timeline;
    void reply.header('content-disposition', `attachment; filename="tabmesh-${q.job}.trace.json"`);
    return chromeTrace(q.job, timeline);
  });
}
