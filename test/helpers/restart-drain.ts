// A driver frees everything after its coordinator restarted mid-job on a
// durable GCS (SQLite or Redis): the coordinator keeps nothing of it. Shared
// by test/fault/restart-drain.test.ts and test/redis/restart-drain.test.ts.
// Run with `groups: false`, the job's tasks are durable task rows (the case of
// the GCS's recovery of unfinished tasks); with groups on, its calls travel as
// task groups (docs/decisions.md "Task groups"): not in the durable GCS, sent
// again by their owner after the restart.
import { expect } from 'vitest';
import { startCoordinator, type RunningCoordinator, type ServerOptions } from '../../coordinator/server.js';
import { connect, startEdgeNode } from '../../edge/index.js';
import { until } from './poll.js';
import { restartablePort, TEST_REJOIN_MAX_MS } from './processes.js';

type Storage = Pick<ServerOptions, 'dataDir' | 'redis'>;

const TASKS = 600;

/** Cleanups of what `freedAfterRestart` started, newest first (the caller runs them after each test). */
export type Cleanups = (() => unknown)[];

/**
 * A job of TASKS tasks and one task depending on two of them; the coordinator
 * is closed and started again (same port, same storage) once some are done and
 * most are not. The driver resumes and reads every value; then it frees every
 * ref, and the coordinator drains to no task and no object.
 */
export async function freedAfterRestart(storage: Storage, cleanups: Cleanups, groups: boolean): Promise<void> {
  const token = 'drain-' + Math.random().toString(36).slice(2);
  // A short recovery grace: the recovered holds go within the test (the driver and the node are back well before).
  const opts = { ...storage, port: await restartablePort(), token, httpLimits: false as const, recoveryGraceMs: 3_000 };
  let c: RunningCoordinator = await startCoordinator(opts);
  let closed = false;
  cleanups.push(() => (closed ? undefined : c.close()));
  const node = await startEdgeNode({ coordinator: c.url, cpus: 2, rejoinMaxMs: TEST_REJOIN_MAX_MS });
  cleanups.push(() => node.leave());
  const m = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000, reconnectMaxMs: TEST_REJOIN_MAX_MS, groups });
  cleanups.push(() => m.close());
  const slow = m.remote(async (x: number) => {
    await new Promise((r) => setTimeout(r, 5));
    return x * 3;
  });
  const add = m.remote((a: number, b: number) => a + b);
  const refs = Array.from({ length: TASKS }, (_, i) => slow.remote(i));
  const sum = add.remote(refs[5], refs[TASKS - 1]);
  const first = c;
  await until(() => first.coordinator.gcs.stats.tasksFinished >= 40, { timeoutMs: 30_000, what: 'the job to be under way' });
  // The case at hand: the TASKS calls of one turn made a group, or (groups off) none did.
  expect(first.coordinator.groups!.counts().groupsSubmitted).toBe(groups ? 1 : 0);
  closed = true;
  await first.close();
  c = await startCoordinator(opts);
  closed = false;
  const after = c;

  expect(await m.get(refs, { timeoutMs: 60_000 })).toEqual(Array.from({ length: TASKS }, (_, i) => i * 3));
  expect(await m.get(sum)).toBe(15 + 3 * (TASKS - 1));
  if (!groups) {
    // The case at hand: some tasks were unfinished when the coordinator stopped, and ran again after.
    expect(await recoveredEvents(after.url, token)).toContainEqual(expect.stringMatching(/^recovered 1 running job\(s\), [1-9]\d* unfinished task/));
  } else {
    // Only the two members passed to `add` were task rows (materialized); the rest came again with their group.
    expect(after.coordinator.groups!.counts().groupsSubmitted).toBe(1);
  }
  // Every task counted once in its job: a member sent again is not a second task, nor one on record before.
  const job = after.coordinator.gcs.jobs.get(m.jobId as never)!;
  await until(() => job.counts.finished >= TASKS + 1, { timeoutMs: 10_000, what: () => `the job's counts: ${JSON.stringify(job.counts)}` });
  expect(job.counts).toEqual({ submitted: TASKS + 1, finished: TASKS + 1, failed: 0, cancelled: 0 });

  m.free([...refs, sum]);
  let left = '';
  await until(
    () => {
      const s = after.coordinator.statsJson();
      left = `${s.tasks} tasks, ${s.objects} objects, ${s.groups} groups`;
      return s.tasks === 0 && s.objects === 0 && s.groups === 0;
    },
    { timeoutMs: 20_000, what: () => `the coordinator to drain after the driver freed everything: ${left} left` },
  );
}

async function recoveredEvents(url: string, token: string): Promise<string[]> {
  const r = await fetch(`${url}/api/events?kind=coordinator-recovered`, { headers: { authorization: `Bearer ${token}` } });
  return ((await r.json()) as { message: string }[]).map((e) => e.message);
}
