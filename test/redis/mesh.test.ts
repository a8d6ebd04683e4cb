// Several coordinators on one Redis form one mesh (issue 15), as a user runs
// them: `tabmesh coordinator --redis URL` processes, `tabmesh node
// --coordinator URL1,URL2` processes, a driver with both URLs. A job placed
// through one coordinator uses the nodes of both; when the job's coordinator
// is SIGKILLed, its driver and nodes go to the other, which takes the job's
// lease over and finishes it exactly.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { unpack } from 'msgpackr';
import { startCoordinator } from '../../coordinator/server.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../helpers/redis.js';
import { cleanupProcesses, edgeNodes, getJson, kill, redisCoordinator, stats, statsWhen, tempDir, type Coord } from '../helpers/processes.js';
import { twoCoordinators, type CoordinatorRow } from '../helpers/mesh.js';
import { until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

let mesh: Mesh | undefined;
let redis: RedisServer;
let cluster: RedisCluster | undefined;
beforeAll(async () => {
  redis = await startRedis();
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.destroy(), cluster?.destroy()]);
});
afterEach(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
  // The first case's pair goes on to the second (which kills A): its processes are kept until a case took it.
  if (!pair) cleanupProcesses();
});
afterAll(() => {
  pair = undefined;
  cleanupProcesses();
});

/** The first case's two coordinators (a node on each, naming both), used by the second: each case's job its own. */
let pair: { token: string; a: Coord; b: Coord } | undefined;

/** The job's tasks: "many" (more than A's node takes at once, so that B's node runs part of it). */
const N = 400;

async function events(url: string, token: string, kind: string): Promise<string[]> {
  return ((await getJson<{ message: string }[]>(url, `/api/events?kind=${kind}`, token)) ?? []).map((e) => e.message);
}

/** Returns the two coordinators' ids; `keep`: the pair is kept for the next case. */
async function oneJobOnBoth(redisUrl: string, prefix: string, keep = false): Promise<string[]> {
  const token = 'mesh-' + Math.random().toString(36).slice(2);
  const [a, b] = await twoCoordinators(redisUrl, prefix, token);
  if (keep) pair = { token, a, b };
  const listed = (await getJson<CoordinatorRow[]>(a.url, '/api/coordinators', token))!;
  expect(listed.map((r) => r.url).sort()).toEqual([a.url, b.url].sort());
  expect(listed.find((r) => r.self)!.url).toBe(a.url);

  mesh = await connect({ url: [a.url, b.url], token });
  const m = mesh;
  const work = m.remote(async (i: number) => {
    await new Promise((r) => setTimeout(r, 2));
    return i * 7 + 1;
  });
  const refs = Array.from({ length: N }, (_, i) => work.remote(i));
  expect(await m.get(refs, { timeoutMs: 120_000 })).toEqual(Array.from({ length: N }, (_, i) => i * 7 + 1));
  // The job is A's; B ran part of it on its node.
  const sa = await statsWhen(a.url, token, 'tasksFinished', N);
  const sb = (await stats(b.url, token))!;
  expect(sa.tasksFinished).toBe(N);
  expect(sb.tasksFinished).toBeGreaterThan(0);
  expect(sb.tasksFinished).toBeLessThan(N);
  expect((await getJson<CoordinatorRow[]>(a.url, '/api/coordinators', token))!.find((r) => r.self)!.jobs).toBe(1);
  return listed.map((r) => r.id);
}

class Counter {
  n = 0;
  inc(): number {
    return ++this.n;
  }
  /** Drawn once per instance: the same tag after the kill is the same instance. */
  readonly tag = Math.random().toString(36).slice(2);
  who(): string {
    return this.tag;
  }
}

