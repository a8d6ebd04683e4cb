// /api/tasks paged by cursor (issue 14): live tasks from the task table's
// submit order, ended ones from the ended records by the same sequence. A
// page is a binary search plus what it returns, never a walk of every task;
// tasks that end or are submitted between pages neither repeat nor go missing.
// White-box: a real coordinator app through fastify.inject(), hand-made task records.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { TaskTable } from '../../coordinator/gcs/task-table.js';
import { EndedTasks } from '../../coordinator/dashboard/ended-tasks.js';
import { taskPage } from '../../coordinator/http/task-pages.js';
import { newJobId, type JobId } from '../../shared/ids.js';
import { taskRecord } from '../helpers/task-record.js';
import type { TaskRecord } from '../../coordinator/gcs/tables.js';

const TOKEN = 'task-pages-token';
let running: RunningCoordinator | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  await running?.close();
  running = null;
});

function submit(r: RunningCoordinator, job: JobId, index: number, name: string): TaskRecord {
  const t = taskRecord(job, index, name);
  r.coordinator.gcs.taskTable.set(t.spec.taskId, t);
  return t;
}

async function get(r: RunningCoordinator, url: string): Promise<{ names: string[]; total: number | undefined; next: string | undefined }> {
  const res = await r.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.statusCode, res.body).toBe(200);
  const next = res.headers['x-next-cursor'];
  const total = res.headers['x-total-count'];
  return {
    names: (res.json() as { name: string }[]).map((t) => t.name),
    total: total === undefined ? undefined : Number(total),
    next: next === undefined ? undefined : String(next),
  };
}

async function all(r: RunningCoordinator, query: string, between: (page: number) => void = () => {}): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined = '0';
  let pages = 0;
  while (cursor !== undefined) {
    const p = await get(r, `/api/tasks?after=${cursor}&${query}`);
    names.push(...p.names);
    cursor = p.next;
    between(++pages);
  }
  return { names, pages };
}

/** Every way to walk the whole table or the whole ended list, spied. */
function spyWalks() {
  return [
    vi.spyOn(TaskTable.prototype, 'values'),
    vi.spyOn(TaskTable.prototype, 'entries'),
    vi.spyOn(TaskTable.prototype, 'keys'),
    vi.spyOn(TaskTable.prototype, 'forEach'),
    vi.spyOn(EndedTasks.prototype, 'list'),
  ];
}

