// The coordinator on Redis (issue 15), as a user runs it (`tabmesh
// coordinator --redis URL`, real processes, real redis-server): a coordinator
// SIGKILLed mid-job and started again on the same Redis finishes the job with
// the right results, on one server and on a 3-master Cluster; Redis itself
// killed and restarted (AOF) under an idle mesh loses neither jobs nor
// finished results. The kill mid-job runs twice: with groups off (the job's
// tasks are task rows in Redis, recovered as unfinished tasks) and with task
// groups (docs/decisions.md "Task groups": not in Redis, sent again by their
// owner).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../helpers/redis.js';
import {
  cleanupProcesses,
  edgeNodes,
  FAST_REJOIN,
  getJson,
  kill,
  printCoordinators,
  redisCoordinator as coordinator,
  restartablePort,
  run,
  stats,
  tempDir,
  TEST_REJOIN_MAX_MS,
  type Coord,
} from '../helpers/processes.js';
import { until as poll } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { DriverCore } from '../../shared/api/driver.js';

let mesh: Mesh | undefined;
let redis: RedisServer;
let cluster: RedisCluster;
beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.destroy(), cluster?.destroy()]);
});
afterEach(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
  // A no-groups kill case's restarted coordinator and its nodes go on to the groups case on the same storage.
  if (!kept) cleanupProcesses();
});
afterAll(() => {
  kept = undefined;
  cleanupProcesses();
});

/** A coordinator that was killed mid-job and started again (its nodes rejoined it), kept for the next case on its storage. */
interface Restarted {
  c: Coord;
  token: string;
  storage: string;
  prefix: string;
}
let kept: Restarted | undefined;

function until<T>(f: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: () => string): Promise<T> {
  return poll(f, { timeoutMs: ms, what });
}

async function nodes(c: Coord, token: string, n: number): Promise<void> {
  await edgeNodes(c, token, n, c.url, n, FAST_REJOIN);
}

/** Until a kept coordinator is idle: the earlier case's job ended (no task, object or group left), its 2 nodes back. */
async function idle(c: Coord, token: string): Promise<void> {
  let last: Record<string, number> | undefined;
  await until(
    async () => {
      const s = (last = await stats(c.url, token));
      return s !== undefined && s.tasks === 0 && s.objects === 0 && s.groups === 0 && s.nodes === 2;
    },
    30_000,
    () => `idle: tasks ${last?.tasks} objects ${last?.objects} groups ${last?.groups} nodes ${last?.nodes}`,
  );
}

/**
 * A coordinator SIGKILLed mid-job and started again on the same Redis: the job completes exactly. `groups` false:
 * the durable GCS's recovery of unfinished tasks; true: the driver's 400 calls in one turn are a group its owner
 * sends again, each counted once in the job, and nothing is left once freed. `ownPrefix`: its storage's prefix when it
 * starts a coordinator of its own (a groups case on a kept coordinator goes on with that one's).
 */
