// A driver's sequential tasks (issue 14: result shortcuts, direct submission): one at a time, get, then free.
import { expect } from 'vitest';
import type { DriverCore } from '../../shared/api/driver.js';
import type { Mesh } from '../../shared/api/mesh.js';

export const coreOf = (m: Mesh): DriverCore => m.core as DriverCore;

/** Runs `n` tasks of `x * 2` one after another (get, then free), checking each value. */
export async function sequential(m: Mesh, n: number, from = 0): Promise<void> {
  const twice = m.remote((x: number) => x * 2);
  for (let i = from; i < from + n; i++) {
    const r = twice.remote(i);
    expect(await m.get(r)).toBe(i * 2);
    m.free(r);
  }
}
