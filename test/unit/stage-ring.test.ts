// Ended tasks and freed objects staged for the dashboard in slots written in
// place (coordinator/dashboard/stage-ring.ts, issue 14, session 24): a read
// files the newest `max` of a burst, each with the view or row its record had
// when it left, as when a view was made for every task at its drop.
import { describe, expect, it } from 'vitest';
import { EndedTasks } from '../../coordinator/dashboard/ended-tasks.js';
import { FreedObjects } from '../../coordinator/dashboard/recent.js';
import { StageRing } from '../../coordinator/dashboard/stage-ring.js';
import { viewOf } from '../../coordinator/dashboard/task-history.js';
import type { ObjectRecord } from '../../coordinator/gcs/tables.js';
import { objectView } from '../../coordinator/http/views.js';
import { childTaskId, newJobId, newNodeId, putObjectId, returnObjectId, rootTaskId, type ObjectId } from '../../shared/ids.js';
import { objectRecord, taskRecord, taskSpec } from '../helpers/task-record.js';

describe('StageRing', () => {
  it('drains what was staged since the last drain, oldest first, the newest `max` of a burst', () => {
    let made = 0;
    const ring = new StageRing<{ n: number }>(4, () => ({ n: made++ }));
    const drained = (): number[] => {
      const out: number[] = [];
      ring.drain((s) => out.push(s.n));
      return out;
    };
    expect(drained()).toEqual([]);
    for (let i = 1; i <= 3; i++) ring.take().n = i;
    expect(drained()).toEqual([1, 2, 3]);
    expect(ring.length).toBe(0);
    for (let i = 4; i <= 13; i++) ring.take().n = i;
    expect(ring.length).toBe(4);
    expect(drained()).toEqual([10, 11, 12, 13]);
    ring.take().n = 14;
    expect(drained()).toEqual([14]);
    // Slots are made once: no more than `max`, however many were staged.
    expect(made).toBe(4);
  });

  it('a ring of no slots stages one, never more (a history that keeps none)', () => {
    let made = 0;
    const ring = new StageRing<{ n: number }>(0, () => ({ n: made++ }));
    for (let i = 1; i <= 5; i++) ring.take().n = i;
    const out: number[] = [];
    ring.drain((s) => out.push(s.n));
    expect(out).toEqual([5]);
    expect(made).toBe(1);
  });
});

describe('ended tasks staged from their records', () => {
  const job = newJobId();

  it('a burst of 20,000 files the newest 5,000 with the views their records had when they left', () => {
    const max = 5000;
    const ended = new EndedTasks(3_600_000, max);
    const now = 1_000_000;
    const views = new Map<string, ReturnType<typeof viewOf>>();
    const node = newNodeId();
    for (let i = 1; i <= 20_000; i++) {
      const t = taskRecord(job, i, i % 2 ? 'odd' : 'even', { state: 'finished', ranOn: node, executor: i % 3, startedAt: 10 + i, endedAt: 20 + i });
      ended.addTask(t, i, now);
      if (i > 20_000 - max) views.set(t.spec.taskId, viewOf(t));
      // What happens to the record after it left does not show in what was staged.
      t.state = 'cancelled';
      t.endedAt = 0;
    }
    const all = ended.scan(0, Infinity, () => true, Infinity, now);
    expect(all.page.map((e) => e.seq)).toEqual(Array.from({ length: max }, (_, k) => 15_001 + k));
    for (const e of all.page) expect(e.v).toEqual(views.get(e.id));
    expect(ended.filed).toBe(max);
    expect(ended.jobSize(job)).toBe(max);
  });

  it('a task with ref arguments lists the tasks and puts it took; staged in order', () => {
    const ended = new EndedTasks(3_600_000, 10);
    const parent = childTaskId(rootTaskId(job), 900);
    const put = putObjectId(rootTaskId(job), 1);
    const args = [{ r: returnObjectId(parent, 0) }, { r: put }, { v: new Uint8Array(1) }] as unknown as ReturnType<typeof taskSpec>['args'];
    const t = taskRecord(job, 901, 'f', { state: 'failed' });
    t.spec = { ...t.spec, args };
    ended.addTask(t, 1, 5);
    const next = taskRecord(job, 902, 'g', { state: 'finished' });
    ended.addTask(next, 2, 5);
    const listed = ended.list(5);
    expect(listed.map((v) => v.id)).toEqual([next.spec.taskId, t.spec.taskId]);
    expect(listed[1]).toEqual(viewOf(t));
    expect(listed[1].deps).toEqual([parent]);
    expect(listed[1].puts).toEqual([put]);
  });
});

describe('freed objects staged from their records', () => {
  const job = newJobId();
  const task = childTaskId(rootTaskId(job), 3);
  const record = (id: ObjectId, more: Partial<ObjectRecord> = {}): ObjectRecord => objectRecord(id, job, more);

  it('lists the rows objectView built when they were freed, the newest `max` of a burst', () => {
    const freed = new FreedObjects(60_000, 3);
    const cases = [
      record(returnObjectId(task, 0)),
      record(putObjectId(task, 1), { v: new Uint8Array(8), refs: 2 }),
      record(returnObjectId(task, 1), { state: 'failed', failure: { name: 'TaskError', message: 'boom', code: 'TASK_ERROR' } as ObjectRecord['failure'] }),
    ];
    const rows = cases.map((o) => objectView(o, true));
    freed.addRecord(record(returnObjectId(task, 7)), 1); // pushed out by the three after it
    for (const o of cases) {
      freed.addRecord(o, 2);
      o.size = 0; // changed after it was freed: not seen
    }
    expect(freed.list(3)).toEqual(rows.reverse());
    expect(freed.size).toBe(3);
    expect(freed.filed).toBe(3);
  });
});
