// A task another coordinator runs for a job (a guest task, coordinator/mesh)
// is reported to the job's coordinator from its end there, not through
// subscriptions to its outputs (issue 15): results, thrown errors and
// cancellations all come back, and nothing stays behind on the runner.
import { afterAll, describe, expect, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { cleanupProcesses, edgeNodes, redisCoordinator, stats, statsWhen, type Coord } from '../helpers/processes.js';
import { until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import { TaskCancelledError, TaskError } from '../../shared/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

let mesh: Mesh | undefined;
/** The file's pair, made by the first case and used by the next (each case's job its own: its counts what it added). */
let pair: { token: string; a: Coord; b: Coord } | undefined;
const redis = useRedis(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
}, false);
afterAll(() => {
  pair = undefined;
  cleanupProcesses();
});

/** Two coordinator processes on the test's Redis, linked: A with no node of its own, B with one of 2 CPUs. */
async function noNodeAndOne(): Promise<{ token: string; a: Coord; b: Coord }> {
  const token = 'guest-' + Math.random().toString(36).slice(2);
  const [a, b] = await Promise.all([redisCoordinator(redis.server.url, 'guests', token), redisCoordinator(redis.server.url, 'guests', token)]);
  await edgeNodes(b, token, 1);
  for (const c of [a, b]) {
    await until(async () => ((await stats(c.url, token))?.meshLinks ?? 0) === 1, { timeoutMs: 15_000, what: `${c.url} to link to the other` });
  }
  return { token, a, b };
}

describe('guest tasks report their end', () => {
  it('a coordinator with no node of its own: every task runs on the other; values, a thrown error and a cancel come back, and the other keeps no task', async () => {
    const { token, a, b } = (pair ??= await noNodeAndOne());
    const b0 = (await stats(b.url, token))!;
    mesh = await connect({ url: a.url, token });
    const m = mesh;
    const times7 = m.remote((i: number) => i * 7);
    const boom = m.remote((i: number) => {
      throw new Error(`boom ${i}`);
    });
    const slow = m.remote(() => new Promise((r) => setTimeout(r, 60_000)));

    const refs = Array.from({ length: 300 }, (_, i) => times7.remote(i));
    expect(await m.get(refs, { timeoutMs: 60_000 })).toEqual(Array.from({ length: 300 }, (_, i) => i * 7));
    const e = (await m.get(boom.remote(3), { timeoutMs: 30_000 }).catch((x: unknown) => x)) as TaskError;
    expect(e).toBeInstanceOf(TaskError);
    expect(e.message).toContain('boom 3');
    const s = slow.remote();
    await until(async () => ((await stats(b.url, token))?.tasks ?? 0) > 0, { timeoutMs: 15_000, what: 'the slow task to reach the other coordinator' });
    m.cancel(s, { force: true });
    expect(await m.get(s, { timeoutMs: 30_000 }).catch((x: unknown) => x)).toBeInstanceOf(TaskCancelledError);

    // All of it ran on the other coordinator's node, and once freed nothing of it stays there.
    const sb = await statsWhen(b.url, token, 'tasksFinished', b0.tasksFinished + 300);
    expect(sb.tasksFinished - b0.tasksFinished).toBe(300);
    expect(sb.tasksFailed + sb.tasksCancelled - (b0.tasksFailed + b0.tasksCancelled)).toBe(2);
    m.free([...refs, s]);
    await until(async () => ((await stats(b.url, token))?.tasks ?? -1) === 0, { timeoutMs: 15_000, what: 'the other coordinator to drop its guest tasks' });
  }, 120_000);

  it("a guest task's children are the runner's guest tasks: submitted to the coordinator running it, run on its nodes, never seen by the owner", async () => {
    const { token, a, b } = (pair ??= await noNodeAndOne());
    const [a0, b0] = [(await stats(a.url, token))!, (await stats(b.url, token))!];
    const m = (mesh = await connect({ url: a.url, token }));
    const fib = m.remote(async function fib(n: number): Promise<number> {
      if (n < 2) return n;
      // `mesh` in a task is the executor's own (a global there), not this file's driver.
      const f = mesh!.remote(fib);
      const [x, y] = await mesh!.get([f.remote(n - 1), f.remote(n - 2)]);
      return x + y;
    });
    expect(await m.get(fib.remote(8), { timeoutMs: 60_000 })).toBe(21);
    // fib(8) is 67 calls: the owner placed the first on the other, which ran it and its 66 descendants.
    const sa = await statsWhen(a.url, token, 'tasksFinished', a0.tasksFinished + 1);
    const sb = await statsWhen(b.url, token, 'tasksFinished', b0.tasksFinished + 67);
    expect([sa.tasksSubmitted - a0.tasksSubmitted, sa.tasksFinished - a0.tasksFinished]).toEqual([1, 1]);
    expect([sb.tasksSubmitted - b0.tasksSubmitted, sb.tasksFinished - b0.tasksFinished]).toEqual([67, 67]);
  }, 120_000);
});
