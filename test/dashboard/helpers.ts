// Shared by the dashboard tests: HTTP through fastify.inject (no port), and waiting for a job.
import type { Mesh } from '../../shared/api/mesh.js';
import { taskOfObject } from '../../shared/ids.js';
import type { Cluster } from '../helpers/cluster.js';

export interface Reply {
  status: number;
  json: any;
  headers: Record<string, unknown>;
}

export async function call(
  cl: Cluster,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  opts: { token?: string | null; body?: unknown; raw?: string } = {},
): Promise<Reply> {
  const token = opts.token === undefined ? cl.token : opts.token;
  const res = await cl.c.app.inject({
    method,
    url,
    headers: {
      ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.body !== undefined || opts.raw !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    payload: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  let json: unknown = null;
  try {
    json = res.json();
  } catch {
    json = res.body;
  }
  return { status: res.statusCode, json, headers: res.headers };
}

export async function submit(cl: Cluster, source: string, name = 'test job', extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(cl, 'POST', '/api/jobs', { body: { source, name, ...extra } });
  if (r.status !== 201) throw new Error(`POST /api/jobs: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.id as string;
}

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'timeout']);

/** Waits until the job has ended (no timing assertion: a generous limit for a loaded machine). */
export async function ended(cl: Cluster, id: string, ms = 45_000): Promise<any> {
  let last: any = null;
  await cl.until(
    () => {
      const j = cl.c.observability.runner.jobs.get(id as never);
      return !!j && ENDED.has(j.status);
    },
    ms,
    () => `job ${id} to end (status ${cl.c.observability.runner.jobs.get(id as never)?.status})`,
  );
  last = (await call(cl, 'GET', `/api/jobs/${id}`)).json;
  return last;
}

/** Waits until no task and no task group is on record (what ended left for the ended-tasks feed). */
export function noneLive(cl: Cluster): Promise<void> {
  return cl.until(
    () => cl.c.coordinator.gcs.tasks.size === 0 && (cl.c.coordinator.groups?.table.groups.size ?? 0) === 0,
    20_000,
    () => 'tasks and groups to leave',
  );
}

/**
 * The recent tasks' scenario of the group feed tests: an older job of 60 plain tasks (groups off), ended and freed,
 * then 500 squares of another job (one task group), ended and freed. Answers the squares' driver and task ids.
 */
export async function plainThenSquares(cl: Cluster): Promise<{ m: Mesh; ids: Set<string>; groups: number }> {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const plain = await cl.driver({ groups: false });
  const noop = plain.remote(function noop(x: number) {
    return x;
  });
  const old = range(60).map((i) => noop.remote(i));
  await plain.get(old);
  plain.free(old);
  await noneLive(cl);
  const m = await cl.driver();
  const sq = m.remote(function sq(x: number) {
    return x * x;
  });
  const before = cl.c.coordinator.statsJson().groupsSubmitted;
  const refs = range(500).map((i) => sq.remote(i));
  const got = await m.get(refs);
  if (JSON.stringify(got) !== JSON.stringify(range(500).map((i) => i * i))) throw new Error('the squares came back wrong');
  const groups = cl.c.coordinator.statsJson().groupsSubmitted - before;
  m.free(refs);
  await noneLive(cl);
  return { m, ids: new Set(refs.map((r) => taskOfObject(r.id) as string)), groups };
}
