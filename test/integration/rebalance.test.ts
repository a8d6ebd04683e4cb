// Work stealing (issue 14): a node that joins mid-job gets work even when the
// job's tasks were all queued on the nodes already there (pipelining fills a
// node up to 64 tasks per CPU). Real coordinator, real edge node processes.
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskRecord } from '../../coordinator/gcs/tables.js';
import { Cluster } from '../helpers/cluster.js';
import { fileGate, type FileGate } from '../helpers/file-gate.js';

let cl: Cluster | undefined;
let gate: FileGate | undefined;
afterEach(async () => {
  await cl?.stop();
  cl = undefined;
  gate?.remove();
  gate = undefined;
});

/**
 * Two nodes of one CPU hold every task of a job; a third joins. `groups`: the driver's calls of one turn travel as
 * a task group (one slice per node), else each alone. `spinMs`: what one warm-up run takes on a node (a node batches
 * a function's short members by what they measured, shared/node/ready-queue.ts).
 */
async function lateNodeGetsWork(groups: boolean, spinMs: number): Promise<void> {
  cl = await Cluster.start({ nodes: 2, cpus: 1, groups });
  const c = cl.c.coordinator;
  const m = await cl.driver({ groups });
  // The long runs last until the test opens the gate (a file they poll for), once the late node holds some of them:
  // not a fixed 2 s each (16 s of sleeping a case, and at load a node that joined after the two ran them all).
  const g = (gate = fileGate());
  const work = m.remote(async (path: string, i: number, spin: number) => {
    const end = performance.now() + spin;
    while (performance.now() < end); // busy: the node measures its run
    if (path) {
      const fs = process.getBuiltinModule('node:fs');
      while (!fs.existsSync(path)) await new Promise((r) => setTimeout(r, 20));
    }
    return i * 2;
  });
  // Measured as short, the function is pipelined deep: each node is given `depth` tasks per CPU.
  await m.get(Array.from({ length: 30 }, (_, i) => work.remote('', i, spinMs)));
  const fn = [...c.gcs.functions.values()].find((f) => f.runs > 0)!;
  // On a loaded machine even an empty task can measure 10 ms (depth 1): pin what a quiet one measures.
  fn.ewmaMs = 0.2;
  const depth = c.scheduler.depth({ spec: { fnId: fn.fnId } } as TaskRecord);
  expect(depth).toBe(50);
  const groupsBefore = c.statsJson().groupsSubmitted ?? 0;
  // At most what the two can hold; they run until the gate opens, so the third joins while the two hold them all.
  const count = Math.min(2 * depth, 16);
  const refs = Array.from({ length: count }, (_, i) => work.remote(g.path, i, 0));
  const before = new Set(c.gcs.nodes.keys());
  // Every task is out on the two nodes: the coordinator holds none.
  await cl.until(() => [...c.gcs.nodes.values()].reduce((a, n) => a + n.inflightTasks, 0) === count && c.scheduler.queuedCount === 0);
  expect((c.statsJson().groupsSubmitted ?? 0) - groupsBefore).toBe(groups ? 1 : 0);
  await cl.addNode({ cpus: 1, name: 'late' });
  const late = [...c.gcs.nodes.values()].find((n) => !before.has(n.id))!;
  // Handed back by the two (nothing of theirs has ended) and placed on the late node: then the runs may end.
  await cl.until(
    () => late.inflightTasks > 0,
    60_000,
    () => `the late node to be given some of the ${count} tasks (asked back: ${c.scheduler.rebalancer.stats.asked})`,
  );
  g.open();
  const out = await m.get(refs, { timeoutMs: 60_000 });
  expect(out).toEqual(Array.from({ length: count }, (_, i) => i * 2));
  expect(late.tasksDone).toBeGreaterThan(0);
  expect(c.scheduler.rebalancer.stats.asked).toBeGreaterThan(0);
  // A result shortcut (shared/node/result-shortcut.ts) can bring the driver its last value before the coordinator
  // reads that task's `done`: wait for the GCS to record them all, then nothing may have run twice.
  await cl.until(
    () => c.gcs.stats.tasksFinished >= 30 + count,
    10_000,
    () => `the GCS to record ${30 + count} finished (has ${c.gcs.stats.tasksFinished})`,
  );
  expect(c.gcs.stats.tasksRetried).toBe(0);
  expect(c.gcs.stats.tasksFinished).toBe(30 + count);
}

describe('work stealing', () => {
  it('a node that joins after every task was queued on the others gets some of them; results are exact and nothing runs twice', async () => {
    await lateNodeGetsWork(false, 0);
  }, 120_000);

  it('task groups: a node that joins gets members of a slice already on a node (a function measured at 0.2 ms that turns long: its members went to the executor a few at a time, the rest waits to be handed back)', async () => {
    await lateNodeGetsWork(true, 0.2);
  }, 120_000);
});
