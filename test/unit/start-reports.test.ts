// A node reports `started` only for tasks still running after a few ms
// (shared/node/start-reports.ts, issue 14): one coarse timer over the
// unreported set, no timer once nothing runs unreported.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { REPORT_AFTER_MS, StartReports } from '../../shared/node/start-reports.js';
import type { Executor, LocalTask } from '../../shared/node/local-task.js';

function task(name: string, ex: number | null): LocalTask {
  return {
    spec: { name } as LocalTask['spec'],
    args: [],
    missing: 0,
    state: 'running',
    executor: ex === null ? null : ({ index: ex } as Executor),
    blocked: false,
    holds: [],
    timer: null,
  };
}

describe('started reports', () => {
  let clock = 0;
  let reported: string[];
  let r: StartReports;
  beforeEach(() => {
    vi.useFakeTimers();
    clock = 0;
    reported = [];
    r = new StartReports(
      (t) => reported.push(t.spec.name),
      () => clock,
    );
  });
  afterEach(() => vi.useRealTimers());

  const advance = (ms: number) => {
    clock += ms;
    vi.advanceTimersByTime(ms);
  };

  it('a task that ends within REPORT_AFTER_MS is never reported; its end says where and how long it ran', () => {
    const t = task('quick', 1);
    r.dispatched(t);
    advance(2);
    expect(r.settle(t)).toEqual({ ex: 1, ms: 2 });
    t.state = 'ended';
    advance(50);
    expect(reported).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a task still running is reported once, between REPORT_AFTER_MS and twice that; its end then carries nothing', () => {
    const slow = task('slow', 0);
    r.dispatched(slow);
    advance(1);
    const later = task('later', 1);
    r.dispatched(later); // dispatched 1 ms after the timer was armed: not due at its first check
    advance(REPORT_AFTER_MS - 1);
    expect(reported).toEqual(['slow']);
    advance(REPORT_AFTER_MS);
    expect(reported).toEqual(['slow', 'later']);
    advance(100);
    expect(reported).toEqual(['slow', 'later']);
    expect(r.settle(slow)).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('one timer however many tasks run; a task back in the queue or blocked is handled without it', () => {
    const many = Array.from({ length: 1000 }, (_, i) => task(`t${i}`, i % 4));
    for (const t of many) r.dispatched(t);
    expect(vi.getTimerCount()).toBe(1);
    many[0].state = 'ready'; // its executor was killed: it waits in the node's queue, not running
    r.reportNow(many[1]); // it blocks in get: reported at once, before its `blocked`
    expect(reported).toEqual(['t1']);
    r.reportNow(many[1]);
    expect(reported).toEqual(['t1']);
    advance(REPORT_AFTER_MS);
    expect(reported).toHaveLength(999);
    expect(reported).not.toContain('t0');
    expect(r.settle(many[0])).toBeUndefined(); // forgotten: redispatched, it is timed afresh
  });

  it('a task whose executor was killed ends with its run time and no slot', () => {
    const t = task('killed', null);
    r.dispatched(t);
    advance(3);
    expect(r.settle(t)).toEqual({ ex: undefined, ms: 3 });
  });

  it('stop() forgets everything and arms nothing', () => {
    r.dispatched(task('a', 0));
    r.stop();
    advance(100);
    expect(reported).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
