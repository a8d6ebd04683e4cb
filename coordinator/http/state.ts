// The state API (issue 7): JSON, paged (`limit`, `offset`; the total in the
// X-Total-Count header) and filterable. Lists are arrays, as /api/nodes and
// /api/events always were. Reading takes a viewer or driver token; submitting
// and cancelling jobs the driver token.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPutObject, taskOfObject, type JobId } from '../../shared/ids.js';
import type { ActorRecord } from '../actors/actors.js';
import type { Coordinator } from '../coordinator.js';
import { viewOf, type TaskHistory, type TaskView } from '../dashboard/task-history.js';
import type { JobRecord, ObjectRecord } from '../gcs/tables.js';
import { ENDED, JobError, type JobRunner, type SubmittedJob } from '../jobs/runner.js';
import type { Access } from './access.js';
import { chromeTrace, layoutTimeline } from './trace.js';

const MAX_LIMIT = 1000;

export function actorView(a: ActorRecord) {
  return {
    id: a.id,
    name: a.name,
    className: a.className,
    job: a.job,
    state: a.state,
    node: a.node?.id ?? null,
    calls: a.calls,
    pendingCalls: [...a.callers.values()].reduce((n, q) => n + q.length, 0) + a.inflight.size,
    createdAt: a.createdAt,
    diedAt: a.diedAt,
    deathCause: a.deathCause,
  };
}
const JOB_ID = /^[0-9a-f]{16}$/;

type Query = Record<string, string | undefined>;

/** Error replies, one shape and a stable code each. */
function fail(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).send({ error, message });
}

function page<T>(reply: FastifyReply, q: Query, items: Iterable<T>, keep: (x: T) => boolean = () => true): T[] {
  const limit = Math.min(MAX_LIMIT, Math.max(0, Number(q.limit ?? 100) || 100));
  const offset = Math.max(0, Number(q.offset ?? 0) || 0);
  const out: T[] = [];
  let total = 0;
  for (const x of items) {
    if (!keep(x)) continue;
    if (total >= offset && out.length < limit) out.push(x);
    total++;
  }
  void reply.header('x-total-count', String(total));
  return out;
}

export interface StateDeps {
  c: Coordinator;
  access: Access;
  runner: JobRunner;
  history: TaskHistory;
}

export function jobStatus(j: JobRecord | undefined, s: SubmittedJob | undefined): string {
  return s ? s.status : (j?.state ?? 'finished');
}

