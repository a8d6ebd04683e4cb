// Placement with real node runtimes on the simulated network (issue 17,
// spillback): the parameter server's shape, 8 tasks reading 1 MiB of weights
// that one node of two holds. Before, all 8 queued on the holder (locality,
// up to 16 per CPU) while the other node idled; now the holder keeps what its
// CPUs run at once and the rest goes to the idle node, which reads the
// weights through the mesh. Placement is one pass, so the counts hold for
// every seed of the network's delays.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import type { NodeId } from '../../shared/ids.js';
import { SimMesh } from './cluster.js';
import { settle } from './clock.js';
import { seedsToRun } from './seeds.js';

installNodeHasher();

afterEach(() => {
  vi.useRealTimers();
});

describe('placement on a simulated network', () => {
  it('8 tasks reading 1 MiB held by node A (2 CPUs) run on A and on idle node B (2 CPUs), with exact results', async () => {
    for (const seed of seedsToRun(3)) {
      vi.useFakeTimers({ now: 0 });
      const sim = new SimMesh(seed);
      try {
        const a = await settle(sim.addNode(2, 'A'), 5000, 'A joining');
        await settle(sim.addNode(2, 'B'), 5000, 'B joining');
        const mesh = await settle(sim.driver(), 5000, 'the driver connecting');
        const make = mesh.remote((n: number) => new Float64Array(n).fill(0.5));
        const grad = mesh.remote((w: Float64Array, k: number) => w[0] * k + w.length);
        const weights = make.options({ scheduling: { node: a.runtime.nodeId as NodeId, soft: false } }).remote(131_072);
        await settle(mesh.wait([weights]), 10_000, 'the weights');
        const first = sim.log.length;
        const got = await settle(mesh.get(Array.from({ length: 8 }, (_, k) => grad.remote(weights, k))), 30_000, 'the gradients');
        expect(got).toEqual(Array.from({ length: 8 }, (_, k) => 0.5 * k + 131_072));
        const runsOn = (name: string) => sim.log.slice(first).filter((l) => l.includes(`on ${name}/`)).length;
        expect([runsOn('A'), runsOn('B')], `seed ${seed}`).toEqual([4, 4]);
        const moved = sim.coordinator.gcs.events.filter((e) => e.kind === 'placed-remote');
        expect(moved).toHaveLength(4);
        for (const e of moved) expect(e.message).toMatch(/is busy/);
        await settle(mesh.close(), 10_000, 'the driver closing');
      } finally {
        sim.close();
        vi.useRealTimers();
      }
    }
  }, 120_000);

  it('8 tasks of a function not measured yet reading 3 MiB held by A: edge nodes spill to idle B (TCP, 30 ms to move), tabs keep them on A (WebRTC, 600 ms)', async () => {
    for (const seed of seedsToRun(2)) {
      const onB: Record<string, number> = {};
      for (const kind of ['edge', 'browser'] as const) {
        vi.useFakeTimers({ now: 0 });
        const sim = new SimMesh(seed);
        try {
          const a = await settle(sim.addNode(2, 'A', kind), 5000, 'A joining');
          await settle(sim.addNode(2, 'B', kind), 5000, 'B joining');
          const mesh = await settle(sim.driver(), 5000, 'the driver connecting');
          const make = mesh.remote((n: number) => new Float64Array(n).fill(0.25));
          const grad = mesh.remote((w: Float64Array, k: number) => w[1] * k + w.length);
          const weights = make.options({ scheduling: { node: a.runtime.nodeId as NodeId, soft: false } }).remote(3 * 131_072);
          await settle(mesh.wait([weights]), 10_000, 'the weights');
          const first = sim.log.length;
          const got = await settle(mesh.get(Array.from({ length: 8 }, (_, k) => grad.remote(weights, k))), 30_000, 'the gradients');
          expect(got).toEqual(Array.from({ length: 8 }, (_, k) => 0.25 * k + 3 * 131_072));
          onB[kind] = sim.log.slice(first).filter((l) => l.includes('on B/')).length;
          await settle(mesh.close(), 10_000, 'the driver closing');
        } finally {
          sim.close();
          vi.useRealTimers();
        }
      }
      // The 3 MiB move is within SPILL_MAX_MS between edge nodes, not between tabs (the old 10 MiB/s for every link moved both).
      expect(onB, `seed ${seed}`).toEqual({ edge: 4, browser: 0 });
    }
  }, 120_000);
});
