// The same as test/fault/restart-detached.test.ts on Redis: a coordinator
// closed and started again on the same Redis (it takes the job over through
// the same recovery) keeps a named detached actor for new drivers until killed.
import { describe, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { detachedAcrossRestart, type Cleanups } from '../helpers/restart-detached.js';

const cleanups: Cleanups = [];
const redis = useRedis(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

describe('a detached actor across a coordinator restart on Redis', () => {
  it('restarted while its driver runs, then the driver ends: a new driver finds it by name, with its state', async () => {
    await detachedAcrossRestart({ redis: { url: redis.server.url, prefix: 'detached-a' } }, cleanups, 'restart-then-end');
  }, 120_000);
});
