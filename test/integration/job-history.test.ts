// Submitted jobs survive a coordinator restart (issue 11): with the durable
// GCS, every ended job reads back as it ended (status, result or error,
// progress, duration, log); a job running at the restart runs again from its
// source under the same id, and is never shown as a bare `driver` job.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { SqliteStorage } from '../../coordinator/gcs/sqlite-storage.js';
import { encodeJobRow } from '../../coordinator/jobs/records.js';
import { MAX_RUNS, type SubmittedJob } from '../../coordinator/jobs/runner.js';
import { CLI } from '../helpers/cluster.js';
import { restartablePort } from '../helpers/processes.js';
import { connect } from '../../edge/index.js';

const TOKEN = 'job-history-token';
let running: RunningCoordinator | null = null;
const procs: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await running?.close();
  running = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tabmesh-job-history-'));
  dirs.push(d);
  return d;
}

async function start(data: string, port?: number): Promise<RunningCoordinator> {
  running = await startCoordinator({
    port: port ?? (await restartablePort()),
    dataDir: data,
    token: TOKEN,
    heartbeatMs: 500,
    jobGraceMs: 3000,
    httpLimits: false,
  });
  return running;
}

async function restart(data: string): Promise<RunningCoordinator> {
  const port = Number(new URL(running!.url).port);
  await running!.close();
  running = null;
  return start(data, port);
}

function edgeNode(url: string): void {
  const p = spawn(process.execPath, [CLI, 'node', '--coordinator', url, '--cpus', '1', '--spill-dir', tempDir()], { stdio: 'ignore' });
  procs.push(p);
}

async function api<T = Record<string, unknown>>(c: RunningCoordinator, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await c.app.inject({ method: method as 'GET', url: path, headers: { authorization: `Bearer ${TOKEN}` }, payload: body as object | undefined });
  return { status: res.statusCode, json: res.json() as T };
}

