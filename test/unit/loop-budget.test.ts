// One budget per event-loop iteration (issue 14, coordinator/loop-budget.ts):
// the input slice and the drain of waiting frames, the scheduler's passes and
// the flush turns each stop at their own bound and at the iteration's end,
// past which each still gets its floor. A clock the test moves and an
// iteration boundary the test calls: deterministic.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LOOP_FLOOR_MS, LOOP_MS, LoopBudget, OVER_MS } from '../../coordinator/loop-budget.js';
import { MESSAGE_SLICE_MS, TurnBudget } from '../../coordinator/message-slices.js';
import { PASS_MS } from '../../coordinator/scheduler/scheduler.js';
import { FLUSH_MS } from '../../coordinator/flush-turns.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** A loop budget whose iterations end when the test says (`next()`), on a clock the test moves. */
function iterations() {
  let now = 1000;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  let idle = 0;
  let cpu = 0;
  let boundary: (() => void)[] = [];
  const later = (fn: () => void) => void boundary.push(fn);
  const loop = new LoopBudget(LOOP_MS, LOOP_FLOOR_MS, later, () => idle);
  return {
    loop,
    later,
    at: () => now,
    work: (ms: number) => void ((now += ms), (cpu += ms)),
    /** The process's CPU clock (it runs with work(), not with wait()). */
    cpu: () => cpu,
    /** The loop waits in its poll phase (libuv's idle time grows with the clock). */
    wait: (ms: number) => void ((now += ms), (idle += ms)),
    /** Boundary callbacks waiting for the iteration's end (the coordinator's: 0 ms timers). */
    boundaries: () => boundary.length,
    next: () => {
      const fns = boundary;
      boundary = [];
      for (const f of fns) f();
    },
  };
}