async function killMidJob(redisUrl: string, ownPrefix: string, groups: boolean): Promise<void> {
  // The groups case takes the no-groups case's restarted coordinator and its 2 nodes (3 process starts fewer) when
  // that case ran on the same storage; it starts on an idle coordinator: no task, object or group left, both nodes.
  const take = kept?.storage === redisUrl ? kept : undefined;
  kept = undefined;
  const token = take?.token ?? 'redis-' + Math.random().toString(36).slice(2);
  const prefix = take?.prefix ?? ownPrefix;
  let c = take?.c ?? (await coordinator(redisUrl, prefix, token, await restartablePort()));
  const port = Number(new URL(c.url).port);
  if (take) await idle(c, token);
  else await nodes(c, token, 2);
  mesh = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000, reconnectMaxMs: TEST_REJOIN_MAX_MS, groups });
  const m = mesh;
  const early = m.remote((x: number) => `early ${x}`).remote(7);
  expect(await m.get(early)).toBe('early 7');
  const work = m.remote(async (i: number) => {
    await new Promise((r) => setTimeout(r, 4));
    return i * 3;
  });
  // 400 (it was 1,000 until session 35): the kill lands with most of them unfinished (at 80 finished; each runs 4 ms and
  // more, 4 CPUs), which each case checks: a recovered-unfinished event, or the group sent again by its owner.
  // Counters read as differences from here: a kept coordinator counted the earlier case's job.
  const s0 = (await stats(c.url, token))!;
  const refs = Array.from({ length: 400 }, (_, i) => work.remote(i));
  const all = m.get(refs, { timeoutMs: 120_000 });
  await until(
    async () => ((await stats(c.url, token))?.tasksFinished ?? 0) >= s0.tasksFinished + 80,
    60_000,
    () => 'the job to be under way',
  );
  expect((await stats(c.url, token))!.groupsSubmitted - s0.groupsSubmitted).toBe(groups ? 1 : 0);
  await kill(c);
  c = await coordinator(redisUrl, prefix, token, port);
  await all.catch(async (e: unknown) => {
    // Seen once in CI (session 37: 316 members not ready after 120 s, groups on a Cluster): what each side held.
    const d = m.core as DriverCore;
    console.log('driver', JSON.stringify({ groups: d.groups.counts, pending: d.groups.pending, members: d.groups.members }));
    await printCoordinators([c], token);
    console.log('coordinator output', c.out.join('').slice(-4000));
    throw e;
  });
  expect(await all).toEqual(Array.from({ length: 400 }, (_, i) => i * 3));
  expect(await m.get(early)).toBe('early 7');
  if (!groups) {
    const events = (await (await fetch(`${c.url}/api/events?kind=coordinator-recovered`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      message: string;
    }[];
    expect(events.map((e) => e.message)).toContainEqual(expect.stringMatching(/^recovered 1 running job\(s\), [1-9]\d* unfinished task/));
    kept = { c, token, storage: redisUrl, prefix };
    return;
  }
  expect((await stats(c.url, token))?.groupsSubmitted).toBe(1); // sent again by its owner
  // The job's tasks counted once: `early` (a task row) and the 400 members, whether they ended before the kill or after.
  const job = () => getJson<{ progress: { total: number; done: number; failed: number; cancelled: number } }>(c.url, `/api/jobs/${m.jobId}`, token);
  await until(
    async () => (await job())?.progress.done === 401,
    10_000,
    () => 'the job to count its 401 tasks done',
  );
  expect((await job())?.progress).toMatchObject({ total: 401, done: 401, failed: 0, cancelled: 0 });
  m.free([...refs, early]);
  let last: Record<string, number> | undefined;
  await until(
    async () => {
      const s = (last = await stats(c.url, token));
      return s !== undefined && s.tasks === 0 && s.objects === 0 && s.groups === 0;
    },
    20_000,
    () => `drained: tasks ${last?.tasks} objects ${last?.objects} groups ${last?.groups}`,
  );
}

describe('tabmesh coordinator --redis: bad input', () => {
  async function exit(args: string[]): Promise<{ code: number | null; out: string }> {
    const c = run(args);
    const code = await new Promise<number | null>((r) => c.proc.once('exit', (n) => r(n)));
    return { code, out: c.out.join('') };
  }

  it('a malformed URL, --memory with --redis, a job grace or a node rejoin cap out of range is a usage error (exit 2)', async () => {
    // At once: each process loads the coordinator's modules before it checks its flags.
    const [bad, both, grace, rejoin] = await Promise.all([
      exit(['coordinator', '--redis', 'localhost:6379', '--port', '0']),
      exit(['start', '--memory', '--redis', 'redis://127.0.0.1:1', '--port', '0']),
      exit(['coordinator', '--redis', 'redis://127.0.0.1:1', '--port', '0', '--job-grace-ms', '5']),
      // The node's rejoin cap these tests shorten (FAST_REJOIN): checked before it reaches for a coordinator.
      exit(['node', '--coordinator', 'http://127.0.0.1:1', '--rejoin-max-ms', '5']),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/--redis must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(both.code).toBe(2);
    expect(both.out).toMatch(/--memory and --redis are exclusive/);
    expect(grace.code).toBe(2);
    expect(grace.out).toMatch(/--job-grace-ms must be an integer in \[1000, 3600000\]/);
    expect(rejoin.code).toBe(2);
    expect(rejoin.out).toMatch(/--rejoin-max-ms must be an integer in \[100, 600000\]/);
  });

  it('a Redis that cannot be reached stops the coordinator with the reason (exit 1)', async () => {
    const gone = await startRedis();
    await gone.destroy();
    const r = await exit(['coordinator', '--redis', gone.url, '--port', '0', '--data', tempDir('tabmesh-redis-data-'), '--token', 't']);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`cannot reach Redis at ${gone.url}`);
  });
});

describe('coordinator on Redis', () => {
  it('SIGKILLed in the middle of a 400-task job and restarted on the same Redis: the job completes with the right results', async () => {
    await killMidJob(redis.url, 'kill1', false);
  }, 180_000);

  it('the same job as a task group (its owner sends it again): exact results, each task counted once, drained after free', async () => {
    await killMidJob(redis.url, 'kill3', true);
  }, 180_000);

  it('the same on a 3-master Redis Cluster', async () => {
    await killMidJob(cluster.url, 'kill2', false);
  }, 180_000);

  it('the same with a task group on a 3-master Redis Cluster', async () => {
    await killMidJob(cluster.url, 'kill4', true);
  }, 180_000);

  it('Redis killed and restarted (AOF) under an idle mesh: its job and finished results are still there', async () => {
    const own = await startRedis();
    try {
      const token = 'aof-' + Math.random().toString(36).slice(2);
      let c = await coordinator(own.url, 'idle', token);
      const port = Number(new URL(c.url).port);
      await nodes(c, token, 1);
      mesh = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000, reconnectMaxMs: TEST_REJOIN_MAX_MS });
      const m = mesh;
      const square = m.remote((x: number) => x * x);
      const before = Array.from({ length: 50 }, (_, i) => square.remote(i));
      expect(await m.get(before)).toEqual(Array.from({ length: 50 }, (_, i) => i * i));
      // Idle: appendfsync everysec has written everything within about a second.
      await new Promise((r) => setTimeout(r, 1500));
      await own.restart(); // SIGKILL, then start again on the same folder: the AOF is replayed
      // The mesh goes on, and its writes reach the restarted Redis.
      const after = square.remote(12);
      expect(await m.get(after)).toBe(144);
      await new Promise((r) => setTimeout(r, 1500));
      // Read back through a new coordinator: everything came from Redis.
      await kill(c);
      c = await coordinator(own.url, 'idle', token, port);
      expect(await m.get(before)).toEqual(Array.from({ length: 50 }, (_, i) => i * i));
      expect(await m.get(after)).toBe(144);
      // Its driver resumed there: the job was read back from Redis (jobs are taken over when their drivers come back).
      await until(
        async () => (await stats(c.url, token))?.jobs === 1,
        15_000,
        () => 'the job to be read back',
      );
      expect(await m.get(square.remote(3))).toBe(9);
    } finally {
      await own.destroy();
    }
  }, 180_000);
});
