// The task table's answers follow every change of it: a miss is not kept past an add, a task taken out is gone at
// once, an equal id in another string finds the same record (coordinator/gcs/task-table.ts). A remembered last
// lookup (session 22) was dropped in review: ~0.1% of the coordinator's CPU for state kept in step by hand.
import { describe, expect, it } from 'vitest';
import { TaskTable } from '../../coordinator/gcs/task-table.js';
import { newJobId, ownId } from '../../shared/ids.js';
import { taskRecord } from '../helpers/task-record.js';

describe('the task table asked the same id twice', () => {
  const job = newJobId();

  it('a task unknown when asked is known once added (the miss is not remembered past the add)', () => {
    const table = new TaskTable();
    const t = taskRecord(job, 0, 'f');
    const id = t.spec.taskId;
    expect(table.has(id)).toBe(false);
    expect(table.get(id)).toBeUndefined();
    table.add(id, t);
    expect(table.has(id)).toBe(true);
    expect(table.get(id)).toBe(t);
    expect(table.seqOf(id)).toBe(1);
  });

  it('a task taken out is gone at once, and a task added again under its id is the new record', () => {
    const table = new TaskTable();
    const t = taskRecord(job, 1, 'f');
    const id = t.spec.taskId;
    table.add(id, t);
    expect(table.get(id)).toBe(t);
    expect(table.take(id)?.t).toBe(t);
    expect(table.has(id)).toBe(false);
    expect(table.get(id)).toBeUndefined();
    expect(table.take(id)).toBeUndefined();
    const again = taskRecord(job, 1, 'f');
    table.set(id, again);
    expect(table.get(id)).toBe(again);
    expect(table.size).toBe(1);
  });

  it('an equal id in another string finds the same record; another id finds its own', () => {
    const table = new TaskTable();
    const a = taskRecord(job, 2, 'f');
    const b = taskRecord(job, 3, 'f');
    table.add(a.spec.taskId, a);
    table.add(b.spec.taskId, b);
    expect(table.get(ownId(a.spec.taskId))).toBe(a);
    expect(table.get(b.spec.taskId)).toBe(b);
    expect(table.get(a.spec.taskId)).toBe(a);
    table.delete(b.spec.taskId);
    expect(table.has(ownId(b.spec.taskId))).toBe(false);
    expect(table.get(a.spec.taskId)).toBe(a);
  });
});
