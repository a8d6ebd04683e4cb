// The node's ready queue (shared/node/ready-queue.ts): how many of a function's short tasks leave in one executor
// batch. A group's members go in batches bounded by their measured work, so that the rest of a slice waits here,
// where `giveBack` can hand it back (work stealing, issue 14).
import { describe, expect, it } from 'vitest';
import type { LocalTask } from '../../shared/node/local-task.js';
import { ReadyQueue } from '../../shared/node/ready-queue.js';

function task(i: number, member: boolean): LocalTask {
  return {
    spec: { taskId: `t${i}`, fnId: 'f', timeoutMs: 0 },
    args: [],
    missing: 0,
    state: 'ready',
    executor: null,
    blocked: false,
    holds: [],
    timer: null,
    member: member ? { slice: {}, i } : undefined,
  } as unknown as LocalTask;
}

/** Batch sizes a queue of `n` tasks of a function measured at `ms` leaves in, for one free executor each time. */
function batches(n: number, ms: number, member: boolean): number[] {
  const q = new ReadyQueue();
  q.recordRun('f', ms);
  for (let i = 0; i < n; i++) q.push(task(i, member), false);
  const out: number[] = [];
  for (let head = q.peek(); head; head = q.peek()) out.push(q.takeBatch(head, 1).length);
  return out;
}

describe('ready queue batches', () => {
  it('a slice of members measured at 0.2 ms leaves 5 at a time (1 ms of work), the rest stays queued', () => {
    expect(batches(16, 0.2, true)).toEqual([5, 5, 5, 1]);
  });

  it('empty members still go 128 at a time', () => {
    expect(batches(300, 0.002, true)).toEqual([128, 128, 44]);
  });

  it('members measured long go one at a time, as plain tasks', () => {
    expect(batches(3, 5, true)).toEqual([1, 1, 1]);
  });

  it('plain tasks keep their batches of 32 whatever their measure below 1 ms', () => {
    expect(batches(40, 0.2, false)).toEqual([32, 8]);
  });
});
