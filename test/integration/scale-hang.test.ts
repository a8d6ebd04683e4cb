// bench:scale's report on a job whose results do not come (bench/scale-hang.ts): against a real coordinator, a task
// that cannot be placed (no node: infeasible) is named with its state, and the get's error still reaches the caller.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { getOrReport } from '../../bench/scale-hang.js';
import type { Mesh } from '../../shared/api/mesh.js';

describe("bench:scale's report of a job that hangs", () => {
  let cl: Cluster | undefined;
  let m: Mesh | undefined;
  afterEach(async () => {
    m?.close();
    await cl?.stop();
    cl = m = undefined;
    vi.restoreAllMocks();
  });

  it('prints the unfinished tasks by state and node, and rethrows', async () => {
    cl = await Cluster.start({ nodes: 0 });
    m = await cl.driver();
    const f = m.remote((x: number) => x);
    const refs = [f.remote(1)];
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => lines.push(String(chunk)) > 0);
    await expect(getOrReport(m, refs, 'probe', [cl.url], cl.token, 300)).rejects.toThrow();
    const text = lines.join('');
    expect(text).toMatch(/probe: not every result in 300 ms/);
    expect(text).toMatch(/coordinator 0: 1 task rows of job \S+, 1 not finished: 1 infeasible on -/);
    expect(text).toMatch(/coordinator 0: 0 nodes lost/);
  });
});
