// The state API and job submission through fastify.inject(): every endpoint,
// auth included, against a real coordinator and a real edge node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { call, ended, submit } from './helpers.js';

const VIEWER = 'viewer-token-for-tests';

const SQUARES = `
const square = mesh.remote(function square(x) { console.log('squaring', x); return x * x; });
const refs = [1, 2, 3, 4].map((x) => square.remote(x));
console.log('submitted', refs.length);
return await mesh.get(refs);
`;

describe('state API and jobs', () => {
  let cl: Cluster;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2, viewerToken: VIEWER });
  });
  afterAll(async () => {
    await cl?.stop();
  });

  const reads = [
    '/api/nodes',
    '/api/jobs',
    '/api/tasks',
    '/api/objects',
    '/api/actors',
    '/api/events',
    '/api/timeline?job=0000000000000000',
    '/api/jobs/0000000000000000',
    '/api/jobs/0000000000000000/log',
    '/api/jobs/0000000000000000/graph',
  ];

  it('every read endpoint answers 401 without a token or with a wrong one', async () => {
    for (const url of reads) {
      expect((await call(cl, 'GET', url, { token: null })).status, url).toBe(401);
      expect((await call(cl, 'GET', url, { token: 'nope' })).status, url).toBe(401);
    }
    expect((await call(cl, 'POST', '/api/jobs', { token: null, body: { source: 'return 1' } })).status).toBe(401);
    expect((await call(cl, 'DELETE', '/api/jobs/0000000000000000', { token: null })).status).toBe(401);
    expect((await call(cl, 'GET', '/healthz', { token: null })).status).toBe(200);
  });

  it('a viewer token reads but may not submit or cancel (403)', async () => {
    for (const url of ['/api/nodes', '/api/jobs', '/api/tasks', '/api/objects', '/api/actors', '/api/events']) {
      const r = await call(cl, 'GET', url, { token: VIEWER });
      expect(r.status, url).toBe(200);
      expect(Array.isArray(r.json)).toBe(true);
      expect(r.headers['x-total-count']).toBeDefined();
    }
    const post = await call(cl, 'POST', '/api/jobs', { token: VIEWER, body: { source: 'return 1' } });
    expect(post.status).toBe(403);
    expect(post.json.error).toBe('FORBIDDEN');
    expect((await call(cl, 'DELETE', '/api/jobs/0000000000000000', { token: VIEWER })).status).toBe(403);
  });

  it('bad job submissions get 400 with a code, unknown jobs 404', async () => {
    expect((await call(cl, 'POST', '/api/jobs', { raw: 'not json' })).status).toBe(400);
    const noSource = await call(cl, 'POST', '/api/jobs', { body: { name: 'x' } });
    expect(noSource.status).toBe(400);
    expect(noSource.json.error).toBe('BAD_JOB');
    expect((await call(cl, 'POST', '/api/jobs', { body: { source: 'return 1', timeoutMs: -5 } })).json.error).toBe('BAD_JOB');
    expect((await call(cl, 'POST', '/api/jobs', { body: { source: 'return 1', name: 7 } })).json.error).toBe('BAD_JOB');
    for (const url of ['/api/jobs/0000000000000000', '/api/jobs/nothex', '/api/jobs/0000000000000000/graph', '/api/timeline?job=0000000000000000']) {
      const r = await call(cl, 'GET', url);
      expect(r.status, url).toBe(404);
      expect(r.json.error).toBe('NOT_FOUND');
    }
    expect((await call(cl, 'GET', '/api/timeline')).json.error).toBe('BAD_REQUEST');
    expect((await call(cl, 'DELETE', '/api/jobs/0000000000000000')).status).toBe(404);
  });

  it('a submitted job runs as a detached driver: status, progress, result, log, tasks, graph, timeline, events', async () => {
    const id = await submit(cl, SQUARES, 'squares');
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    const job = await ended(cl, id);
    expect(job).toMatchObject({ id, name: 'squares', kind: 'submitted', status: 'succeeded', result: [1, 4, 9, 16], error: null });
    expect(job.progress).toMatchObject({ total: 4, done: 4, failed: 0, fraction: 1 });
    expect(job.durationMs).toBeGreaterThanOrEqual(0);

    const log = (await call(cl, 'GET', `/api/jobs/${id}/log`)).json as { seq: number; text: string }[];
    expect(log.map((l) => l.text)).toContain('submitted 4');
    expect(log.filter((l) => /squaring \d/.test(l.text))).toHaveLength(4); // task console output, streamed through the job's driver
    const later = (await call(cl, 'GET', `/api/jobs/${id}/log?since=${log[0].seq}`)).json;
    expect(later).toHaveLength(log.length - 1);

    const list = await call(cl, 'GET', '/api/jobs?kind=submitted&status=succeeded');
    expect(list.json.map((j: { id: string }) => j.id)).toContain(id);
    expect((await call(cl, 'GET', '/api/jobs?limit=1')).json).toHaveLength(1);

    const tasks = await call(cl, 'GET', `/api/tasks?job=${id}`);
    expect(tasks.json).toHaveLength(4);
    expect(tasks.json.every((t: { state: string; name: string }) => t.state === 'finished' && t.name === 'square')).toBe(true);
    expect(Number(tasks.headers['x-total-count'])).toBe(4);
    const paged = await call(cl, 'GET', `/api/tasks?job=${id}&limit=2&offset=3`);
    expect(paged.json).toHaveLength(1);
    expect((await call(cl, 'GET', `/api/tasks?job=${id}&state=failed`)).json).toHaveLength(0);
    // Across jobs: filtered on the records, views built for the page only.
    const byName = (await call(cl, 'GET', '/api/tasks?name=square&state=finished&limit=1000')).json as { job: string; name: string }[];
    expect(byName.filter((t) => t.job === id)).toHaveLength(4);
    expect((await call(cl, 'GET', '/api/tasks?name=no-such-task')).json).toHaveLength(0);

    const graph = (await call(cl, 'GET', `/api/jobs/${id}/graph`)).json;
    expect(graph.tasks).toHaveLength(4);
    expect(graph.omitted).toBe(0);

    const trace = (await call(cl, 'GET', `/api/timeline?job=${id}`)).json;
    const complete = trace.traceEvents.filter((e: { ph: string }) => e.ph === 'X');
    expect(complete).toHaveLength(4);
    for (const e of complete) {
      expect(e).toMatchObject({ name: 'square', ph: 'X' });
      expect(typeof e.ts).toBe('number');
      expect(e.dur).toBeGreaterThan(0);
      expect(Number.isInteger(e.pid) && Number.isInteger(e.tid)).toBe(true);
    }
    expect(trace.traceEvents.some((e: { ph: string; name: string }) => e.ph === 'M' && e.name === 'process_name')).toBe(true);
    const bars = (await call(cl, 'GET', `/api/timeline?job=${id}&format=bars`)).json;
    expect(bars.bars).toHaveLength(4);
    expect(bars.rows.length).toBeGreaterThanOrEqual(1);

    const events = (await call(cl, 'GET', `/api/events?job=${id}`)).json.map((e: { kind: string }) => e.kind);
    // In the order they happened: submitted, then started, then its end (issue 11 QA: submitted was logged after started).
    expect(events.filter((k: string) => k.startsWith('job-'))).toEqual(['job-submitted', 'job-started', 'job-succeeded']);
    expect((await call(cl, 'GET', '/api/events?kind=node-joined')).json.length).toBeGreaterThanOrEqual(1);
  });

  it('nodes and objects: filters and paging', async () => {
    const nodes = await call(cl, 'GET', '/api/nodes?kind=edge');
    expect(nodes.json).toHaveLength(1);
    expect(nodes.json[0]).toMatchObject({ kind: 'edge', resources: { cpu: 2 } });
    expect((await call(cl, 'GET', '/api/nodes?kind=browser')).json).toHaveLength(0);
    // Unfiltered, a page stops at its end and the total is the table's size.
    const first = await call(cl, 'GET', '/api/nodes?limit=1');
    expect(first.json).toHaveLength(1);
    expect(Number(first.headers['x-total-count'])).toBe(1);
    const past = await call(cl, 'GET', '/api/nodes?offset=1');
    expect(past.json).toHaveLength(0);
    expect(Number(past.headers['x-total-count'])).toBe(1);
    // A job that keeps an object alive while we look.
    const id = await submit(cl, `const r = mesh.put(new Float64Array(20000)); await new Promise((res) => setTimeout(res, 60000)); return 1;`, 'holder');
    await cl.until(
      () => [...cl.c.coordinator.gcs.objects.values()].some((o) => o.job === id),
      20_000,
      () => 'the put object',
    );
    const objs = await call(cl, 'GET', `/api/objects?job=${id}`);
    expect(objs.json).toHaveLength(1);
    expect(objs.json[0]).toMatchObject({ job: id, state: 'ready', size: expect.any(Number), put: true });
    expect((await call(cl, 'GET', `/api/objects?job=${id}&state=failed`)).json).toHaveLength(0);
    expect((await call(cl, 'DELETE', `/api/jobs/${id}`)).json).toMatchObject({ id, status: 'cancelled' });
    await cl.until(
      () => ![...cl.c.coordinator.gcs.objects.values()].some((o) => o.job === id),
      20_000,
      () => 'the job to free its objects',
    );
  });

  it('actors show in /api/actors', async () => {
    const id = await submit(
      cl,
      `class Counter { constructor() { this.n = 0; } inc() { return ++this.n; } }
       const c = mesh.remote(Counter).remote();
       for (let i = 0; i < 4; i++) await mesh.get(c.inc.remote());
       await new Promise((r) => setTimeout(r, 60000));`,
      'counter',
    );
    let actors: any[] = [];
    await cl.until(
      () => cl.c.coordinator.actors.size > 0 && [...cl.c.coordinator.actors.list()].some((a) => a.job === id && a.calls === 4),
      20_000,
      () => 'the actor to take 4 calls',
    );
    actors = (await call(cl, 'GET', `/api/actors?job=${id}`)).json;
    expect(actors).toHaveLength(1);
    expect(actors[0]).toMatchObject({ className: 'Counter', job: id, state: 'alive', calls: 4 });
    expect((await call(cl, 'GET', `/api/actors?job=${id}&state=dead`)).json).toHaveLength(0);
    await call(cl, 'DELETE', `/api/jobs/${id}`);
  });

  it('a job that throws fails with its error; a syntax error fails at once', async () => {
    const boom = await ended(
      cl,
      await submit(cl, `const f = mesh.remote(function boom() { throw new RangeError('no way'); }); return await mesh.get(f.remote());`),
    );
    expect(boom.status).toBe('failed');
    expect(boom.error.message).toMatch(/no way/);
    const bad = await ended(cl, await submit(cl, `return (;`));
    expect(bad.status).toBe('failed');
    expect(bad.error.name).toBe('SyntaxError');
  });

  it('DELETE cancels a long job and its running tasks', async () => {
    const id = await submit(
      cl,
      `const nap = mesh.remote(async function nap() { await new Promise((r) => setTimeout(r, 60000)); });
       await mesh.get([nap.remote(), nap.remote()]);
       return 'should not get here';`,
      'long',
    );
    await cl.until(
      () => [...(cl.c.coordinator.gcs.jobs.get(id as never)?.tasks ?? [])].filter((t) => t.state === 'running').length === 2,
      20_000,
      () => 'two running tasks',
    );
    const r = await call(cl, 'DELETE', `/api/jobs/${id}`);
    expect(r.json).toMatchObject({ id, status: 'cancelled' });
    const job = await ended(cl, id);
    expect(job.status).toBe('cancelled');
    expect(job.progress.cancelled).toBe(2);
    expect(cl.c.coordinator.gcs.jobs.get(id as never)?.state).toBe('finished');
    await cl.until(
      () => [...cl.c.coordinator.gcs.nodes.values()].every((n) => n.inflightTasks === 0),
      20_000,
      () => 'the node to be free again',
    );
  });

  it('a job past its time limit is stopped', async () => {
    const job = await ended(cl, await submit(cl, `await new Promise((r) => setTimeout(r, 60000));`, 'sleepy', { timeoutMs: 300 }));
    expect(job.status).toBe('timeout');
    expect(job.error.name).toBe('JobTimeoutError');
  });

  it('a job sees no process, env, require or import, and cannot reach them through what it is given', async () => {
    const probe = `
      const tries = {
        process: () => typeof process,
        require: () => typeof require,
        import: async () => (await import('node:fs')).readFileSync,
        viaFacade: () => mesh.get.constructor.constructor('return typeof process')(),
        viaRef: () => mesh.put(1).constructor.constructor('return process')().env,
        viaPromise: () => mesh.get(mesh.put(1)).constructor.constructor('return process')(),
        viaTimer: () => setTimeout(() => {}, 0).constructor.constructor('return process')(),
        viaAsync: () => Object.getPrototypeOf(mesh.get(mesh.put(1)).then).constructor('return process')(),
      };
      const out = {};
      for (const [k, f] of Object.entries(tries)) {
        try { out[k] = String(await f()); } catch (e) { out[k] = 'blocked'; }
      }
      return out;`;
    const job = await ended(cl, await submit(cl, probe, 'escape'));
    expect(job.status).toBe('succeeded');
    expect(job.result).toEqual({
      process: 'undefined',
      require: 'undefined',
      import: 'blocked',
      viaFacade: 'undefined',
      viaRef: 'blocked',
      viaPromise: 'blocked',
      viaTimer: 'blocked',
      viaAsync: 'blocked',
    });
  });
});
