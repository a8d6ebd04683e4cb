// The simulated clock (vitest's fake timers) driven until something settles.
import { vi } from 'vitest';

/** Advances the fake clock until `p` settles (or `limitMs` of simulated time passed). */
export async function settle<T>(p: Promise<T>, limitMs: number, what: string): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  const end = Date.now() + limitMs;
  while (!done) {
    if (Date.now() > end) throw new Error(`${what}: still pending after ${limitMs} ms of simulated time`);
    await vi.advanceTimersByTimeAsync(5);
  }
  return p;
}