describe('several coordinators on one Redis', () => {
  it("two coordinators, a node on each: one driver's 400 tasks use the nodes of both and come back exact; /api/coordinators lists both", async () => {
    const ids = await oneJobOnBoth(redis.url, 'both', true);
    // Both wrote events into the one events hash, each under its own keys: neither overwrote the other's rows.
    const r = new Redis(redis.url);
    try {
      const keys = await r.hkeys('both:{_}:events');
      for (const id of ids) expect(keys.filter((k) => k.startsWith(`${id}:`)).length).toBeGreaterThan(2);
      expect(keys.every((k) => ids.some((id) => k.startsWith(`${id}:`)))).toBe(true);
    } finally {
      r.disconnect();
    }
  }, 180_000);

  it('SIGKILL of the coordinator the driver and half the nodes use, mid-job: the other takes the job over, it finishes exactly, and a counter actor keeps its count', async () => {
    // The first case's pair when it ran (A dies here); B has taken over no job before this one's.
    const { token, a, b } =
      pair ??
      (await (async () => {
        const token = 'fo-' + Math.random().toString(36).slice(2);
        const [a, b] = await twoCoordinators(redis.url, 'failover', token);
        return { token, a, b };
      })());
    pair = undefined;
    mesh = await connect({ url: [a.url, b.url], token, reconnectTimeoutMs: 60_000 });
    const m = mesh;
    const early = m.remote((x: number) => `early ${x}`).remote(7);
    expect(await m.get(early)).toBe('early 7');
    // Actors live on the nodes of their job's coordinator: this one on A's node, which joins B after the kill.
    const counter = m.remote(Counter).remote();
    for (let i = 1; i <= 5; i++) expect(await m.get(counter.inc.remote())).toBe(i);
    const tag = await m.get(counter.who.remote());
    const work = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 4));
      return i * 3;
    });
    const refs = Array.from({ length: 1000 }, (_, i) => work.remote(i));
    const all = m.get(refs, { timeoutMs: 120_000 });
    await until(async () => ((await stats(a.url, token))?.tasksFinished ?? 0) >= 200, { timeoutMs: 60_000, what: 'the job to be under way' });
    await kill(a);
    // Sent while the driver has no coordinator: they wait for the job to be taken over and the actor's node to join B.
    const after = [counter.inc.remote(), counter.inc.remote(), counter.inc.remote()];
    expect(await all).toEqual(Array.from({ length: 1000 }, (_, i) => i * 3));
    expect(await m.get(early)).toBe('early 7');
    expect(await events(b.url, token, 'job-taken-over')).toHaveLength(1);
    // The same instance, in the same process: its count went on from 5.
    expect(await m.get(after, { timeoutMs: 60_000 })).toEqual([6, 7, 8]);
    expect(await m.get(counter.who.remote())).toBe(tag);
    expect(await events(b.url, token, 'actor-reattached')).toHaveLength(1);
    // A's node joined B; B lists itself alone once A's record stops beating.
    await until(async () => ((await stats(b.url, token))?.nodes ?? 0) >= 2, { timeoutMs: 30_000, what: "A's node to join B" });
    await until(async () => (await getJson<CoordinatorRow[]>(b.url, '/api/coordinators', token))?.length === 1, { timeoutMs: 15_000, what: 'B alone' });
  }, 180_000);

  it('a coordinator started later, with a node of its own, joins the mesh and takes part of a running job', async () => {
    const token = 'late-' + Math.random().toString(36).slice(2);
    const a = await redisCoordinator(redis.url, 'late', token);
    await edgeNodes(a, token, 1);
    mesh = await connect({ url: a.url, token });
    const m = mesh;
    // The job runs until the test opens the gate (a file its tasks poll for), not for as long as a count of tasks of 20 ms
    // take on one node: it is running however long the later coordinator takes to start under load.
    const gate = join(tempDir('tabmesh-gate-'), 'open');
    const work = m.remote(async (i: number, path: string) => {
      const fs = process.getBuiltinModule('node:fs');
      while (!fs.existsSync(path)) await new Promise((r) => setTimeout(r, 20));
      return i + 0.5;
    });
    const refs = Array.from({ length: 300 }, (_, i) => work.remote(i, gate));
    const all = m.get(refs, { timeoutMs: 120_000 });
    const c = await redisCoordinator(redis.url, 'late', token);
    await edgeNodes(c, token, 1);
    // The later coordinator holds part of the running job (A placed it through their link) before the job may end.
    await until(async () => ((await stats(c.url, token))?.tasks ?? 0) > 0, { timeoutMs: 60_000, what: 'the later coordinator to hold tasks of the job' });
    writeFileSync(gate, '');
    expect(await all).toEqual(Array.from({ length: 300 }, (_, i) => i + 0.5));
    expect((await stats(c.url, token))!.tasksFinished).toBeGreaterThan(0);
  }, 180_000);

  it('a job whose coordinator is SIGKILLed and whose driver never comes back is ended by the other coordinator once the job grace is over', async () => {
    const token = 'ab-' + Math.random().toString(36).slice(2);
    const a = await redisCoordinator(redis.url, 'abandoned', token);
    const b = await startCoordinator({ redis: { url: redis.url, prefix: 'abandoned' }, port: 0, token, jobGraceMs: 1500, httpLimits: false });
    const r = new Redis(redis.url);
    try {
      await edgeNodes(a, token, 1);
      // A driver that knows A only, and gives up on it soon.
      mesh = await connect({ url: a.url, token, reconnectTimeoutMs: 1000 });
      const job = mesh.jobId;
      const slow = mesh.remote(async () => {
        await new Promise((res) => setTimeout(res, 60_000));
        return 1;
      });
      void mesh.get(slow.remote()).catch(() => {}); // the driver gives up on A: it never comes back
      await until(async () => (await r.hlen(`abandoned:{${job}}:tasks`)) > 0, { timeoutMs: 30_000, what: "the job's task row in Redis" });
      await kill(a);
      await until(() => b.coordinator.gcs.events.some((e) => e.kind === 'job-abandoned' && e.job === job), {
        timeoutMs: 60_000,
        what: 'B to end the abandoned job',
      });
      // Its row says how it ended; the lease B took to end it is given back.
      await until(
        async () => {
          const row = await r.hgetBuffer(`abandoned:{${job}}:jobs`, job);
          return row && (unpack(row) as { state: string }).state === 'finished';
        },
        { timeoutMs: 10_000, what: "the job's row to say finished" },
      );
      await until(async () => (await r.exists(`abandoned:{${job}}:lease`)) === 0, { timeoutMs: 10_000, what: 'the lease to be released' });
    } finally {
      r.disconnect();
      await b.close();
    }
  }, 180_000);

  it('the same job on both coordinators of a 3-master Redis Cluster', async () => {
    cluster = await startRedisCluster(3);
    await oneJobOnBoth(cluster.url, 'cl');
  }, 240_000);
});