async function until<T>(f: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ENDED = ['succeeded', 'failed', 'cancelled', 'timeout'];
async function ended(c: RunningCoordinator, id: string): Promise<Record<string, unknown>> {
  return until(async () => {
    const j = (await api(c, 'GET', `/api/jobs/${id}`)).json;
    return ENDED.includes(j.status as string) && j;
  }, `job ${id} to end`);
}

async function submit(c: RunningCoordinator, source: string, name: string): Promise<string> {
  const r = await api<{ id: string }>(c, 'POST', '/api/jobs', { source, name });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  return r.json.id;
}

/**
 * A job's task body that waits for the file at `path` (a gate the test opens), not a fixed sleep: the task is running
 * for as long as the test needs it to, then ends at once.
 */
const gated = (path: string) =>
  `const fs = process.getBuiltinModule('node:fs'); while (!fs.existsSync(${JSON.stringify(path)})) await new Promise((r) => setTimeout(r, 50));`;

const events = async (c: RunningCoordinator, kind: string) => (await api<unknown[]>(c, 'GET', `/api/events?kind=${kind}`)).json;

describe('durable job history', () => {
  it('every ended job reads back after a restart as it ended, and only the second start logs coordinator-recovered', async () => {
    const data = tempDir();
    let c = await start(data);
    edgeNode(c.url);
    expect(await events(c, 'coordinator-recovered')).toEqual([]);
    const ok = await submit(
      c,
      `const sq = mesh.remote(function sq(x) { console.log('sq', x); return x * x; });\nconsole.log('start');\nreturn (await mesh.get([2, 3].map((x) => sq.remote(x)))).reduce((a, b) => a + b, 0);`,
      'ok',
    );
    const thrown = await submit(c, `throw new RangeError('not today');`, 'throws');
    const errorValue = await submit(c, `return { ok: false, why: new RangeError('returned, not thrown') };`, 'returns-error');
    const syntax = await submit(c, `return (1 +;`, 'syntax');
    const loop = await submit(c, `const f = mesh.remote(function f(x) { return x + 1; });\nlet n = 0;\nfor (;;) n = await mesh.get(f.remote(n));`, 'loop');
    await until(
      async () => ((await api<{ progress: { done: number } }>(c, 'GET', `/api/jobs/${loop}`)).json.progress.done ?? 0) >= 2,
      'the loop to make progress',
    );
    expect((await api(c, 'DELETE', `/api/jobs/${loop}`)).status).toBe(200);
    const ids = [ok, thrown, errorValue, syntax, loop];
    const before = new Map<string, Record<string, unknown>>();
    for (const id of ids) before.set(id, await ended(c, id));
    expect(before.get(ok)).toMatchObject({ status: 'succeeded', result: 13, kind: 'submitted', name: 'ok', progress: { total: 2, done: 2 } });
    expect(before.get(thrown)).toMatchObject({ status: 'failed', error: { name: 'RangeError', message: 'not today' } });
    // An Error returned as a value (Ray returns it as the value too): its name and message, not {}.
    expect(before.get(errorValue)).toMatchObject({ status: 'succeeded', result: { ok: false, why: { name: 'RangeError', message: 'returned, not thrown' } } });
    expect(before.get(syntax)).toMatchObject({ status: 'failed', error: { name: 'SyntaxError' } });
    expect(before.get(loop)).toMatchObject({ status: 'cancelled', error: { name: 'JobCancelledError' } });
    // Counts are final once the job's driver has closed.
    await until(async () => (await api<{ progress: { total: number; done: number } }>(c, 'GET', `/api/jobs/${ok}`)).json.progress.done === 2, 'counts');
    const logBefore = (await api<{ text: string }[]>(c, 'GET', `/api/jobs/${ok}/log`)).json.map((l) => l.text);
    expect(logBefore).toContain('start');

    c = await restart(data);
    expect(await events(c, 'coordinator-recovered')).toHaveLength(1);
    for (const id of ids) {
      const after = (await api(c, 'GET', `/api/jobs/${id}`)).json;
      const b = before.get(id)!;
      for (const k of ['status', 'kind', 'name', 'result', 'error', 'startedAt', 'endedAt', 'durationMs', 'source'])
        expect(after[k], `${id} ${k}`).toEqual(b[k]);
      expect((after.progress as { done: number }).done).toBeGreaterThanOrEqual((b.progress as { done: number }).done);
    }
    expect((await api<{ text: string }[]>(c, 'GET', `/api/jobs/${ok}/log`)).json.map((l) => l.text)).toEqual(logBefore);
    const list = (await api<{ id: string; kind: string }[]>(c, 'GET', '/api/jobs')).json;
    expect(list.map((j) => j.id).sort()).toEqual([...ids].sort());
    expect(list.every((j) => j.kind === 'submitted')).toBe(true);
  });

  it('a job running when the coordinator stopped runs again from its source under the same id, and is never a driver job', async () => {
    const data = tempDir();
    let c = await start(data);
    edgeNode(c.url);
    // Its task runs until the coordinator restarted (the gate opens then): its second run's task ends at once.
    const gate = join(tempDir(), 'open');
    const id = await submit(
      c,
      `const slow = mesh.remote(async function slow(x) { ${gated(gate)} return x * 10; });\nconsole.log('running');\nreturn await mesh.get(slow.remote(4));`,
      'slow',
    );
    await until(async () => (await api<{ progress: { running: number } }>(c, 'GET', `/api/jobs/${id}`)).json.progress.running >= 1, 'its task to run');
    c = await restart(data);
    writeFileSync(gate, '');
    const right = (await api(c, 'GET', `/api/jobs/${id}`)).json;
    expect(right).toMatchObject({ kind: 'submitted', name: 'slow' });
    expect(['starting', 'running']).toContain(right.status);
    edgeNode(c.url);
    const j = await ended(c, id);
    expect(j).toMatchObject({ status: 'succeeded', result: 40, kind: 'submitted', progress: { done: 1, total: 1 } });
    const log = (await api<{ text: string; level: string }[]>(c, 'GET', `/api/jobs/${id}/log`)).json.map((l) => l.text);
    expect(log.filter((t) => t === 'running')).toHaveLength(2);
    expect(log.some((t) => /coordinator restarted while this job ran: running it again from its source \(run 2/.test(t))).toBe(true);
    const list = (await api<{ id: string; kind: string }[]>(c, 'GET', '/api/jobs')).json;
    expect(list).toEqual([expect.objectContaining({ id, kind: 'submitted' })]);
    expect(await events(c, 'job-rerun')).toHaveLength(1);
  });

  it(`a job cut short by ${MAX_RUNS} restarts is failed with the reason; an unreadable record is dropped and reported`, async () => {
    const data = tempDir();
    const storage = new SqliteStorage(join(data, 'gcs.sqlite'));
    const job: SubmittedJob = {
      id: '00112233445566ff' as never,
      name: 'doomed',
      source: 'return 1;',
      status: 'running',
      submittedAt: Date.now() - 1000,
      endedAt: 0,
      result: null,
      error: null,
      log: [{ seq: 1, ts: Date.now(), level: 'log', text: 'hello' }],
      logSeq: 1,
      timeoutMs: 60_000,
      worker: null,
      counts: null,
      runs: MAX_RUNS,
    };
    storage.put('submitted', job.id, encodeJobRow(job));
    storage.put('submitted', 'garbage', new Uint8Array([0xc1, 1, 2]));
    storage.close();
    const c = await start(data);
    const j = (await api(c, 'GET', `/api/jobs/${job.id}`)).json;
    expect(j).toMatchObject({ status: 'failed', kind: 'submitted', error: { name: 'JobRestartError' } });
    expect((j.error as { message: string }).message).toMatch(/stopped 3 times while this job ran/);
    expect(await events(c, 'job-record-dropped')).toHaveLength(1);
    expect((await api(c, 'GET', `/api/jobs/${job.id}/log`)).json).toEqual([expect.objectContaining({ text: 'hello' })]);
  });

  it("a driver session's job (connect() from a script) reads back after a restart: progress, first task error, how it ended, duration", async () => {
    const data = tempDir();
    let c = await start(data);
    edgeNode(c.url);
    const mesh = await connect({ url: c.url, token: TOKEN, peers: false });
    const id = mesh.jobId;
    const sq = mesh.remote(function sq(x: number) {
      return x * x;
    });
    const bad = mesh.remote(function bad() {
      throw new RangeError('no luck');
    });
    expect(await mesh.get([sq.remote(2), sq.remote(3)])).toEqual([4, 9]);
    await expect(mesh.get(bad.remote())).rejects.toThrow(/no luck/);
    await mesh.close();
    const before = await until(async () => {
      const j = (await api(c, 'GET', `/api/jobs/${id}`)).json;
      return j.status === 'finished' && j;
    }, 'the session to end');
    expect(before).toMatchObject({
      kind: 'driver',
      progress: { total: 3, done: 2, failed: 1, running: 0, fraction: 1 },
      firstTaskError: { name: 'RangeError', message: 'no luck', functionName: 'bad' },
      endReason: 'its driver closed the session',
    });
    expect(before.durationMs).toBeGreaterThan(0);
    c = await restart(data);
    expect((await api(c, 'GET', `/api/jobs/${id}`)).json).toEqual(before);
    expect((await api<{ id: string; kind: string }[]>(c, 'GET', '/api/jobs')).json).toEqual([
      expect.objectContaining({ id, kind: 'driver', status: 'finished' }),
    ]);
    // Read back once more after a second restart: history is not consumed by reading it.
    c = await restart(data);
    expect((await api(c, 'GET', `/api/jobs/${id}`)).json).toEqual(before);
  });

  it('progress.running counts only tasks an executor runs, not tasks assigned to a busy node', async () => {
    const data = tempDir();
    const c = await start(data);
    edgeNode(c.url); // one CPU: one task runs, the others wait on the node
    // The runs last until the test read the progress (the gate opens then), not 2 s each.
    const gate = join(tempDir(), 'open');
    const id = await submit(
      c,
      `const slow = mesh.remote(async function slow(x) { ${gated(gate)} return x; });\nreturn await mesh.get([1, 2, 3, 4].map((x) => slow.remote(x)));`,
      'four',
    );
    const tasksIn = (state: string) => [...(c.coordinator.gcs.jobs.get(id as never)?.tasks ?? [])].filter((t) => t.state === state).length;
    // Its four calls are a task group (coordinator/groups): one member on the node (its one CPU), the others waiting.
    const groups = () => [...(c.coordinator.groups?.table.ofJob(id as never) ?? [])];
    const grouped = () => groups().reduce((a, g) => a + g.running, 0) === 1 && groups().reduce((a, g) => a + g.queued, 0) >= 1;
    await until(() => (tasksIn('running') === 1 && tasksIn('assigned') >= 1) || grouped(), 'one task running and another waiting behind it');
    const p = (await api<{ progress: { running: number; total: number } }>(c, 'GET', `/api/jobs/${id}`)).json.progress;
    expect(p.total).toBe(4);
    expect(p.running).toBeLessThanOrEqual(1); // counting assigned tasks read 2 to 4 here
    writeFileSync(gate, '');
    expect(await ended(c, id)).toMatchObject({ status: 'succeeded', result: [1, 2, 3, 4], progress: { running: 0 } });
  });
});
