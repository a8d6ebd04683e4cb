// A task group's members in every view of a job's tasks (issue 14, session 27; docs/decisions.md "Task groups in
// the views"): a driver's batch travels as one group and is kept as one record, yet the state API lists each member
// as the task it is, with its node and executor slot, in /api/tasks by job (offset and cursor), the job's graph and
// its timeline; the history of a job stays bounded. Across jobs (the dashboard's Tasks list) ended members are
// recent tasks, listed and bounded as ended tasks are (session 28). A real coordinator, edge node and driver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { taskOfObject } from '../../shared/ids.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { MAX_EACH } from '../../coordinator/dashboard/recent.js';
import { MAX_PER_JOB } from '../../coordinator/dashboard/task-history.js';
import { Cluster } from '../helpers/cluster.js';
import { call, noneLive, plainThenSquares } from './helpers.js';

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

  it("a failed member's bar in the timeline is its run, as its node measured it (session 28; was 1 ms)", async () => {
    const d = await cl.driver(); // a job of its own (this file's job fills its history below)
    const boom = d.remote(function boom(ms: number) {
      return new Promise<number>((_, no) => setTimeout(() => no(new Error(`boom after ${ms} ms`)), ms));
    });
    const before = cl.c.coordinator.statsJson().groupsSubmitted;
    const refs = range(6).map(() => boom.remote(80));
    const got = await Promise.allSettled(refs.map((r) => d.get(r)));
    expect(got.every((g) => g.status === 'rejected')).toBe(true);
    expect(cl.c.coordinator.statsJson().groupsSubmitted - before).toBe(1);
    const ids = new Set(refs.map((r) => taskOfObject(r.id) as string));
    const rows = ((await call(cl, 'GET', `/api/tasks?job=${d.jobId}&limit=100`)).json as Row[]).filter((t) => ids.has(t.id));
    expect(rows).toHaveLength(6);
    for (const t of rows) {
      expect(t).toMatchObject({ state: 'failed', node: nodeId });
      expect([0, 1]).toContain(t.executor);
      // Each waited 80 ms before it threw: its run is at least that (its node's measure), not the report's instant.
      expect(t.endedAt - t.startedAt).toBeGreaterThanOrEqual(75);
      expect(t.startedAt).toBeGreaterThanOrEqual(t.submittedAt - 5);
    }
    const { bars } = (await call(cl, 'GET', `/api/timeline?job=${d.jobId}&format=bars`)).json as {
      bars: { task: string; state: string; lane: number; start: number; end: number }[];
    };
    const mine = bars.filter((b) => ids.has(b.task));
    expect(mine).toHaveLength(6);
    for (const b of mine) {
      expect(b.state).toBe('failed');
      expect(b.end - b.start).toBeGreaterThanOrEqual(75);
    }
    d.free(refs);
  });

  it('a member made an ordinary task after it ended keeps where and when it ran in cursor pages once its record left (session 28)', async () => {
    const d = await cl.driver(); // a job of its own (this file's job fills its history below)
    const sq = d.remote(function sq(x: number) {
      return x * x;
    });
    const use = d.remote(function use(x: number) {
      return x + 1;
    });
    const refs = range(8).map((i) => sq.remote(i));
    expect(await d.get(refs)).toEqual(range(8).map((i) => i * i));
    // Its ref passed on: member 3 becomes an ordinary task (with its value; its record says not where it ran).
    const before = cl.c.coordinator.statsJson().groupMembersMaterialized;
    const u = use.remote(refs[3] as never);
    expect(await d.get(u)).toBe(10);
    expect(cl.c.coordinator.statsJson().groupMembersMaterialized - before).toBe(1);
    d.free([...refs, u]);
    const id3 = taskOfObject(refs[3].id) as string;
    await cl.until(
      () => !cl.c.coordinator.gcs.tasks.has(id3 as never),
      10_000,
      () => 'the materialized member to leave the GCS',
    );
    const rows = (await byCursor(cl, d.jobId, 100)).rows.filter((t) => t.id === id3);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'sq', state: 'finished', node: nodeId });
    expect(rows[0].startedAt).toBeGreaterThan(0);
    const across = ((await call(cl, 'GET', '/api/tasks?limit=1000&after=0&name=sq')).json as Row[]).filter((t) => t.id === id3);
    expect(across).toHaveLength(1);
    expect(across[0]).toMatchObject({ node: nodeId });
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

describe("task groups' members in the recent tasks across jobs (the dashboard's Tasks list; session 28)", () => {
  let cl: Cluster;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
  });
  afterAll(() => cl?.stop());

  it('a grouped job that just ended is listed first, its members as tasks that left, after older ended tasks', async () => {
    // Older: a job of 60 plain tasks (groups off), then 500 squares of another job (groups), each ended and freed:
    // they left the GCS for the ended tasks.
    const { m, ids } = await plainThenSquares(cl);

    // The Tasks list's first page (no job): the most recent ended first, the squares' members.
    const first = await call(cl, 'GET', '/api/tasks?limit=50&offset=0');
    const rows = first.json as Row[];
    expect(rows).toHaveLength(50);
    for (const t of rows) {
      expect(ids.has(t.id)).toBe(true);
      expect(t).toMatchObject({ job: m.jobId, name: 'sq', state: 'finished' });
      expect(t.node).not.toBeNull();
    }
    expect(Number(first.headers['x-total-count'])).toBe(560);
    // By cursor, every row once: the 60 tasks and the 500 members.
    const all: Row[] = [];
    let after = '0';
    for (let k = 0; k < 100 && after !== undefined; k++) {
      const r = await call(cl, 'GET', `/api/tasks?after=${after}&limit=100`);
      all.push(...(r.json as Row[]));
      after = r.headers['x-next-cursor'] as string;
    }
    expect(all).toHaveLength(560);
    expect(new Set(all.map((t) => t.id)).size).toBe(560);
    expect(all.filter((t) => ids.has(t.id))).toHaveLength(500);
    // Filtered as tasks are.
    expect((await call(cl, 'GET', `/api/tasks?name=sq&state=finished&limit=1000`)).json).toHaveLength(500);
  });

  it("members across jobs are bounded as ended tasks are (MAX_EACH), not by each job's history", async () => {
    let last: string[] = [];
    // Three jobs of 2,000 (each within its job's MAX_PER_JOB: the history keeps them all).
    for (let k = 0; k < 3; k++) {
      const m = await cl.driver();
      const inc = m.remote(function inc(x: number) {
        return x + 1;
      });
      const refs = range(2000).map((i) => inc.remote(i));
      expect((await m.get(refs)).length).toBe(2000);
      m.free(refs);
      last = refs.map((r) => taskOfObject(r.id) as string);
    }
    await noneLive(cl);
    const first = await call(cl, 'GET', '/api/tasks?limit=1000&offset=0');
    expect(Number(first.headers['x-total-count'])).toBe(MAX_EACH);
    // The most recent first: the last job's members.
    const second = await call(cl, 'GET', '/api/tasks?limit=1000&offset=1000');
    expect(new Set([...(first.json as Row[]), ...(second.json as Row[])].map((t) => t.id))).toEqual(new Set(last));
    const cursor = await call(cl, 'GET', '/api/tasks?after=0&limit=10');
    expect(Number(cursor.headers['x-total-count'])).toBe(MAX_EACH);
  });
});
