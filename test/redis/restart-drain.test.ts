// The same as test/fault/restart-drain.test.ts on Redis: a coordinator closed
// and started again on the same Redis (it takes the job over when its driver
// resumes, through the same recovery) drains once the driver frees everything.
import { describe, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { freedAfterRestart, type Cleanups } from '../helpers/restart-drain.js';

const cleanups: Cleanups = [];
const redis = useRedis(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

describe('a coordinator restart on Redis', () => {
  it('a driver frees everything after the restart: the coordinator drains to no task and no object, and the values were exact', async () => {
    await freedAfterRestart({ redis: { url: redis.server.url, prefix: 'drain' } }, cleanups, false);
  }, 120_000);

  it('the same job as a task group: its owner sends it again, each task counted once, drained to no task, object or group', async () => {
    await freedAfterRestart({ redis: { url: redis.server.url, prefix: 'drain-groups' } }, cleanups, true);
  }, 120_000);
});
