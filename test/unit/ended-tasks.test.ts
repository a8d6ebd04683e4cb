// The dashboard's ended tasks (coordinator/dashboard/ended-tasks.ts, issue 14):
// entries that went out (one too many, too old) leave the by-seq list in
// batches; between batches they hold their views. Bounded to a quarter of the
// list, a scan of every kept task looks at no more than 4/3 of them. Task
// groups' members that ended are kept as the tasks they are (session 28).
import { describe, expect, it } from 'vitest';
import { EndedTasks } from '../../coordinator/dashboard/ended-tasks.js';
import { endedMember, endedView } from '../../coordinator/dashboard/member-views.js';
import { viewOf } from '../../coordinator/dashboard/task-history.js';
import type { JobRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import { GroupRecord } from '../../coordinator/groups/group-record.js';
import { newTask } from '../../coordinator/scheduler/task-states.js';
import type { JobId, NodeId, TaskId } from '../../shared/ids.js';
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

/** A group of `n` members of job j2 (member i is j2's submit seq0 + i, numbered so in the task table too). */
function group(n: number, seq0: number): GroupRecord {
  const grp = new GroupRecord(
    taskSpec('j2' as JobId, seq0, 'sq'),
    seq0,
    Array.from({ length: n }, () => [new Uint8Array([1])]),
    { id: 'j2' } as JobRecord,
  );
  grp.seq0 = seq0;
  return grp;
}

describe("task groups' members in the ended tasks (session 28)", () => {
  it('a member is kept as the task it is: its id, job, state, node, slot and times, by its submit number', () => {
    const ended = new EndedTasks(3_600_000, 100);
    const grp = group(8, 10);
    const at = 2_000_000;
    for (let i = 0; i < 8; i++) ended.addMember(grp, i, i === 3 ? 'failed' : 'finished', 'n1' as NodeId, i % 2, 5, at + i);
    expect(ended.size).toBe(8);
    const list = ended.list(at + 10);
    // The most recent first; each the view its job's history makes of it.
    expect(list.map((v) => v.id)).toEqual([7, 6, 5, 4, 3, 2, 1, 0].map((i) => grp.taskId(i)));
    expect(list[4]).toEqual(endedView(endedMember(grp, 3, 'failed', 'n1' as NodeId, 1, 5, at + 3)));
    expect(list[0]).toMatchObject({ job: 'j2', name: 'sq', state: 'finished', node: 'n1', executor: 1, startedAt: at + 2, endedAt: at + 7 });
    const page = ended.scan(12, 3, () => true, 100, at + 10).page;
    expect(page.map((e) => e.seq)).toEqual([13, 14, 15]);
    expect(page.every((e) => e.member)).toBe(true);
    // Counted as tasks of their job by the task history, not here; found here as members only.
    expect(ended.jobSize('j2')).toBe(0);
    expect(ended.has(grp.taskId(2))).toBe(true);
    expect(ended.has(grp.taskId(2), false)).toBe(false);
  });

  it('a group sent again as a new record (same id, numbered anew) files its members under the new numbers', () => {
    const ended = new EndedTasks(3_600_000, 100);
    const old = group(4, 1);
    const again = group(4, 1);
    expect(again.g).toBe(old.g);
    again.seq0 = 50;
    ended.addMember(old, 0, 'finished', 'n1' as NodeId, 0, 1, 1_000);
    ended.addMember(again, 1, 'finished', 'n1' as NodeId, 0, 1, 1_001);
    expect(ended.scan(0, 10, () => true, 100, 1_001).page.map((e) => e.seq)).toEqual([1, 51]);
  });

  it('a member with no run time known (a crash, a lost node, a cancel) has no start: no bar is made up', () => {
    const ended = new EndedTasks(3_600_000, 100);
    ended.addMember(group(4, 0), 1, 'failed', 'n1' as NodeId, -1, -1, 5_000);
    expect(ended.list(5_000)[0]).toMatchObject({ state: 'failed', node: 'n1', startedAt: 0, endedAt: 5_000 });
  });

  it('a burst of 20,000 members files only the newest max, as tasks; what is older than keepMs goes', () => {
    const max = 5000;
    const ended = new EndedTasks(60_000, max);
    const grps = Array.from({ length: 20 }, (_, k) => group(1000, k * 1000));
    const at = 1_000_000;
    for (const grp of grps) for (let i = 0; i < 1000; i++) ended.addMember(grp, i, 'finished', 'n1' as NodeId, 0, 1, at);
    // Made into entries (an id hashed, a view) only for the 5,000 kept.
    expect(ended.size).toBe(max);
    expect(ended.filed).toBe(max);
    expect(ended.list(at)[0].id).toBe(grps[19].taskId(999));
    expect(ended.scan(0, 1, () => true, 10, at).page[0].seq).toBe(15_000);
    // Past keepMs they go, as ended tasks do.
    ended.addTask(task(1), 1, at + 30_000);
    expect(ended.list(at + 60_001).map((v) => v.id)).toEqual(['t1']);
    expect(ended.size).toBe(1);
  });

  it('a member made an ordinary task after it ended, then dropped: one entry, with where and when it ran', () => {
    const ended = new EndedTasks(3_600_000, 100);
    const grp = group(4, 0);
    ended.addMember(grp, 2, 'finished', 'n1' as NodeId, 1, 4, 10_000);
    // Its task record (made with its value: it says not where it ran), dropped later.
    const t = newTask(taskSpec('j2' as JobId, 2, 'sq'), { state: 'finished', liveOutputs: 0 });
    expect(t.spec.taskId).toBe(grp.taskId(2));
    t.endedAt = 10_000;
    ended.addTask(t, 2, 20_000);
    expect(ended.size).toBe(1);
    expect(ended.list(20_000)[0]).toMatchObject({ id: grp.taskId(2), state: 'finished', node: 'n1', executor: 1, startedAt: 9_996 });
    expect(ended.has(grp.taskId(2), false)).toBe(true);
    expect(ended.jobSize('j2')).toBe(1);
  });
});