export function registerState(app: FastifyInstance, { c, access, runner, history }: StateDeps): void {
  const read = { onRequest: access.read };
  const write = { onRequest: access.write };
  const { gcs } = c;

  const jobSummary = (id: JobId) => {
    const j = gcs.jobs.get(id);
    const s = runner.jobs.get(id);
    const counts = j?.counts ?? s?.counts ?? { submitted: 0, finished: 0, failed: 0, cancelled: 0 };
    let running = 0;
    if (j?.state === 'running') for (const t of j.tasks) if (t.state === 'running' || t.state === 'assigned') running++;
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
  const known = (id: string): id is JobId => JOB_ID.test(id) && (gcs.jobs.has(id as JobId) || runner.jobs.has(id as JobId));

  app.get('/api/nodes', read, async (req, reply) => {
    const q = req.query as Query;
    return page(reply, q, gcs.nodes.values(), (n) => !q.kind || n.kind === q.kind).map((n) => ({
      id: n.id,
      kind: n.kind,
      name: n.name,
      resources: n.resources,
      inflightTasks: n.inflightTasks,
      load: n.load,
      tasksDone: n.tasksDone,
      joinedAt: n.joinedAt,
      lastSeen: n.lastSeen,
      /** Issue 8: verified results agreed and disagreed, offences, and the level they give. */
      trust: c.trust.view(n.id),
    }));
  });

  app.get('/api/events', read, async (req, reply) => {
    const q = req.query as Query;
    const since = Number(q.since ?? 0) || 0;
    const matching = gcs.events.filter((e) => e.seq > since && (!q.kind || e.kind === q.kind) && (!q.job || e.job === q.job));
    // The most recent `limit` (default 1000) unless an offset pages through older ones.
    const limit = Math.min(MAX_LIMIT, Number(q.limit ?? MAX_LIMIT) || MAX_LIMIT);
    void reply.header('x-total-count', String(matching.length));
    const end = matching.length - (Number(q.offset ?? 0) || 0);
    return matching.slice(Math.max(0, end - limit), Math.max(0, end));
  });

  app.get('/api/jobs', read, async (req, reply) => {
    const q = req.query as Query;
    const rows = allJobIds().map(jobSummary);
    return page(reply, q, rows, (j) => (!q.status || j.status === q.status) && (!q.kind || j.kind === q.kind));
  });

  app.get('/api/jobs/:id', read, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!known(id)) return fail(reply, 404, 'NOT_FOUND', `no job ${id}`);
    const s = runner.jobs.get(id);
    return {
      ...jobSummary(id),
      result: s?.status === 'succeeded' ? s.result : null,
      error: s?.error ?? null,
      source: s?.source ?? null,
      logLines: s?.logSeq ?? 0,
    };
  });

  app.get('/api/jobs/:id/log', read, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!known(id)) return fail(reply, 404, 'NOT_FOUND', `no job ${id}`);
    const since = Number((req.query as Query).since ?? 0) || 0;
    const s = runner.jobs.get(id);
    return page(reply, req.query as Query, s?.log ?? [], (l) => l.seq > since);
  });

  app.post('/api/jobs', { ...write, bodyLimit: 1 << 20 }, async (req, reply) => {
    const body = req.body as { source?: unknown; name?: unknown; timeoutMs?: unknown } | null;
    if (!body || typeof body !== 'object') return fail(reply, 400, 'BAD_JOB', 'send JSON { "source": "...", "name": "..." }');
    if (typeof body.source !== 'string' || body.source.trim() === '') return fail(reply, 400, 'BAD_JOB', '"source" must be a non-empty string');
    if (body.name !== undefined && typeof body.name !== 'string') return fail(reply, 400, 'BAD_JOB', '"name" must be a string');
    if (body.timeoutMs !== undefined && !(Number.isInteger(body.timeoutMs) && (body.timeoutMs as number) > 0)) {
      return fail(reply, 400, 'BAD_JOB', '"timeoutMs" must be a positive integer');
    }
    try {
      const job = await runner.submit({ source: body.source, name: body.name as string | undefined, timeoutMs: body.timeoutMs as number | undefined });
      return reply.code(201).send({ id: job.id });
    } catch (e) {
      if (e instanceof JobError) return fail(reply, e.status, e.code, e.message);
      throw e;
    }
  });

  app.delete('/api/jobs/:id', write, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!known(id)) return fail(reply, 404, 'NOT_FOUND', `no job ${id}`);
    if (!runner.cancel(id)) c.endJob(id); // a driver's job: its tasks are cancelled, its driver goes on
    return { id, status: jobStatus(gcs.jobs.get(id), runner.jobs.get(id)) };
  });

  const tasksOf = (q: Query): Iterable<TaskView> => {
    if (q.job) return history.tasksOf(q.job as JobId).tasks;
    return (function* () {
      for (const t of gcs.tasks.values()) yield viewOf(t);
    })();
  };
  app.get('/api/tasks', read, async (req, reply) => {
    const q = req.query as Query;
    return page(reply, q, tasksOf(q), (t) => (!q.state || t.state === q.state) && (!q.node || t.node === q.node) && (!q.name || t.name.includes(q.name)));
  });

  const objectView = (o: ObjectRecord) => ({
    id: o.id,
    job: o.job,
    state: o.state,
    size: o.size,
    inline: o.v !== null,
    refs: o.refs,
    task: isPutObject(o.id) ? null : taskOfObject(o.id),
    put: isPutObject(o.id),
    locations: [...o.locations].map((s) => s.nodeId ?? `driver:${s.jobId}`),
    error: o.failure ? `${o.failure.name}: ${o.failure.message}` : null,
  });
  app.get('/api/objects', read, async (req, reply) => {
    const q = req.query as Query;
    const minSize = Number(q.minSize ?? 0) || 0;
    return page(reply, q, gcs.objects.values(), (o) => (!q.job || o.job === q.job) && (!q.state || o.state === q.state) && o.size >= minSize).map(objectView);
  });

  app.get('/api/actors', read, async (req, reply) => {
    const q = req.query as Query;
    return page(reply, q, c.tasks.actors.actors.values(), (a) => (!q.state || a.state === q.state) && (!q.job || a.job === q.job) && (!q.name || (a.name ?? '').includes(q.name))).map(actorView);
  });

  app.get('/api/jobs/:id/graph', read, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!known(id)) return fail(reply, 404, 'NOT_FOUND', `no job ${id}`);
    const { tasks, omitted } = history.tasksOf(id);
    return { job: id, tasks, omitted };
  });

  const nodeName = (n: string) => gcs.nodes.get(n as never)?.name ?? history.nodeNames.get(n as never) ?? n;
  app.get('/api/timeline', read, async (req, reply) => {
    const q = req.query as Query;
    if (!q.job) return fail(reply, 400, 'BAD_REQUEST', 'give ?job=ID');
    if (!known(q.job)) return fail(reply, 404, 'NOT_FOUND', `no job ${q.job}`);
    const bars = layoutTimeline(history.tasksOf(q.job as JobId).tasks, nodeName);
    if (q.format === 'bars') return bars;
    void reply.header('content-disposition', `attachment; filename="tabmesh-${q.job}.trace.json"`);
    return chromeTrace(q.job, bars);
  });
}
