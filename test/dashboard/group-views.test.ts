// A task group's members in every view of a job's tasks (issue 14, session 27; docs/decisions.md "Task groups in
// the views"): a driver's batch travels as one group and is kept as one record, yet the state API lists each member
// as the task it is, with its node and executor slot, in /api/tasks by job (offset and cursor), the job's graph and
// its timeline; the history of a job stays bounded. A real coordinator, a real edge node, a real driver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskOfObject } from '../../shared/ids.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { MAX_PER_JOB } from '../../coordinator/dashboard/task-history.js';
import { Cluster } from '../helpers/cluster.js';
import { call } from './helpers.js';

interface Row {
  id: string;
  job: string;
  name: string;
  state: string;
  node: string | null;
  executor: number;
  submittedAt: number;
  startedAt: number;
  endedAt: number;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Every row of the job's cursor pages (`limit` a page), following X-Next-Cursor; the first page's total. */
async function byCursor(cl: Cluster, job: string, limit: number): Promise<{ rows: Row[]; total: number }> {
  const rows: Row[] = [];
  let after = '0';
  let total = -1;
  for (let pages = 0; pages < 1000; pages++) {
    const r = await call(cl, 'GET', `/api/tasks?job=${job}&after=${after}&limit=${limit}`);
    expect(r.status).toBe(200);
    if (total < 0) total = Number(r.headers['x-total-count']);
    rows.push(...(r.json as Row[]));
    const next = r.headers['x-next-cursor'] as string | undefined;
    if (next === undefined) return { rows, total };
    after = next;
  }
  throw new Error('cursor pages did not end');
}

describe("a task group's members in the views of its job", () => {
  let cl: Cluster;
  let m: Mesh;
  let nodeId: string;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    m = await cl.driver();
    nodeId = [...cl.c.coordinator.gcs.nodes.keys()][0];
  });
  afterAll(() => cl?.stop());

  it('a batch of 16 travels as one group, and each member is listed as its task: state, node, executor slot, times', async () => {
    const before = cl.c.coordinator.statsJson().groupsSubmitted;
    const sq = m.remote(function sq(x: number) {
      return x * x;
    });
    const refs = range(16).map((i) => sq.remote(i));
    expect(await m.get(refs)).toEqual(range(16).map((i) => i * i));
    expect(cl.c.coordinator.statsJson().groupsSubmitted - before).toBe(1);
    const ids = new Set(refs.map((r) => taskOfObject(r.id) as string));
    const job = m.jobId;

    const offset = await call(cl, 'GET', `/api/tasks?job=${job}&limit=1000`);
    const rows = offset.json as Row[];
    expect(new Set(rows.map((t) => t.id))).toEqual(ids);
    expect(rows).toHaveLength(16);
    expect(Number(offset.headers['x-total-count'])).toBe(16);
    for (const t of rows) {
      expect(t).toMatchObject({ job, name: 'sq', state: 'finished', node: nodeId });
      expect([0, 1]).toContain(t.executor); // the slot the node reported in its groupDone
      expect(t.submittedAt).toBeGreaterThan(0);
      expect(t.startedAt).toBeGreaterThanOrEqual(t.submittedAt - 5);
      expect(t.endedAt).toBeGreaterThanOrEqual(t.startedAt);
    }
    // The job's counts agree with what is listed.
    const jobRow = (await call(cl, 'GET', `/api/jobs/${job}`)).json;
    expect(jobRow.progress).toMatchObject({ total: 16, done: 16 });

    // By cursor, 5 a page: each member once, the same rows.
    const cursor = await byCursor(cl, job, 5);
    expect(cursor.rows.map((t) => t.id).sort()).toEqual([...ids].sort());
    expect(cursor.total).toBe(16);
    // A filter on the state and the node.
    expect((await call(cl, 'GET', `/api/tasks?job=${job}&state=finished&node=${nodeId}&after=0&limit=100`)).json).toHaveLength(16);
    expect((await call(cl, 'GET', `/api/tasks?job=${job}&state=running&after=0&limit=100`)).json).toHaveLength(0);

    const graph = (await call(cl, 'GET', `/api/jobs/${job}/graph`)).json as { tasks: Row[]; omitted: number };
    expect(new Set(graph.tasks.map((t) => t.id))).toEqual(ids);
    expect(graph.omitted).toBe(0);

    const { rows: lanes, bars } = (await call(cl, 'GET', `/api/timeline?job=${job}&format=bars`)).json as {
      rows: { node: string; lane: number }[];
      bars: { task: string; node: string; lane: number }[];
    };
    expect(lanes).toEqual([
      { node: nodeId, nodeName: expect.any(String), lane: 0 },
      { node: nodeId, nodeName: expect.any(String), lane: 1 },
    ]);
    expect(new Set(bars.map((b) => b.task))).toEqual(ids);
    const slotOf = new Map(rows.map((t) => [t.id, t.executor]));
    for (const b of bars) expect(b.lane).toBe(slotOf.get(b.task));
    m.free(refs);
  });

