// A node is given a task it still holds, at a higher attempt (issue 15): a
// coordinator of a Redis mesh let the job go without cancelling the task on its
// node, and the new owner, which read the task back as its next attempt, placed
// it on that node again. The owner waits for that attempt only: the node must
// report under it. A run that never called out is kept (same ids, same result),
// one that did runs again, one not started yet is simply replaced.
//
//   SIM_RUNS=50 npx vitest run test/sim/reassign.sim.test.ts
//   SIM_SEED=3 npx vitest run test/sim/reassign.sim.test.ts
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import type { ObjectRef } from '../../shared/api/ref.js';
import { taskOfObject } from '../../shared/ids.js';
import { nextAttempt } from '../../coordinator/scheduler/task-states.js';
import type { TaskRecord } from '../../coordinator/gcs/tables.js';
import { SimMesh } from './cluster.js';
import { settle } from './clock.js';
import { seedsToRun } from './seeds.js';

installNodeHasher();

afterEach(() => {
  vi.useRealTimers();
});

type Case = 'quiet run' | 'run that called out' | 'task not started';

function recordOf(sim: SimMesh, ref: ObjectRef<unknown>): TaskRecord | undefined {
  return sim.coordinator.gcs.tasks.get(taskOfObject(ref.id));
}

/** Advances the simulated clock until `cond` holds. */
function until(cond: () => boolean, what: string): Promise<void> {
  return settle(
    (async () => {
      while (!cond()) await vi.advanceTimersByTimeAsync(5);
    })(),
    5000,
    what,
  );
}

/** What the new owner does after a takeover: the task's next attempt, assigned to the node it still runs on. */
function assignAgain(t: TaskRecord): void {
  nextAttempt(t);
  t.state = 'assigned';
  t.node!.session.send({ t: 'assign', spec: t.spec, inline: [] });
}

async function run(seed: number, what: Case): Promise<void> {
  const sim = new SimMesh(seed, [1, 6]);
  const node = await settle(sim.addNode(1, 'node'), 5000, 'the node joining');
  const mesh = await settle(sim.driver(), 5000, 'the driver connecting');
  const quiet = mesh.remote(async (ms: number) => {
    await new Promise((res) => setTimeout(res, ms));
    return ms;
  });
  const chatty = mesh.remote(async (ms: number) => {
    const x = mesh.put(ms);
    await new Promise((res) => setTimeout(res, ms));
    return (await mesh.get(x)) + 1;
  });
  let target: ObjectRef<number>;
  let expected: number;
  let runs: number;
  if (what === 'task not started') {
    // The node's one executor is busy: the task waits in the node's queue (pipelined there by the coordinator).
    const busy = quiet.remote(2000);
    target = quiet.remote(300);
    [expected, runs] = [300, 1];
    await until(
      () => recordOf(sim, busy)?.state === 'running' && recordOf(sim, target)?.state === 'assigned' && node.runtime.stats().queued === 1,
      'the task queued on the node',
    );
  } else {
    target = what === 'quiet run' ? quiet.remote(3000) : chatty.remote(3000);
    [expected, runs] = what === 'quiet run' ? [3000, 1] : [3001, 2];
    await until(() => recordOf(sim, target)?.state === 'running', 'the task running');
    await vi.advanceTimersByTimeAsync(1000);
  }
  const t = recordOf(sim, target)!;
  const first = t.spec.attempt;
  assignAgain(t);
  expect(await settle(mesh.get(target, { timeoutMs: 20_000 }), 25_000, `the ${what}'s result`)).toBe(expected);
  // Reported under the new attempt and taken by the coordinator: not stale, not run more than it had to.
  expect(t.spec.attempt).toBe(first + 1);
  expect(t.state).toBe('finished');
  expect(sim.coordinator.gcs.stats.staleReports).toBe(0);
  expect(sim.runsByTask.get(t.spec.taskId)).toBe(runs);
  await settle(mesh.close(), 10_000, 'the driver closing');
  sim.close();
}

describe('a task assigned again at a higher attempt to the node that still holds it', () => {
  it.each(['quiet run', 'run that called out', 'task not started'] as const)(
    'seeded runs: a %s is reported under the new attempt and the coordinator takes it',
    async (what) => {
      for (const seed of seedsToRun(5)) {
        vi.useFakeTimers({ now: 0 });
        try {
          await run(seed, what);
        } catch (e) {
          throw new Error(`seed ${seed}: ${(e as Error).message}\n  replay: SIM_SEED=${seed} npx vitest run test/sim/reassign.sim.test.ts`);
        } finally {
          vi.useRealTimers();
        }
      }
    },
    120_000,
  );
});
