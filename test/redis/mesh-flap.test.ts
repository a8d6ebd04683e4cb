// A job spread over two coordinators survives a stalled coordinator (issue 14):
// under load a coordinator's loop stalls past DEAD_MS, the other takes it for
// gone and drops its link (and the guest tasks it ran for it), then links again.
// Real processes on a real redis-server; SIGSTOP stands for the stall.
import { afterAll, describe, expect, it } from 'vitest';
import type { RunningCoordinator } from '../../coordinator/server.js';
import type { EdgeNode } from '../../edge/node.js';
import { useRedis } from '../helpers/redis.js';
import { linkedInProcess, closeInProcess } from '../helpers/mesh.js';
import { cleanupProcesses, edgeNodes, getJson, redisCoordinator, stats, statsWhen, type Coord } from '../helpers/processes.js';
import { sleep, until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

let mesh: Mesh | undefined;
const stopped: Coord[] = [];
const inProcess: (RunningCoordinator | EdgeNode)[] = [];
/** The stall cases' pair of coordinator processes (a node each), made by the first and used by the next: each case's job its own. */
let pair: { token: string; a: Coord; b: Coord } | undefined;
const redis = useRedis(async () => {
  for (const c of stopped.splice(0)) c.proc.kill('SIGCONT');
  await mesh?.close().catch(() => {});
  mesh = undefined;
  await closeInProcess(inProcess);
}, false);
afterAll(() => {
  pair = undefined;
  cleanupProcesses();
});

async function linked(cs: Coord[], token: string): Promise<void> {
  for (const c of cs) {
    await until(async () => ((await stats(c.url, token))?.meshLinks ?? 0) === 1, { timeoutMs: 15_000, what: `${c.url} to link to the other` });
  }
}

async function dump(cs: [string, Coord][], token: string): Promise<void> {
  for (const [name, c] of cs) {
    const ev = (await getJson<{ kind: string; message: string; ts: number }[]>(c.url, '/api/events?limit=400', token)) ?? [];
    console.log(name, JSON.stringify(ev.filter((x) => !/^task-(started|finished)$/.test(x.kind)).map((x) => [x.ts % 100_000, x.kind, x.message])).slice(-8000));
    console.log(name, 'stats', JSON.stringify(await stats(c.url, token)));
  }
}

/** Two coordinator processes on the test's Redis, an edge node process each, linked. */
async function processPair(prefix: string): Promise<{ token: string; a: Coord; b: Coord }> {
  const token = `${prefix}-` + Math.random().toString(36).slice(2);
  const [a, b] = await Promise.all([redisCoordinator(redis.server.url, prefix, token), redisCoordinator(redis.server.url, prefix, token)]);
  await Promise.all([edgeNodes(a, token, 1), edgeNodes(b, token, 1)]);
  return { token, a, b };
}

/**
 * A job of `n` tasks from a driver on A, spread over A's and B's nodes; `who` stops for `ms` once B runs some of
 * them. The pair is the file's (a case after another finds it linked again after that one's stall): the counts are
 * what this job added.
 */
async function stallMidJob(who: 'owner' | 'runner', ms: number): Promise<void> {
  const { token, a, b } = (pair ??= await processPair('flap'));
  await linked([a, b], token);
  const [a0, b0] = [(await stats(a.url, token))!, (await stats(b.url, token))!];
  mesh = await connect({ url: a.url, token, reconnectTimeoutMs: 60_000 });
  const m = mesh;
  const work = m.remote(async (i: number) => {
    await new Promise((r) => setTimeout(r, 40));
    return i * 7 + 1;
  });
  const n = 400;
  const refs = Array.from({ length: n }, (_, i) => work.remote(i));
  const all = m.get(refs, { timeoutMs: 90_000 });
  // Mid-job: B runs some of A's tasks (some done, others waiting there).
  await until(async () => ((await stats(b.url, token))?.tasksFinished ?? 0) >= b0.tasksFinished + 10, {
    timeoutMs: 30_000,
    what: 'B to run tasks of the job',
  });
  const c = who === 'owner' ? a : b;
  c.proc.kill('SIGSTOP');
  stopped.push(c);
  await sleep(ms);
  c.proc.kill('SIGCONT');
  stopped.splice(0);
  const got = await all.catch(async (e: unknown) => {
    await dump(
      [
        ['A', a],
        ['B', b],
      ],
      token,
    );
    throw e;
  });
  if (process.env.FLAP_DUMP)
    await dump(
      [
        ['A', a],
        ['B', b],
      ],
      token,
    );
  expect(got).toEqual(Array.from({ length: n }, (_, i) => i * 7 + 1));
  // Each task counted once by its owner, whatever ran twice (a run on the side that dropped it, and its next attempt).
  expect((await statsWhen(a.url, token, 'tasksFinished', a0.tasksFinished + n)).tasksFinished - a0.tasksFinished).toBe(n);
}

/** A coordinator's view of the mesh's records (white-box): the others it takes for alive. */
interface MeshInside {
  id: string;
  registry: { tick(self: unknown): Promise<{ id: string }[]> };
}

/** A job from a driver on A spread over A's and B's nodes; mid-job B takes A for gone for good (its view of the records). */
async function runnerDropsGuests(prefix: string, maxRetries?: number): Promise<void> {
  // A silence window far past the test's wait: the owner's link node for B never dies of silence here, as when the
  // owner's loop stalls again and again and every sweep after a stall gives every node a fresh window.
  const { a, b, token } = await linkedInProcess(redis.server.url, prefix, inProcess, { deadAfterMs: 600_000 });
  mesh = await connect({ url: a.url, token });
  const m = mesh;
  const f = m.remote(async (i: number) => {
    await new Promise((r) => setTimeout(r, 200));
    return i * 3 + 2;
  });
  const work = maxRetries === undefined ? f : f.options({ maxRetries });
  // More than both nodes hold at once (2 a CPU while the function is not measured): some wait in A's queue, and B
  // takes more of them until its view drops A. What B dropped runs again on A's node alone (it was 60: 6 s of it).
  const n = 30;
  const refs = Array.from({ length: n }, (_, i) => work.remote(i));
  const all = m.get(refs, { timeoutMs: 60_000 });
  await until(() => b.coordinator.gcs.tasks.size > 0, { timeoutMs: 15_000, what: 'tasks of the job to reach B' });
  // From now on B takes A for gone, as when A's record looks stale to it (A's loop stalled): B's tick closes its agent
  // for A and the guest tasks go with it; B's view of A stays so, and no new agent says hello to A. B's own record
  // goes on: A still takes B for alive.
  const aId = (a.coordinator.mesh as unknown as MeshInside).id;
  const rb = (b.coordinator.mesh as unknown as MeshInside).registry;
  const tick = rb.tick.bind(rb);
  rb.tick = async (self) => (await tick(self)).filter((o) => o.id !== aId);
  await until(() => b.coordinator.gcs.tasks.size === 0, { timeoutMs: 15_000, what: "B to drop A's guest tasks" });
  expect(await all).toEqual(Array.from({ length: n }, (_, i) => i * 3 + 2));
  const sa = await statsWhen(a.url, token, 'tasksFinished', n);
  expect(sa.meshLinksEnded).toBe(1);
  // Each task counted once, whatever ran twice.
  expect(sa.tasksFinished).toBe(n);
}

describe('a job spread over two coordinators, one of them stalled', () => {
  it("the runner takes the owner for gone and drops its guest tasks while the owner's link node stays alive: the owner re-places them at once", async () => {
    await runnerDropsGuests('drop');
  }, 120_000);

  it('tasks with no retries lost with a link (the mesh taken for gone) are placed again, not failed: the link is not their retry', async () => {
    await runnerDropsGuests('noretry', 0);
  }, 120_000);

  it('the owner stalls past DEAD_MS (and its lease): the runner drops its guest tasks; the job finishes with exact results', async () => {
    await stallMidJob('owner', 3500);
  }, 180_000);

  it('the runner stalls past DEAD_MS: the owner drops its link; the job finishes with exact results', async () => {
    await stallMidJob('runner', 3500);
  }, 180_000);

  it('the owner stalls past its lease but not DEAD_MS: the job finishes with exact results', async () => {
    await stallMidJob('owner', 1800);
  }, 180_000);
});
