// A driver's sequential tasks (issue 14: result shortcuts, direct submission): one at a time, get, then free.
import { expect } from 'vitest';
import type { DriverCore } from '../../shared/api/driver.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { GetTimeoutError } from '../../shared/errors.js';

export const coreOf = (m: Mesh): DriverCore => m.core as DriverCore;

/** How a long run of tasks says where it stood when one of them got no value (rather than a silent test timeout). */
export interface SequentialWatch {
  /** How long one task may go without its value. */
  stallMs: number;
  /** How long the whole run may take (under the test's own timeout, which would say nothing). */
  totalMs: number;
  /** What the driver, its links and the coordinator held at that moment (`id`: the late task's return object). */
  state: (id: string) => string;
}

/**
 * Runs `n` tasks of `x * 2` one after another (get, then free), checking each value. With `watch`, a task whose
 * value does not come within `watch.stallMs`, or a run past `watch.totalMs`, fails it saying which task it was, how
 * many came back before it, the slowest wait, and `watch.state()`.
 */
export async function sequential(m: Mesh, n: number, from = 0, watch?: SequentialWatch): Promise<void> {
  const twice = m.remote((x: number) => x * 2);
  const start = Date.now();
  let slowest = { ms: 0, i: -1 };
  const where = (i: number) => `${i - from} came back before it in ${Date.now() - start} ms (the slowest: x = ${slowest.i}, ${slowest.ms} ms)`;
  for (let i = from; i < from + n; i++) {
    const r = twice.remote(i);
    const asked = Date.now();
    let v: unknown;
    try {
      v = await m.get(r, watch && { timeoutMs: Math.max(1, Math.min(watch.stallMs, start + watch.totalMs - asked)) });
    } catch (err) {
      if (!(watch && err instanceof GetTimeoutError)) throw err;
      throw new Error(`task ${i - from + 1} of ${n} (x = ${i}, ${r.id}) had no value after ${Date.now() - asked} ms; ${where(i)}; ${watch.state(r.id)}`);
    }
    if (Date.now() - asked > slowest.ms) slowest = { ms: Date.now() - asked, i };
    expect(v).toBe(i * 2);
    m.free(r);
  }
}
