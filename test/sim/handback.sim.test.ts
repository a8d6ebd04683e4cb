// A node hands back tasks the coordinator saw start (issue 14). The coordinator
// hears `started` when a task is dispatched to an executor; if that executor is
// then killed (another task of its batch force-cancelled), the rest of the batch
// goes back to the node's queue, not started any more. When the node is then
// asked to give work back (a node joined, work stealing), it hands those back:
// the coordinator must take them although its record says running, or they are
// lost (the node dropped them, the coordinator waits for a result forever).
//
//   SIM_RUNS=100 npx vitest run test/sim/handback.sim.test.ts
//   SIM_SEED=3 npx vitest run test/sim/handback.sim.test.ts
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import { TaskCancelledError } from '../../shared/index.js';
import { unendedTasks } from '../helpers/task-state.js';
import { SimMesh } from './cluster.js';
import { settle } from './clock.js';
import { seedsToRun } from './seeds.js';

installNodeHasher();

async function run(seed: number, how: 'newcomer' | 'pause'): Promise<{ handedBack: number; onNewcomer: number }> {
  const sim = new SimMesh(seed, [1, 6]);
  const first = await settle(sim.addNode(2, 'first'), 5000, 'the first node joining');
  // Each task alone: the case is the plain task's record (running, then back on the node's queue). A group's members
  // have no such state at the coordinator: any member of a slice handed back is taken back (coordinator/groups).
  const m = await settle(sim.driver('driver', { groups: false }), 5000, 'the driver connecting');
  const nap = m.remote(async (ms: number) => {
    if (ms > 0) await new Promise((res) => setTimeout(res, ms));
    return ms;
  });
  // Short runs measured first: the node then sends queued tasks of this function to an executor in batches.
  await settle(m.get([nap.remote(0), nap.remote(0), nap.remote(0)]), 5000, 'the warm-up');

  // Executor 0 is held by `hold`; executor 1 runs `quick`, then takes the queued rest as one batch.
  const hold = nap.remote(3000);
  const quick = nap.remote(0);
  const victim = nap.remote(1e9);
  const rest = [nap.remote(500), nap.remote(500), nap.remote(500)];
  await settle(m.get(quick), 5000, 'the quick task');
  await vi.advanceTimersByTimeAsync(50);
  const running = [...sim.coordinator.gcs.tasks.values()].filter((t) => t.state === 'running').length;
  if (running < 2 + rest.length) throw new Error(`expected the batch to be running, only ${running} task(s) are`);

  // Executor 1 retires (it finishes its batch first); then the victim is force-cancelled: the executor is
  // killed and the rest of its batch waits on the node's queue, not started, behind `hold`.
  first.runtime.setCpus(1);
  await vi.advanceTimersByTimeAsync(20);
  m.cancel(victim, { force: true });
  await vi.advanceTimersByTimeAsync(50);
  const stats = first.runtime.stats();
  if (stats.queued !== rest.length) throw new Error(`expected ${rest.length} tasks queued on the node after the kill, found ${stats.queued}`);

  const asked = sim.coordinator.scheduler.rebalancer.stats.asked;
  let newcomer: { runtime: { tasksRun: number } } = { runtime: { tasksRun: 0 } };
  if (how === 'newcomer') {
    // A node joins: work stealing asks the first to give back what it has not started.
    newcomer = await settle(sim.addNode(1, 'newcomer'), 5000, 'the newcomer joining');
  } else {
    // The volunteer pauses (what has not started goes back to the coordinator), then resumes.
    first.runtime.setPaused(true);
    await vi.advanceTimersByTimeAsync(100);
    first.runtime.setPaused(false);
  }
  const got = await settle(m.get(rest, { timeoutMs: 20_000 }), 25_000, 'the handed-back tasks');
  expect(got).toEqual([500, 500, 500]);
  await expect(settle(m.get(victim), 5000, 'the victim')).rejects.toBeInstanceOf(TaskCancelledError);
  expect(await settle(m.get(hold), 5000, 'the held task')).toBe(3000);
  const handedBack = sim.coordinator.scheduler.rebalancer.stats.asked - asked;
  const onNewcomer = newcomer.runtime.tasksRun;

  const left = unendedTasks(sim.coordinator);
  if (left.length) throw new Error(`${left.length} task(s) still ${left.join(', ')}`);
  await settle(m.close(), 10_000, 'the driver closing');
  sim.close();
  return { handedBack, onNewcomer };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('hand back of tasks the coordinator saw start', () => {
  it.each(['newcomer', 'pause'] as const)(
    'seeded runs: tasks back on the node queue after their executor was killed are handed back (%s), not lost',
    async (how) => {
      const totals = { runs: 0, asked: 0, onNewcomer: 0 };
      for (const seed of seedsToRun(10)) {
        vi.useFakeTimers({ now: 0 });
        try {
          const o = await run(seed, how);
          totals.runs++;
          totals.asked += o.handedBack;
          totals.onNewcomer += o.onNewcomer;
        } catch (e) {
          throw new Error(`seed ${seed}: ${(e as Error).message}\n  replay: SIM_SEED=${seed} npx vitest run test/sim/handback.sim.test.ts`);
        } finally {
          vi.useRealTimers();
        }
      }
      console.log(`handback sim (${how}): ${JSON.stringify(totals)}`);
      // Not vacuous: the newcomer asked for work and ran what the first node handed back.
      if (how === 'newcomer') {
        expect(totals.asked).toBeGreaterThan(0);
        expect(totals.onNewcomer).toBeGreaterThan(0);
      }
    },
    120_000,
  );
});
