// A job's counts survive a coordinator SIGKILLed mid-job on Redis (docs/decisions.md "A job's counts survive a
// restart"): tasks freed before the kill count as well as those read back, with groups on and off.
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { cleanupProcesses, redisCoordinator } from '../helpers/processes.js';
import { countsAcrossKill } from '../helpers/restart-counts.js';
import type { Mesh } from '../../shared/api/mesh.js';

let mesh: Mesh | undefined;
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
}, 60_000);
afterAll(async () => {
  await redis?.destroy();
});
afterEach(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
  cleanupProcesses();
});

describe("a job's counts across a coordinator SIGKILL on Redis", () => {
  for (const groups of [false, true]) {
    it(`groups ${groups ? 'on' : 'off'}: 1,300 submitted, 1,270 finished, 30 failed, 600 of them freed before the kill`, async () => {
      const token = 'counts-' + Math.random().toString(36).slice(2);
      const prefix = `counts-${groups ? 'g' : 't'}`;
      // Redis reads a job's rows when its driver resumes it: an ended job is not read back by a restart.
      await countsAcrossKill(
        (port) => redisCoordinator(redis.url, prefix, token, port),
        token,
        groups,
        (m) => (mesh = m),
        false,
      );
    }, 180_000);
  }
});
