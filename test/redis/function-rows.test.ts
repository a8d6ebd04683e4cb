// Function rows in Redis have a lifetime (issue 15, session 11): each job that
// submits a task of a function writes its own row of it in the job's hash,
// and the job's rows go when it ends. Many jobs with distinct functions come
// and go: the rows left are the live jobs' functions; a coordinator that
// starts reads none, and one taking a job over reads that job's only.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { unpack } from 'msgpackr';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { useRedis } from '../helpers/redis.js';
import { edgeNodes } from '../helpers/processes.js';
import { until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

const meshes: Mesh[] = [];
const coordinators: RunningCoordinator[] = [];
const redis = useRedis(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close().catch(() => {})));
  await Promise.all(coordinators.splice(0).map((c) => c.close().catch(() => {})));
});

/** A function of its own source (a tag in it): its own function id. */
function tagged(m: Mesh, tag: string) {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a distinct source per job is the point
  return m.remote(new Function('x', `return ${JSON.stringify(tag)} + ':' + x;`) as (x: number) => string);
}

/** The tags of every function row under `prefix`, by the job whose hash holds it. */
async function rowsByJob(r: Redis, prefix: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*:functions`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const group = /\{([^}]+)\}/.exec(key)![1];
      const rows = await r.hgetallBuffer(key);
      const tags = Object.values(rows).map((row) => /return "([^"]+)"/.exec((unpack(row) as { source: string }).source)?.[1] ?? '?');
      out.set(group, [...(out.get(group) ?? []), ...tags].sort());
    }
  } while (cursor !== '0');
  return out;
}

/** Waits until the function rows are `expected` (tags by job). */
async function rowsAre(r: Redis, prefix: string, expected: Map<string, string[]>, what: string): Promise<void> {
  const want = JSON.stringify([...expected].sort());
  let seen = '';
  await until(async () => (seen = JSON.stringify([...(await rowsByJob(r, prefix))].sort())) === want, {
    timeoutMs: 15_000,
    what: () => `${what}: want ${want}, Redis has ${seen}`,
  });
}

describe('function rows in Redis', () => {
  it("20 jobs with distinct functions come and go: the rows left are the 3 live jobs' functions; a coordinator taking a live job over reads that job's only", async () => {
    const token = 'fn-' + Math.random().toString(36).slice(2);
    const prefix = 'fnrows';
    const opts = { redis: { url: redis.server.url, prefix }, port: 0, token, httpLimits: false as const };
    const a = await startCoordinator(opts);
    coordinators.push(a);
    await edgeNodes({ url: a.url } as never, token, 1);
    const r = new Redis(redis.server.url);
    try {
      // A function every job uses: a row in each job's hash, and one job's end does not take the others'.
      const shared = (m: Mesh) => tagged(m, 'shared');
      const live: { m: Mesh; job: string; tags: string[] }[] = [];
      for (let i = 0; i < 3; i++) {
        const m = await connect({ url: a.url, token, reconnectTimeoutMs: 60_000 });
        meshes.push(m);
        const tags = [`live${i}a`, `live${i}b`];
        for (const tag of tags) expect(await m.get(tagged(m, tag).remote(i))).toBe(`${tag}:${i}`);
        expect(await m.get(shared(m).remote(i))).toBe(`shared:${i}`);
        live.push({ m, job: m.jobId, tags: [...tags, 'shared'].sort() });
      }
      for (let i = 0; i < 17; i++) {
        const m = await connect({ url: a.url, token });
        for (const tag of [`gone${i}a`, `gone${i}b`]) expect(await m.get(tagged(m, tag).remote(i))).toBe(`${tag}:${i}`);
        expect(await m.get(shared(m).remote(i))).toBe(`shared:${i}`);
        await m.close(); // a goodbye: the job ends
      }
      const expected = new Map(live.map((l) => [l.job, l.tags]));
      await rowsAre(r, prefix, expected, "the live jobs' function rows only");

      // A coordinator that starts reads no function (one on its own port: no driver reaches it).
      const c = await startCoordinator(opts);
      expect(c.coordinator.gcs.functions.size).toBe(0);
      await c.close();
      // The first stops and another starts on its port. The live drivers resume their jobs there: it reads each
      // job's functions as it takes the job over (the ended jobs' it never sees), and runs them.
      const port = Number(new URL(a.url).port);
      await a.close();
      const b = await startCoordinator({ ...opts, port });
      coordinators.push(b);
      const gcs = b.coordinator.gcs;
      await until(() => live.every((l) => gcs.jobs.get(l.job as never)?.state === 'running'), { timeoutMs: 60_000, what: 'the live jobs to resume' });
      const names = () => [...gcs.functions.values()].map((f) => /return "([^"]+)"/.exec(f.source)?.[1] ?? '?').sort();
      expect(names()).toEqual([...new Set(live.flatMap((l) => l.tags))].sort());
      for (const [i, l] of live.entries()) expect(await l.m.get(tagged(l.m, l.tags[0]).remote(10 + i), { timeoutMs: 30_000 })).toBe(`${l.tags[0]}:${10 + i}`);
      // Ending a live job takes its rows; the others' stay (the shared function's too).
      await live[0].m.close();
      expected.delete(live[0].job);
      await rowsAre(r, prefix, expected, "the ended job's rows to go");
    } finally {
      r.disconnect();
    }
  }, 180_000);
});
