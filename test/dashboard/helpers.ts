// Shared by the dashboard tests: HTTP through fastify.inject (no port), and waiting for a job.
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