describe('/api/tasks by cursor', () => {
  it('pages through live and ended tasks once, in submit order, per job from the job index, with no walk of the table', async () => {
    const r = (running = await startCoordinator({ memory: true, port: 0, token: TOKEN }));
    const [a, b] = [newJobId(), newJobId()];
    const tasks = Array.from({ length: 250 }, (_, i) => submit(r, i % 2 ? b : a, i, `t${i}`));
    // Every fifth leaves the GCS (its lineage dropped): listed from the ended records, at its place.
    for (const t of tasks.filter((_, i) => i % 5 === 0)) r.coordinator.gcs.dropTask(t.spec.taskId, r.coordinator.gcs.jobs.get(t.spec.jobId));
    expect(r.coordinator.gcs.tasks.size).toBe(200);
    const walks = spyWalks();
    const first = await get(r, '/api/tasks?after=0&limit=40');
    expect(first.total).toBe(250);
    const { names, pages } = await all(r, 'limit=40');
    expect(pages).toBe(7);
    expect(names).toEqual(Array.from({ length: 250 }, (_, i) => `t${i}`));
    const ofA = await all(r, `limit=1000&job=${a}`);
    expect(ofA.names).toEqual(Array.from({ length: 125 }, (_, i) => `t${i * 2}`));
    expect((await get(r, `/api/tasks?after=0&limit=10&job=${a}`)).total).toBe(125);
    // The ended ones of job b only, by state.
    const endedOfB = await all(r, `limit=7&job=${b}&state=queued`);
    expect(endedOfB.names).toHaveLength(125);
    for (const w of walks) expect(w).not.toHaveBeenCalled();
  });

  it('tasks ending and submitted between pages: each listed once, where it was submitted', async () => {
    const r = (running = await startCoordinator({ memory: true, port: 0, token: TOKEN }));
    const job = newJobId();
    const tasks = Array.from({ length: 100 }, (_, i) => submit(r, job, i, `t${i}`));
    let late = 100;
    const { names } = await all(r, 'limit=30', (page) => {
      if (page === 1) {
        // Some of the first page and some not reached yet end; newcomers come.
        for (const t of tasks.slice(10, 60)) r.coordinator.gcs.dropTask(t.spec.taskId, r.coordinator.gcs.jobs.get(t.spec.jobId));
        for (let i = 0; i < 5; i++, late++) submit(r, job, late, `t${late}`);
      }
      if (page === 2) for (const t of tasks.slice(60, 95)) r.coordinator.gcs.dropTask(t.spec.taskId, r.coordinator.gcs.jobs.get(t.spec.jobId));
    });
    expect(names).toEqual(Array.from({ length: 105 }, (_, i) => `t${i}`));
  });

  it('a cursor that is not digits is refused', async () => {
    const r = (running = await startCoordinator({ memory: true, port: 0, token: TOKEN }));
    const res = await r.app.inject({ method: 'GET', url: '/api/tasks?after=x1', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(400);
  });
});

describe('taskPage', () => {
  it('a filter that matches few tasks costs its budget per page: short pages, a cursor that goes on, each match once', () => {
    const table = new TaskTable();
    const ended = new EndedTasks(60_000, 5000);
    const job = newJobId();
    for (let i = 0; i < 1000; i++) {
      const t = taskRecord(job, i, `t${i}`, { state: i % 100 === 7 ? 'running' : 'queued' });
      table.set(t.spec.taskId, t);
    }
    // Half of the running ones ended (left the table).
    for (let i = 107; i < 1000; i += 200) {
      const id = taskRecord(job, i, `t${i}`).spec.taskId;
      const t = table.get(id)!;
      ended.addTask(t, table.seqOf(id));
      table.delete(id);
    }
    const names: string[] = [];
    let after = 0;
    let pages = 0;
    for (;;) {
      const p = taskPage(table, ended, { after: String(after), state: 'running' }, 100, 50);
      names.push(...p.rows.map((t) => t.name));
      expect(p.total).toBeNull();
      pages++;
      if (p.next === null) break;
      expect(p.next).toBeGreaterThan(after);
      after = p.next;
    }
    expect(names).toEqual(Array.from({ length: 10 }, (_, i) => `t${i * 100 + 7}`));
    // 1000 tasks, 50 looked at per page: about 20 pages, never one walk of all.
    expect(pages).toBeGreaterThanOrEqual(19);
    expect(pages).toBeLessThanOrEqual(21);
  });
});

describe('TaskTable add and take', () => {
  it('add places a new task as set does; take returns the record it drops with its submit seq, and the job order forgets it; the last of a job takes the order of its job', () => {
    const table = new TaskTable();
    const job = newJobId();
    const ts = Array.from({ length: 5 }, (_, i) => taskRecord(job, i, `t${i}`));
    ts.forEach((t, i) => (i % 2 ? table.add(t.spec.taskId, t) : table.set(t.spec.taskId, t)));
    expect(ts.map((t) => table.seqOf(t.spec.taskId))).toEqual([1, 2, 3, 4, 5]);
    const taken = table.take(ts[2].spec.taskId);
    expect([taken?.t, taken?.seq]).toEqual([ts[2], 3]);
    expect(table.take(ts[2].spec.taskId)).toBeUndefined();
    expect(table.delete(ts[0].spec.taskId)).toBe(true);
    expect([table.size, table.jobSize(job), table.has(ts[2].spec.taskId)]).toEqual([3, 3, false]);
    expect(table.scan(0, 10, () => true, 100, job).page.map((e) => e.seq)).toEqual([2, 4, 5]);
    for (const i of [1, 3, 4]) table.take(ts[i].spec.taskId);
    expect([table.size, table.jobSize(job)]).toEqual([0, 0]);
    // A place finds its record while it is on record, and what is on record under its id after.
    const place = table.add(ts[3].spec.taskId, ts[3]);
    expect(table.at(place)).toBe(ts[3]);
    table.take(ts[3].spec.taskId);
    expect(table.at(place)).toBeUndefined();
    const again = taskRecord(job, 3, 't3 again');
    table.add(ts[3].spec.taskId, again);
    expect(table.at(place)).toBe(again);
    table.take(ts[3].spec.taskId);
    // The job comes back with a task: a new order of its own, nothing of the old one's.
    table.add(ts[1].spec.taskId, ts[1]);
    expect(table.scan(0, 10, () => true, 100, job).page.map((e) => e.t)).toEqual([ts[1]]);
  });
});