describe('one budget per loop iteration', () => {
  it('the parts of one iteration share LOOP_MS: each stops at its own bound or at the iteration end, and gets its floor past it', () => {
    const l = iterations();
    // The input slice takes its whole bound, then a pass, then the flushes, in one iteration.
    const t0 = l.at();
    expect(l.loop.until(MESSAGE_SLICE_MS)).toBe(t0 + MESSAGE_SLICE_MS);
    l.work(MESSAGE_SLICE_MS);
    const pass = l.loop.until(PASS_MS);
    expect(pass).toBe(t0 + Math.min(MESSAGE_SLICE_MS + PASS_MS, LOOP_MS));
    l.work(pass - l.at());
    const flush = l.loop.until(FLUSH_MS);
    expect(flush).toBe(Math.max(t0 + LOOP_MS, l.at() + LOOP_FLOOR_MS));
    l.work(flush - l.at());
    // Past the end: a floor each, whatever the part's own bound.
    expect(l.loop.until(PASS_MS) - l.at()).toBe(LOOP_FLOOR_MS);
    expect(l.loop.floored).toBeGreaterThan(0);
    // Alone, each part bounded by itself came to 10 + 8 + 8 = 26 ms; together they stop at LOOP_MS plus a floor.
    expect(l.at() - t0).toBeLessThanOrEqual(LOOP_MS + LOOP_FLOOR_MS);
    expect(MESSAGE_SLICE_MS + PASS_MS + FLUSH_MS).toBeGreaterThan(LOOP_MS);
    // The next iteration starts afresh.
    l.next();
    expect(l.loop.until(PASS_MS)).toBe(l.at() + PASS_MS);
    expect(l.loop.iterations).toBe(2);
  });

  it('the input slice is one per iteration for the poll phase and the drain together, and ends with the iteration budget', () => {
    const l = iterations();
    const input = new TurnBudget(MESSAGE_SLICE_MS, l.loop);
    const t0 = l.at();
    // Frames read in the poll phase use 6 ms of the slice...
    expect(input.deadline()).toBe(t0 + MESSAGE_SLICE_MS);
    l.work(6);
    expect(input.spent()).toBe(false);
    // ...the drain in the check phase of the same iteration has what is left (it had a fresh 10 ms before).
    expect(input.deadline()).toBe(t0 + MESSAGE_SLICE_MS);
    l.work(5);
    expect(input.spent()).toBe(true);
    // Next iteration: a pass and flushes took the iteration's budget before any frame came: input gets its floor only.
    l.next();
    const t1 = l.at();
    l.loop.until(PASS_MS);
    l.work(LOOP_MS);
    expect(input.spent()).toBe(false);
    expect(input.deadline()).toBe(t1 + LOOP_MS + LOOP_FLOOR_MS);
    l.work(LOOP_FLOOR_MS + 1);
    expect(input.spent()).toBe(true);
    l.next();
    expect(input.spent()).toBe(false);
    expect(input.deadline()).toBe(l.at() + MESSAGE_SLICE_MS);
  });

  it('an iteration has one boundary timer: the input slice is a part of the loop budget, reset with it', () => {
    const l = iterations();
    const input = new TurnBudget(MESSAGE_SLICE_MS, l.loop);
    input.deadline();
    l.work(3);
    l.loop.until(PASS_MS);
    l.work(3);
    l.loop.until(FLUSH_MS);
    input.deadline();
    // Before, the input slice had a 0 ms timer of its own beside the loop budget's: two a busy iteration.
    expect(l.boundaries()).toBe(1);
    l.next();
    expect(input.spent()).toBe(false);
    expect(input.deadline()).toBe(l.at() + MESSAGE_SLICE_MS);
    expect(l.boundaries()).toBe(1);
  });

  it('an iteration over LONG_ITERATION_MS is counted, with its time by part (to the next part or the boundary)', () => {
    const l = iterations();
    const input = new TurnBudget(MESSAGE_SLICE_MS, l.loop);
    // A short iteration: counted in `longest` only.
    input.deadline();
    l.work(5);
    l.next();
    expect(l.loop.long).toBe(0);
    expect(l.loop.longest).toBe(5);
    // A long one: the input slice's decode ran 12 ms, a pass 30 (a rehash in it, say), flushes 15, then 3 ms to the boundary (the flush's).
    input.deadline();
    l.work(12);
    l.loop.until(PASS_MS, performance.now(), 'pass');
    l.work(30);
    l.loop.until(FLUSH_MS, performance.now(), 'flush');
    l.work(15);
    l.work(3);
    l.next();
    expect(l.loop.long).toBe(1);
    expect(l.loop.longest).toBe(60);
    // No part said where it ended: each runs to the next part's start, the last to the boundary.
    expect(l.loop.longByPart).toEqual({ before: 0, input: 12, pass: 30, flush: 18, between: 0, gc: 0 });
    // The next short iteration adds nothing to the long ones' parts.
    l.loop.until(FLUSH_MS, performance.now(), 'flush');
    l.work(4);
    l.next();
    expect(l.loop.long).toBe(1);
    expect(l.loop.longByPart.flush).toBe(18);
  });

  it('a long iteration by column: parts from start to end, the work before the first part and between parts, GC pauses out of the column they fell in, idle nowhere', () => {
    const l = iterations();
    l.loop.cpuClock = l.cpu;
    const input = new TurnBudget(MESSAGE_SLICE_MS, l.loop);
    // A short iteration sets the boundary the next one's `before` counts from.
    input.enter();
    l.work(1);
    input.leave();
    l.next();
    // Timers and socket reads take 7 ms before the first frame (the loop polled for 0.5 ms: it did not wait for input).
    l.wait(0.5);
    l.work(7);
    // A frame: 9 ms of decode and handlers (a 4 ms scavenge in them), then 6 ms of ws parsing before the next frame.
    input.enter();
    const gcAt = l.at() + 2;
    l.work(9);
    input.leave();
    l.work(6);
    input.enter();
    l.work(3);
    // Its pass runs 25 ms from the frame (input ends there), then ends; 4 ms of other immediates follow.
    l.loop.until(PASS_MS, performance.now(), 'pass');
    l.work(25);
    l.loop.done();
    l.work(4);
    // The flushes take 5 ms; then the loop waits 1 ms in poll before the boundary timer (0 ms timers wait a millisecond).
    l.loop.until(FLUSH_MS, performance.now(), 'flush');
    l.work(5);
    l.loop.done();
    l.wait(1);
    // The GC entry arrives during the iteration (perf_hooks delivers it in a later phase): matched at the boundary.
    l.loop.gcPause(gcAt, 4);
    l.next();
    expect(l.loop.long).toBe(1);
    expect(l.loop.longest).toBe(7 + 9 + 6 + 3 + 25 + 4 + 5);
    expect(l.loop.longByPart).toEqual({ before: 7, input: 12 - 4, pass: 25, flush: 5, between: 6 + 4, gc: 4 });
    expect(l.loop.longWithGc).toBe(1);
    // By CPU (the 1 ms wait is none; GC stays in its column): the same iteration, long.
    expect(l.loop.cpuLong).toBe(1);
    expect(l.loop.cpuLongByPart).toEqual({ before: 7, input: 12, pass: 25, flush: 5, between: 10 });
    expect(l.loop.cpuLongest).toBe(59);
    expect(l.loop.cpuLongestByPart).toEqual(l.loop.cpuLongByPart);
    // A pause reported after its iteration's boundary is moved too: 20 ms of ws parsing with a 15 ms scavenge in it.
    l.loop.until(FLUSH_MS, performance.now(), 'flush');
    l.work(40);
    l.loop.done();
    const late = l.at() + 1;
    l.work(20);
    l.next();
    expect(l.loop.longByPart.between).toBe(10 + 20);
    l.loop.gcPause(late, 15);
    expect(l.loop.longByPart).toEqual({ before: 7, input: 8, pass: 25, flush: 45, between: 15, gc: 19 });
    expect(l.loop.longWithGc).toBe(2);
    // A second pause in an iteration that had one: its time moves, the iteration counts once.
    l.loop.gcPause(late + 16, 2);
    expect(l.loop.longByPart.gc).toBe(21);
    expect(l.loop.longWithGc).toBe(2);
    // A pause in no long iteration changes nothing.
    l.loop.gcPause(l.at() - 5000, 100);
    expect(l.loop.longByPart.gc).toBe(21);
    expect(l.loop.longWithGc).toBe(2);
    // After the loop waited for input, the iteration's start is not known: nothing counts before its first part.
    l.wait(30);
    l.work(45);
    l.loop.until(PASS_MS, performance.now(), 'pass');
    l.work(10);
    l.next();
    expect(l.loop.long).toBe(2);
    expect(l.loop.cpuLong).toBe(2);
    expect(l.loop.longByPart.before).toBe(7);
    expect(l.loop.cpuLongByPart.before).toBe(7);
  });
});

