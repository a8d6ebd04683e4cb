// A node record's set of tasks (coordinator/nodes/load.ts): an idle node shares the empty NO_TASKS, a node holding
// tasks has a set of its own, given back when its last task leaves (issue 14, session 38: what an idle node of a
// crowd costs the coordinator's heap).
import { describe, expect, it } from 'vitest';
import { holdsNothing, NO_TASKS, place, unplace } from '../../coordinator/nodes/load.js';
import type { TaskRecord } from '../../coordinator/gcs/tables.js';
import { nodeRecord } from '../helpers/node-record.js';

const task = (): TaskRecord => ({ spec: { resources: { cpu: 1 } } }) as unknown as TaskRecord;

describe('a node record holds its tasks', () => {
  it('two nodes place tasks: each has its own set, and the shared empty one stays empty', () => {
    const [a, b] = [nodeRecord('a'), nodeRecord('b')];
    expect(a.tasks).toBe(NO_TASKS);
    const [t1, t2, t3] = [task(), task(), task()];
    place(a, t1);
    place(a, t2);
    place(b, t3);
    expect([...a.tasks]).toEqual([t1, t2]);
    expect([...b.tasks]).toEqual([t3]);
    expect(a.tasks).not.toBe(b.tasks);
    expect(NO_TASKS.size).toBe(0);
    expect(a.inflightTasks).toBe(2);
    expect(a.inflight.cpu).toBe(2);
  });

  it('its last task leaves: the record is back on the shared empty set, and a task placed again gets a new one', () => {
    const n = nodeRecord('n');
    const [t1, t2] = [task(), task()];
    place(n, t1);
    place(n, t2);
    unplace(n, t1);
    expect([...n.tasks]).toEqual([t2]);
    expect(holdsNothing(n)).toBe(false);
    unplace(n, t2);
    expect(n.tasks).toBe(NO_TASKS);
    expect(holdsNothing(n)).toBe(true);
    expect(n.inflightTasks).toBe(0);
    expect(n.inflight.cpu).toBe(0);
    place(n, t1);
    expect([...n.tasks]).toEqual([t1]);
    expect(NO_TASKS.size).toBe(0);
  });

  it('a task unplaced from a node holding none changes no set (a task handed back twice)', () => {
    const n = nodeRecord('n');
    unplace(n, task());
    expect(n.tasks).toBe(NO_TASKS);
    expect(NO_TASKS.size).toBe(0);
  });
});
