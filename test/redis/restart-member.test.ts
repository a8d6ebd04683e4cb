// A group member made a task and freed before a coordinator restart on Redis, its group still open: the job
// counts it once after the restart (test/helpers/restart-member.ts).
import { describe, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { freedMemberAcrossRestart } from '../helpers/restart-member.js';
import type { Cleanups } from '../helpers/restart-detached.js';

const cleanups: Cleanups = [];
const redis = useRedis(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

describe('a group member made a task and freed before a restart on Redis', () => {
  it('its group still open: the job counts it once, and it does not run again', async () => {
    await freedMemberAcrossRestart({ redis: { url: redis.server.url, prefix: 'member' } }, cleanups);
  }, 120_000);
});
