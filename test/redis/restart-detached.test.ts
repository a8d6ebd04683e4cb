// The same as test/fault/restart-detached.test.ts on Redis: a coordinator
// closed and started again on the same Redis keeps a named detached actor for
// new drivers until killed: restarted while its creating driver runs (the
// driver's resume takes the job over), or after that driver ended (the ended
// job's actor is adopted from its record: coordinator/mesh/detached-actors.ts).
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

  it('its driver ended, then the coordinator restarted: a new driver finds it by name, with its state', async () => {
    await detachedAcrossRestart({ redis: { url: redis.server.url, prefix: 'detached-b' } }, cleanups, 'end-then-restart');
  }, 120_000);

  it('its driver ended, then the coordinator restarted twice: a new driver still finds it, with its state', async () => {
    await detachedAcrossRestart({ redis: { url: redis.server.url, prefix: 'detached-c' } }, cleanups, 'end-then-restart', 2);
  }, 120_000);
});
