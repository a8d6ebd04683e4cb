// The dashboard's ended tasks (coordinator/dashboard/ended-tasks.ts, issue 14):
// entries that went out (one too many, too old) leave the by-seq list in
// batches; between batches they hold their views. Bounded to a quarter of the
// list, a scan of every kept task looks at no more than 4/3 of them.
import { describe, expect, it } from 'vitest';
import { EndedTasks } from '../../coordinator/dashboard/ended-tasks.js';
import { viewOf } from '../../coordinator/dashboard/task-history.js';
import type { TaskRecord } from '../../coordinator/gcs/tables.js';
import { newTask } from '../../coordinator/scheduler/task-states.js';
import type { JobId, TaskId } from '../../shared/ids.js';
import { taskSpec } from '../helpers/task-record.js';

/** Task `t<i>` of job j1 that finished (`attempt`: a re-run's). */
const task = (i: number, attempt = 0): TaskRecord =>
  newTask(taskSpec('j1' as JobId, i, 'noop', { taskId: `t${i}` as TaskId, parentId: 'j1' as TaskId, attempt }), { state: 'finished', liveOutputs: 0 });

describe('ended tasks kept for the dashboard and /api/tasks', () => {
  it('100,000 tasks through a table of 5,000: entries gone out never pass a quarter of the list', () => {
    const max = 5000;
    const ended = new EndedTasks(3_600_000, max);
    const now = 1_000_000;
    for (let i = 1; i <= 100_000; i++) {
      ended.addTask(task(i), i, now);
      if (i < max || i % 97 !== 0) continue;
      expect(ended.size).toBe(max);
      // Every kept task in one scan, with a budget of 4/3 of them: the entries out in between fit in it.
      const all = ended.scan(0, Infinity, () => true, Math.ceil((max * 4) / 3) + 1, now);
      expect(all.through).toBeNull();
      expect(all.page.length).toBe(max);
      expect(all.page[0].seq).toBe(i - max + 1);
    }
  });

  it('a burst of 20,000 between two reads files only the newest 5,000 it keeps, in submit order (session 17)', () => {
    const max = 5000;
    const ended = new EndedTasks(3_600_000, max);
    const now = 1_000_000;
    for (let i = 1; i <= 20_000; i++) ended.addTask(task(i), i, now);
    const all = ended.scan(0, Infinity, () => true, Infinity, now);
    expect(all.page.map((e) => e.seq)).toEqual(Array.from({ length: max }, (_, k) => 15_001 + k));
    expect(ended.list(now)[0].id).toBe('t20000');
    expect(ended.jobSize('j1')).toBe(max);
    // Filing one by one filed all 20,000 (and took 15,000 out again); now only the 5,000 kept.
    expect(ended.filed).toBe(max);
    // A task that left again (a re-run) stands once, with its newest view.
    const again = task(20_000, 1);
    ended.addTask(again, 20_001, now);
    expect(ended.size).toBe(max);
    expect(ended.list(now)[0]).toEqual(viewOf(again));
  });
});
