// A coordinator on Redis closing while its mesh's work is in flight (session 29): a janitor sweep whose Redis
// read failed with the closing link logged the failure as an event, after the coordinator had closed its GCS
// storage: an unhandled rejection "RedisStorage ... is closed" (test/redis/restart-detached.test.ts under load).
// The mesh's close now waits for what it started to end, and what ends after close writes nothing.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import type { MeshRegistry } from '../../coordinator/mesh/registry.js';
import { useRedis } from '../helpers/redis.js';
import { until } from '../helpers/poll.js';

let running: RunningCoordinator | undefined;
const redis = useRedis(async () => {
  await running?.close();
  running = undefined;
});

const rejections: unknown[] = [];
const onRejection = (e: unknown) => rejections.push(e);
process.on('unhandledRejection', onRejection);
afterEach(() => {
  rejections.length = 0;
});
// The worker runs other files after this one (project `shared`): they do not report to this file's list.
afterAll(() => {
  process.off('unhandledRejection', onRejection);
});

describe('a coordinator on Redis closing', () => {
  it("while its janitor's sweep waits on Redis: the read fails with the link, nothing is written after close, no unhandled rejection", async () => {
    // A job grace of 1 s: the janitor sweeps every 500 ms.
    const c = await startCoordinator({ redis: { url: redis.server.url, prefix: 'mesh-close' }, port: 0, httpLimits: false, jobGraceMs: 1_000 });
    running = c;
    const registry = (c.coordinator.mesh as unknown as { registry: MeshRegistry }).registry;
    const client = (registry as unknown as { client: Redis }).client;
    // The sweep's read of the unleased jobs is still out when the link closes: it fails as ioredis fails the
    // commands it was waiting on (a blocking command would hold the one connection close() needs too).
    let reads = 0;
    let ended: string | undefined;
    registry.unleasedJobs = async () => {
      reads++;
      await new Promise((_, reject) => client.once('end', () => reject(new Error('Connection is closed.'))));
      return [];
    };
    client.once('end', () => setImmediate(() => (ended = 'end')));
    await until(() => reads >= 1, { timeoutMs: 20_000, what: 'a sweep to read from Redis' });
    running = undefined;
    await c.close();
    await until(() => ended !== undefined, { timeoutMs: 20_000, what: "the sweep's read to end with the link" });
    // The sweep's failure is handled a few turns after its read failed.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    process.off('unhandledRejection', onRejection);
    expect(rejections.map((e) => String((e as Error)?.message ?? e))).toEqual([]);
  }, 60_000);
});
