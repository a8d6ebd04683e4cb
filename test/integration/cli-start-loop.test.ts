// What stopped `tabmesh start`'s loop for seconds under the soak (issue 14, session 36), checked by counting, one
// coordinator for the file:
// - Jobs submitted (POST /api/jobs, `tabmesh submit`) get their process from the launcher thread, never from the
//   coordinator's own thread: `child_process.fork` returns only once the child has exec'd, which on a loaded machine
//   waits for a core (coordinator/jobs/launch-worker.ts). The coordinator's thread's fork and spawn are wrapped and
//   stay at 0 while jobs start, log, succeed, fail and are cancelled (their processes killed through the thread).
// - Fastify's validators are compiled at a route's first request, once, not all at start
//   (coordinator/http/lazy-validators.ts): Ajv's compile is counted.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { JobLauncher } from '../../coordinator/jobs/launcher.js';
import { alive } from '../helpers/poll.js';

const TOKEN = 'cli-start-loop-token';
let c: RunningCoordinator;
const real = { fork: childProcess.fork, spawn: childProcess.spawn };
/** Processes started on this (the coordinator's) thread since the wrap. */
const onThisThread: string[] = [];
const realCompile = Ajv.prototype.compile;
/** Ajv compiles (of anything: Fastify's validators go through Ajv's compile) during the coordinator's start, and since. */
const compiles = { atStart: 0, since: 0 };
let started = false;

beforeAll(async () => {
  Ajv.prototype.compile = function (this: Ajv, ...a: Parameters<Ajv['compile']>) {
    if (started) compiles.since++;
    else compiles.atStart++;
    return realCompile.apply(this, a);
  } as Ajv['compile'];
  childProcess.fork = ((...a: Parameters<typeof real.fork>) => {
    onThisThread.push(`fork ${String(a[0])}`);
    return real.fork(...a);
  }) as typeof real.fork;
  childProcess.spawn = ((...a: Parameters<typeof real.spawn>) => {
    onThisThread.push(`spawn ${String(a[0])}`);
    return (real.spawn as (...b: unknown[]) => ReturnType<typeof real.spawn>)(...a);
  }) as typeof real.spawn;
  // The ES module bindings (`import { fork } from 'node:child_process'`) follow the wrapped functions.
  syncBuiltinESMExports();
  c = await startCoordinator({ port: 0, memory: true, token: TOKEN, httpLimits: false });
  started = true;
});

afterAll(async () => {
  await c?.close();
  Ajv.prototype.compile = realCompile;
  childProcess.fork = real.fork;
  childProcess.spawn = real.spawn;
  syncBuiltinESMExports();
});

async function api<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<{ status: number; json: T }> {
  const res = await c.app.inject({ method, url: path, headers: { authorization: `Bearer ${TOKEN}` }, payload: body });
  return { status: res.statusCode, json: res.json() as T };
}

interface Job {
  id: string;
  status: string;
  result: unknown;
  error: { name: string; message: string } | null;
}

async function ended(id: string): Promise<Job> {
  const end = Date.now() + 120_000;
  for (;;) {
    const j = (await api<Job>('GET', `/api/jobs/${id}`)).json;
    if (['succeeded', 'failed', 'cancelled', 'timeout'].includes(j.status)) return j;
    if (Date.now() > end) throw new Error(`job ${id} did not end (status ${j.status})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("job processes start on the launcher thread, not on the coordinator's loop", () => {
  it('a job that logs and returns, and one that throws: their processes were not forked on this thread', { timeout: 240_000 }, async () => {
    const ok = await api<Job>('POST', '/api/jobs', { source: "console.log('hello from the job');\nreturn 6 * 7;", name: 'ok' });
    expect(ok.status).toBe(201);
    const bad = await api<Job>('POST', '/api/jobs', { source: "throw new RangeError('bad job');", name: 'bad' });
    expect(bad.status).toBe(201);
    expect(await ended(ok.json.id)).toMatchObject({ status: 'succeeded', result: 42 });
    expect(await ended(bad.json.id)).toMatchObject({ status: 'failed', error: { name: 'RangeError', message: 'bad job' } });
    const log = (await api<{ lines: { text: string }[] }>('GET', `/api/jobs/${ok.json.id}/log`)).json;
    expect(JSON.stringify(log)).toContain('hello from the job');
    expect(onThisThread).toEqual([]);
    expect(c.observability.runner.launcher.started).toBe(2);
  });

  it("a cancelled job's process is killed through the launcher thread", { timeout: 240_000 }, async () => {
    const job = await api<Job>('POST', '/api/jobs', { source: 'await new Promise(() => {});', name: 'forever' });
    expect(job.status).toBe(201);
    const pid = c.observability.runner.jobs.get(job.json.id as never)?.worker?.pid ?? 0;
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(true);
    expect((await api('DELETE', `/api/jobs/${job.json.id}`)).status).toBe(200);
    expect(await ended(job.json.id)).toMatchObject({ status: 'cancelled' });
    const end = Date.now() + 60_000;
    while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(alive(pid)).toBe(false);
    expect(onThisThread).toEqual([]);
  });

  it('a launcher closed with its runner forks nothing more: a job started then fails at once', async () => {
    const l = new JobLauncher();
    l.close();
    const p = l.start('/nonexistent/worker.js', [], { k: 'start' });
    const errors: string[] = [];
    p.on('error', (e) => errors.push(e.message));
    const closed = new Promise<unknown[]>((resolve) => p.on('close', (...a) => resolve(a)));
    p.kill('SIGKILL');
    expect(await closed).toEqual([null, null]);
    expect(errors).toEqual(['the coordinator is closing']);
    expect(p.closed).toBe(true);
  });
});

describe("Fastify's validators compile at a route's first request, once", () => {
  it('none at start; a bad query is still refused naming its field; the second request compiles nothing', async () => {
    expect(compiles.atStart).toBe(0);
    const before = compiles.since;
    const bad = await c.app.inject({ method: 'GET', url: '/api/tasks?limit=abc', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/limit/);
    expect(compiles.since).toBeGreaterThan(before);
    const after = compiles.since;
    const good = await c.app.inject({ method: 'GET', url: '/api/tasks?limit=5', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(good.statusCode).toBe(200);
    const again = await c.app.inject({ method: 'GET', url: '/api/tasks?limit=-1', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(again.statusCode).toBe(400);
    expect(compiles.since).toBe(after);
  });
});
