// A job's counts across a coordinator SIGKILLed mid-job (docs/decisions.md "A job's counts survive a restart"):
// shared by test/fault/restart-counts.test.ts (SQLite) and test/redis/restart-counts.test.ts (Redis). Real
// processes: `tabmesh coordinator` (killed for real and started again on the same storage) and an edge node.
import { expect } from 'vitest';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { edgeNodes, FAST_REJOIN, getJson, kill, stats, TEST_REJOIN_MAX_MS, type Coord } from './processes.js';
import { until } from './poll.js';

/** Starts the coordinator on its storage, on `port` (0: any; the same again after a kill). */
export type StartCoordinator = (port: number) => Promise<Coord>;

interface JobView {
  status: string;
  progress: { total: number; done: number; failed: number; cancelled: number };
}

const FREED = 600;
const FAILING = 300;
const LATER = 400;
const TOTAL = FREED + FAILING + LATER;
/** Members of the failing batch that throw (every tenth). */
const FAILED = FAILING / 10;

async function job(c: Coord, token: string, id: string): Promise<JobView | undefined> {
  return getJson<JobView>(c.url, `/api/jobs/${id}`, token);
}

/**
 * 600 tasks run, are read and freed (their records gone: rows deleted, or their group over), 300 more of which
 * every tenth throws (read, kept); then 400 slow ones, and the coordinator is SIGKILLed while they run and started
 * again. The job must count 1,300 submitted, 1,270 finished and 30 failed once its driver has every value; then the
 * driver ends its job, and the counts stay those through one more kill and restart. `groups`: the driver's calls
 * of a turn travel as task groups (each batch one group), or each as a task.
 */
export async function countsAcrossKill(
  start: StartCoordinator,
  token: string,
  groups: boolean,
  keep: (m: Mesh) => void,
  /** Whether a restarted coordinator reads ended jobs back (SQLite; Redis reads a job only when its driver resumes it). */
  endedReadBack = true,
): Promise<void> {
  // Where its time goes (printed at the end, as test/fault/tabs.test.ts does): time to each phase from the start.
  const t0 = Date.now();
  const phases: string[] = [];
  const phase = (what: string) => phases.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  let c = await start(0);
  phase('listening');
  const port = Number(new URL(c.url).port);
  await edgeNodes(c, token, 1, c.url, 1, FAST_REJOIN);
  phase('node joined');
  const m = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000, reconnectMaxMs: TEST_REJOIN_MAX_MS, groups });
  keep(m);
  const square = m.remote((x: number) => x * x);
  const picky = m
    .remote((x: number) => {
      if (x % 10 === 0) throw new Error(`no ${x}`);
      return x;
    })
    .options({ maxRetries: 0 });
  const freed = Array.from({ length: FREED }, (_, i) => square.remote(i));
  expect(await m.get(freed)).toEqual(Array.from({ length: FREED }, (_, i) => i * i));
  const failing = Array.from({ length: FAILING }, (_, i) => picky.remote(i));
  const settled = await Promise.allSettled(failing.map((r) => m.get(r)));
  expect(settled.filter((s) => s.status === 'rejected').length).toBe(FAILED);
  // The first batch is freed (its records go); the second is kept, every member ended (its group is not sent again).
  m.free(freed);
  let s: Record<string, number> | undefined;
  const left = groups ? { tasks: 0, groups: 1 } : { tasks: FAILING, groups: 0 };
  await until(async () => (s = await stats(c.url, token)) !== undefined && s.tasks === left.tasks && s.groups === left.groups, {
    timeoutMs: 20_000,
    what: () => `the freed tasks to leave the coordinator: ${JSON.stringify(s)}`,
  });
  // The case at hand: each batch was one group, or no group was made.
  expect(s!.groupsSubmitted).toBe(groups ? 2 : 0);
  // The deletes reach the durable GCS in its next grouped write (every 20 ms).
  await new Promise((r) => setTimeout(r, 300));

  const slow = m.remote(async (x: number) => {
    await new Promise((r) => setTimeout(r, 5));
    return x + 1;
  });
  const later = Array.from({ length: LATER }, (_, i) => slow.remote(i));
  const all = m.get(later, { timeoutMs: 120_000 });
  const before = s!.tasksFinished;
  await until(async () => ((await stats(c.url, token))?.tasksFinished ?? 0) >= before + 40, { timeoutMs: 60_000, what: 'the last batch to be under way' });
  phase('killed');
  await kill(c);
  c = await start(port);
  phase('listening again');
  expect(await all).toEqual(Array.from({ length: LATER }, (_, i) => i + 1));
  phase('every value');

  const id = m.jobId;
  const exact = { total: TOTAL, done: TOTAL - FAILED, failed: FAILED, cancelled: 0 };
  let seen: JobView | undefined;
  await until(async () => (seen = await job(c, token, id))?.progress.done === exact.done, {
    timeoutMs: 20_000,
    what: () => `the job's counts after the restart: ${JSON.stringify(seen)}`,
  });
  expect(seen!.progress).toMatchObject(exact);

  // The job ends (its driver says goodbye): its row holds its final counts, read back by the next restart.
  await m.close();
  await until(async () => (seen = await job(c, token, id))?.status !== 'running', { timeoutMs: 20_000, what: () => `the job to end: ${JSON.stringify(seen)}` });
  expect(seen!.progress).toMatchObject(exact);
  phase('the job ended');
  console.log(`restart counts: ${phases.join('; ')}`);
  if (!endedReadBack) return;
  await new Promise((r) => setTimeout(r, 300));
  await kill(c);
  c = await start(port);
  await until(async () => (seen = await job(c, token, id)) !== undefined, { timeoutMs: 20_000, what: 'the ended job read back' });
  expect(seen!.progress).toMatchObject(exact);
}
