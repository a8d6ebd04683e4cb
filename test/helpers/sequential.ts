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
  /** What the driver, its links and the coordinator held at that moment (`id`: the late task's return object). */
  state: (id: string) => string;
}

/**
 * Runs `n` tasks of `x * 2` one after another (get, then free), checking each value. With `watch`, a task whose
 * value does not come within `watch.stallMs` fails the run saying which task it was, how many came back before it,
 * and `watch.state()`.
 */
export async function sequential(m: Mesh, n: number, from = 0, watch?: SequentialWatch): Promise<void> {
  const twice = m.remote((x: number) => x * 2);
  for (let i = from; i < from + n; i++) {
    const r = twice.remote(i);
    let v: unknown;
    try {
      v = await m.get(r, watch && { timeoutMs: watch.stallMs });
    } catch (err) {
      if (!(watch && err instanceof GetTimeoutError)) throw err;
      throw new Error(
        `task ${i - from + 1} of ${n} (x = ${i}, ${r.id}) had no value after ${watch.stallMs} ms; ${i - from} came back before it; ${watch.state(r.id)}`,
      );
    }
    expect(v).toBe(i * 2);
    m.free(r);
  }
}
