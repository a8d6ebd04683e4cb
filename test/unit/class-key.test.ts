// The scheduler's class of a task (coordinator/scheduler/class-queue.ts classKey): it keeps the last plain
// class's key by function and resources object (issue 14, session 14); a run of tasks of mixed functions,
// resources and policies must get the keys a fresh computation gives.
import { describe, expect, it } from 'vitest';
import { classKey } from '../../coordinator/scheduler/class-queue.js';
import type { TaskRecord } from '../../coordinator/gcs/tables.js';
import type { TaskSpec } from '../../shared/protocol/task.js';
import { newJobId, type NodeId } from '../../shared/ids.js';
import { taskRecord } from '../helpers/task-record.js';

const job = newJobId();
let index = 0;
function task(fn: string, resources: Record<string, number>, scheduling?: TaskSpec['scheduling'], replicas = false): TaskRecord {
  const t = taskRecord(job, index++, fn);
  t.spec = { ...t.spec, resources, scheduling };
  if (replicas) t.replicas = { used: new Set() } as unknown as TaskRecord['replicas'];
  return t;
}

describe('classKey', () => {
  it('tasks of mixed functions, resources and policies get their own class, whatever came just before', () => {
    const one = { cpu: 1 };
    const a = task('a', one);
    const fa = a.spec.fnId;
    const b = task('b', one);
    const fb = b.spec.fnId;
    const node = 'ab'.repeat(16) as NodeId;
    const runs: [TaskRecord, string][] = [
      [a, `${fa}|cpu=1`],
      [task('a', one), `${fa}|cpu=1`],
      // The same values in another object: the same class.
      [task('a', { cpu: 1 }), `${fa}|cpu=1`],
      [task('a', { cpu: 2 }), `${fa}|cpu=2`],
      [task('a', one), `${fa}|cpu=1`],
      [b, `${fb}|cpu=1`],
      [task('a', one), `${fa}|cpu=1`],
      [task('a', one, 'spread'), `${fa}|cpu=1|spread`],
      [task('a', one), `${fa}|cpu=1`],
      [task('a', one, { node, soft: true }), `${fa}|cpu=1|node=${node}~`],
      [task('a', one, { node, soft: false }), `${fa}|cpu=1|node=${node}`],
      [task('a', one, 'default'), `${fa}|cpu=1`],
      [task('a', { cpu: 1, gpu: 1 }), `${fa}|cpu=1|gpu=1`],
      [task('a', one), `${fa}|cpu=1`],
    ];
    for (const [t, key] of runs) expect(classKey(t)).toBe(key);
    const r = task('a', one, undefined, true);
    expect(classKey(r)).toBe(`${fa}|cpu=1|replica=${r.spec.taskId}`);
    expect(classKey(task('a', one))).toBe(`${fa}|cpu=1`);
    // A replica right after a plain task of its class is a class of its own too.
    const r2 = task('a', one, undefined, true);
    expect(classKey(r2)).toBe(`${fa}|cpu=1|replica=${r2.spec.taskId}`);
  });
});