describe('iterations counted by length (bench:scale: how many pass 10, 15, ... 50 ms)', () => {
  it('an iteration counts under each threshold it passes, by its active time and by CPU; waiting in the poll phase counts in neither', () => {
    const l = iterations();
    l.loop.cpuClock = l.cpu;
    expect(OVER_MS).toEqual([10, 15, 20, 25, 30, 40, 50]);
    // Iterations of 5, 12, 22 and 55 ms of work, each after the loop waited for input.
    for (const ms of [5, 12, 22, 55]) {
      l.wait(100);
      l.loop.until(PASS_MS, performance.now(), 'pass');
      l.work(ms);
      l.next();
    }
    expect(l.loop.overMs).toEqual([3, 2, 2, 1, 1, 1, 1]);
    expect(l.loop.cpuOverMs).toEqual([3, 2, 2, 1, 1, 1, 1]);
    // 8 ms of work with 30 ms of waiting inside it: 8 ms by either count.
    l.wait(100);
    l.loop.until(PASS_MS, performance.now(), 'pass');
    l.work(4);
    l.wait(30);
    l.work(4);
    l.next();
    expect(l.loop.overMs).toEqual([3, 2, 2, 1, 1, 1, 1]);
    expect(l.loop.cpuOverMs).toEqual([3, 2, 2, 1, 1, 1, 1]);
  });
});
