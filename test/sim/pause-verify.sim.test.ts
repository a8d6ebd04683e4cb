// A volunteer pauses while a replica of a verified task waits in its queue
// (issue 14, issue 8's verified execution). Pausing hands back what has not
// started; the coordinator had counted the node as one the group used, so the
// replica could go to no other node of a two-node mesh (two replicas) and, after the
// resume, not back to this one either: the verified task never finished. A
// handed-back replica frees its node for the group again.
//
//   SIM_RUNS=20 npx vitest run test/sim/pause-verify.sim.test.ts
//   SIM_SEED=3 npx vitest run test/sim/pause-verify.sim.test.ts
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import { unendedTasks } from '../helpers/task-state.js';
import { SimMesh } from './cluster.js';
import { settle } from './clock.js';
import { seedsToRun } from './seeds.js';

installNodeHasher();

async function run(seed: number): Promise<number> {
  const sim = new SimMesh(seed, [1, 6]);
  const nodes = [];
  for (let i = 0; i < 2; i++) nodes.push(await settle(sim.addNode(1, `n${i}`), 5000, `node ${i} joining`));
  const m = await settle(sim.driver(), 5000, 'the driver connecting');
  const nap = m.remote(async (ms: number) => {
    await new Promise((res) => setTimeout(res, ms));
    return ms;
  });
  const square = m.remote((x: number) => x * x, { verify: { replicas: 2 } });
  // One long task a node: each node's only executor is busy, so the replicas wait in the nodes' queues.
  const holds = [nap.remote(1000), nap.remote(1000)];
  await vi.advanceTimersByTimeAsync(100);
  const busy = nodes.filter((n) => n.runtime.stats().running === 1).length;
  if (busy !== 2) throw new Error(`expected every node to run one long task, ${busy} do`);
  const v = square.remote(7);
  await vi.advanceTimersByTimeAsync(100);
  const queued = nodes.filter((n) => n.runtime.stats().queued === 1);
  if (queued.length !== 2) throw new Error(`expected a replica queued on each node, found ${queued.length}`);
  // The volunteer of the first node pauses (its replica goes back) and resumes a moment later.
  nodes[0].runtime.setPaused(true);
  await vi.advanceTimersByTimeAsync(100);
  const back = nodes[0].runtime.stats().queued;
  nodes[0].runtime.setPaused(false);
  expect(await settle(m.get(v, { timeoutMs: 20_000 }), 25_000, 'the verified task')).toBe(49);
  expect(await settle(m.get(holds), 5000, 'the long tasks')).toEqual([1000, 1000]);
  const c = sim.coordinator;
  expect(c.verifier.stats.verifiedTasks).toBe(1);
  expect(c.scheduler.queuedCount).toBe(0);
  const left = unendedTasks(c);
  if (left.length) throw new Error(`${left.length} task(s) still ${left.join(', ')}`);
  await settle(m.close(), 10_000, 'the driver closing');
  sim.close();
  return back;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('a paused node hands back a replica of a verified task', () => {
  it('seeded runs: the verified task still finishes on a mesh of exactly as many nodes as replicas', async () => {
    for (const seed of seedsToRun(5)) {
      vi.useFakeTimers({ now: 0 });
      try {
        // Paused, the node kept nothing that had not started (its stats say so at once).
        expect(await run(seed)).toBe(0);
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}\n  replay: SIM_SEED=${seed} npx vitest run test/sim/pause-verify.sim.test.ts`);
      } finally {
        vi.useRealTimers();
      }
    }
  }, 120_000);
});
