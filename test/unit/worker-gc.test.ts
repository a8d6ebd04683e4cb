// When a storage thread collects (coordinator/gcs/worker-gc.ts, session 31): once idle after it took enough bytes,
// at once after many, never for a lone small write.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BUSY_GC_BYTES, IDLE_GC_BYTES, IDLE_GC_MS, ThreadCollector } from '../../coordinator/gcs/worker-gc.js';

const MiB = 1 << 20;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ThreadCollector', () => {
  it('collects once idle IDLE_GC_MS after it took IDLE_GC_BYTES, counting from its last collection', () => {
    const gc = vi.fn();
    const c = new ThreadCollector(gc);
    c.took(IDLE_GC_BYTES / 2);
    vi.advanceTimersByTime(10 * IDLE_GC_MS);
    expect(gc).not.toHaveBeenCalled(); // a lone small write costs no GC
    c.took(IDLE_GC_BYTES / 2);
    vi.advanceTimersByTime(IDLE_GC_MS - 1);
    c.took(1); // not idle yet: the wait starts again
    vi.advanceTimersByTime(IDLE_GC_MS - 1);
    expect(gc).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(gc).toHaveBeenCalledTimes(1);
    expect(c.collections).toBe(1);
    c.took(IDLE_GC_BYTES / 2);
    vi.advanceTimersByTime(10 * IDLE_GC_MS);
    expect(gc).toHaveBeenCalledTimes(1);
  });

  it('collects right after the batch that brings it to BUSY_GC_BYTES, busy or not, once', () => {
    const gc = vi.fn();
    const c = new ThreadCollector(gc);
    for (let taken = 0; taken < BUSY_GC_BYTES - MiB; taken += MiB) c.took(MiB);
    vi.advanceTimersByTime(0);
    expect(gc).not.toHaveBeenCalled();
    c.took(MiB);
    c.took(MiB); // a batch already queued: one collection after both
    expect(gc).not.toHaveBeenCalled(); // not inside the batch's handler, which still holds its buffer
    vi.advanceTimersToNextTimer();
    expect(gc).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * IDLE_GC_MS);
    expect(gc).toHaveBeenCalledTimes(1);
  });

  it('stop() cancels a collection due', () => {
    const gc = vi.fn();
    const c = new ThreadCollector(gc);
    c.took(IDLE_GC_BYTES);
    c.stop();
    vi.advanceTimersByTime(10 * IDLE_GC_MS);
    expect(gc).not.toHaveBeenCalled();
  });

  it("takes the process's gc, turning --expose-gc on where it is off", () => {
    const c = new ThreadCollector();
    c.took(BUSY_GC_BYTES);
    vi.advanceTimersToNextTimer();
    expect(c.collections).toBe(1);
  });
});
