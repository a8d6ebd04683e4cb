// The simulated network's event queue (test/sim/event-queue.ts): the order and the times the fake clock gave its
// deliveries when each was a timer of its own, behind one timer.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EventQueue } from '../sim/event-queue.js';

describe('the sims’ event queue', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs events by time, then by the order they were scheduled, at whole ms (under 1 ms: 1), with one timer', async () => {
    vi.useFakeTimers({ now: 0 });
    const q = new EventQueue();
    const seen: string[] = [];
    const at = (name: string) => () => seen.push(`${name}@${Date.now()}`);
    q.after(5, at('a'));
    q.after(2.9, at('b'));
    q.after(0, at('c'));
    q.after(2, at('d'));
    q.after(5, () => {
      seen.push(`e@${Date.now()}`);
      q.after(0.4, at('f'));
      q.after(3, at('g'));
    });
    expect(q.size).toBe(5);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(20);
    expect(seen).toEqual(['c@1', 'b@2', 'd@2', 'a@5', 'e@5', 'f@6', 'g@8']);
    expect(q.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an earlier event scheduled later takes the timer; nothing runs before its time', async () => {
    vi.useFakeTimers({ now: 0 });
    const q = new EventQueue();
    const seen: number[] = [];
    q.after(10, () => seen.push(Date.now()));
    await vi.advanceTimersByTimeAsync(3);
    q.after(2, () => seen.push(Date.now()));
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(10);
    expect(seen).toEqual([5, 10]);
  });
});
