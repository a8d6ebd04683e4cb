// Ray's test_cancel.py::test_stress on a simulated network, seeded: one node
// with one or two executors, tasks that sleep forever or return at once,
// force-cancelled at random while queued on the coordinator, queued on the
// node (pipelined) or running. Every get must settle: a cancelled task with a
// cancel error, any other with its value; and nothing stays assigned after.
//
//   SIM_RUNS=500 npx vitest run test/sim/cancel.sim.test.ts
//   SIM_SEED=17 npx vitest run test/sim/cancel.sim.test.ts
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import type { ObjectRef } from '../../shared/api/ref.js';
import { TaskCancelledError, TaskError, WorkerCrashedError } from '../../shared/index.js';
import { unendedTasks } from '../helpers/task-state.js';
import { SimMesh } from './cluster.js';
import { settle } from './clock.js';
import { seedsToRun } from './seeds.js';

installNodeHasher();

const TASKS = 30;

async function run(seed: number): Promise<{ cancelled: number; ran: number }> {
  const sim = new SimMesh(seed, [1, 6]);
  const r = sim.rand;
  await settle(sim.addNode(r() < 0.5 ? 1 : 2), 5000, 'the node joining');
  const m = await settle(sim.driver(), 5000, 'the driver connecting');
  const sleep = m.remote(async (y: number | boolean) => {
    if (y) await new Promise((res) => setTimeout(res, 1e9));
    return 'woke';
  });
  const cancelled = new Set<ObjectRef<string>>();
  const cancel = (x: ObjectRef<string>) => {
    m.cancel(x, { force: true });
    cancelled.add(x);
  };
  const first = sleep.remote(true);
  const sleeps = Array.from({ length: TASKS }, () => r() < 0.5);
  const tasks = sleeps.map((y) => sleep.remote(y));
  for (const t of tasks) if (r() > 0.5) cancel(t);
  cancel(first);
  // Some cancels land a little later, while tasks are pipelined to the node or running there.
  for (const t of tasks) if (r() < 0.1) setTimeout(() => cancel(t), Math.floor(r() * 30));
  const settleOne = async (t: ObjectRef<string>, what: string) => {
    const got = await settle(
      m.get(t).then(
        (v) => ({ v }),
        (e: unknown) => ({ e }),
      ),
      60_000,
      what,
    );
    if ('e' in got) {
      if (!cancelled.has(t)) throw new Error(`${what} failed but was not cancelled: ${String(got.e)}`);
      if (![TaskError, TaskCancelledError, WorkerCrashedError].some((c) => got.e instanceof c)) throw new Error(`${what}: ${String(got.e)}`);
    } else if (got.v !== 'woke') throw new Error(`${what}: got ${String(got.v)}`);
  };
  for (const t of cancelled) await settleOne(t, `cancelled task ${t.id.slice(0, 12)}`);
  for (let i = 0; i < tasks.length; i++) {
    if (sleeps[i]) cancel(tasks[i]);
    await settleOne(tasks[i], `task ${i} (${sleeps[i] ? 'sleeps' : 'returns'})`);
  }
  const left = unendedTasks(sim.coordinator, (t) => t.spec.actor !== undefined);
  if (left.length) throw new Error(`${left.length} task(s) still ${left.join(', ')}`);
  await settle(m.close(), 10_000, 'the driver closing');
  sim.close();
  return { cancelled: cancelled.size, ran: [...sim.runsByTask.values()].reduce((a, b) => a + b, 0) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('force-cancel on a simulated network (test_cancel.py::test_stress)', () => {
  it('seeded runs: every get settles, nothing stays assigned', async () => {
    const totals = { runs: 0, cancelled: 0, executions: 0 };
    for (const seed of seedsToRun(40)) {
      vi.useFakeTimers({ now: 0 });
      try {
        const o = await run(seed);
        totals.runs++;
        totals.cancelled += o.cancelled;
        totals.executions += o.ran;
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}\n  replay: SIM_SEED=${seed} npx vitest run test/sim/cancel.sim.test.ts`);
      } finally {
        vi.useRealTimers();
      }
    }
    console.log(`cancel sim: ${JSON.stringify(totals)}`);
    expect(totals.cancelled).toBeGreaterThan(totals.runs);
  }, 300_000);
});