  it('members not ended yet are listed queued or running (on the node they were sent to), then finished', async () => {
    const job = m.jobId;
    const already = ((await call(cl, 'GET', `/api/tasks?job=${job}&limit=1000`)).json as Row[]).length;
    const slow = m.remote(function slow(ms: number) {
      return new Promise<number>((r) => setTimeout(() => r(ms), ms));
    });
    const refs = range(8).map(() => slow.remote(1500));
    const ids = new Set(refs.map((r) => taskOfObject(r.id) as string));
    await cl.until(
      () => (cl.c.coordinator.groups?.runningOf(cl.c.coordinator.gcs.jobs.get(job as never)!) ?? 0) > 0,
      10_000,
      () => 'members on the node',
    );
    const live = ((await call(cl, 'GET', `/api/tasks?job=${job}&limit=1000`)).json as Row[]).filter((t) => ids.has(t.id));
    expect(live).toHaveLength(8);
    for (const t of live) expect(['queued', 'running']).toContain(t.state);
    const running = live.filter((t) => t.state === 'running');
    expect(running.length).toBeGreaterThan(0);
    for (const t of running) expect(t).toMatchObject({ node: nodeId, name: 'slow' });
    for (const t of running) expect(t.startedAt).toBeGreaterThan(0);
    const cursorLive = (await byCursor(cl, job, 3)).rows.filter((t) => ids.has(t.id));
    expect(cursorLive.map((t) => t.id).sort()).toEqual([...ids].sort());
    // The job's row counts the members its node runs.
    expect((await call(cl, 'GET', `/api/jobs/${job}`)).json.progress.running).toBeGreaterThan(0);

    expect(await m.get(refs)).toEqual(range(8).map(() => 1500));
    const after = (await call(cl, 'GET', `/api/tasks?job=${job}&limit=1000`)).json as Row[];
    expect(after).toHaveLength(already + 8);
    for (const t of after.filter((x) => ids.has(x.id))) expect(t).toMatchObject({ state: 'finished', node: nodeId });
    m.free(refs);
  });

  it("a job's history of members stays bounded: MAX_PER_JOB kept, the rest counted as omitted", async () => {
    const job = m.jobId;
    const inc = m.remote(function inc(x: number) {
      return x + 1;
    });
    const n = MAX_PER_JOB + 600;
    const refs = range(n).map((i) => inc.remote(i));
    expect(await m.get(refs)).toEqual(range(n).map((i) => i + 1));
    m.free(refs);
    const submitted = (await call(cl, 'GET', `/api/jobs/${job}`)).json.progress.total as number;
    expect(submitted).toBe(16 + 8 + n);
    await cl.until(
      () => (cl.c.coordinator.groups?.table.groups.size ?? 0) === 0,
      10_000,
      () => 'groups released',
    );
    const graph = (await call(cl, 'GET', `/api/jobs/${job}/graph`)).json as { tasks: Row[]; omitted: number };
    expect(graph.tasks).toHaveLength(MAX_PER_JOB);
    expect(graph.tasks.length + graph.omitted).toBe(submitted);
    const offset = await call(cl, 'GET', `/api/tasks?job=${job}&limit=10`);
    expect(Number(offset.headers['x-total-count'])).toBe(MAX_PER_JOB);
    const cursor = await byCursor(cl, job, 1000);
    expect(cursor.rows).toHaveLength(MAX_PER_JOB);
    expect(new Set(cursor.rows.map((t) => t.id)).size).toBe(MAX_PER_JOB);
  });
});
