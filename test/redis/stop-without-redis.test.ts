// A coordinator process on Redis whose Redis is gone, told to stop (session 37): two stayed up ~50 min after a
// killed vitest run, until SIGKILL. Its mesh's goodbyes (lease releases, leaving the registry) and the writes its
// GCS thread still held waited on Redis for ever (ioredis keeps commands while it reconnects). Now a stop is
// bounded, and says what it could not flush. Whether it exits at all within a generous bound, not how fast.
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupProcesses, redisCoordinator } from '../helpers/processes.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/poll.js';

let server: RedisServer | undefined;
afterAll(async () => {
  cleanupProcesses();
  await server?.destroy();
});

describe('a coordinator on Redis told to stop', () => {
  it('exits on SIGTERM after its Redis was killed, saying what did not reach Redis', async () => {
    server = await startRedis();
    const c = await redisCoordinator(server.url, 'stop-without-redis', 'stop-token');
    // Up and answering before Redis goes (no job here: its mesh's goodbye, leaving the registry, is what waits).
    const res = await fetch(`${c.url}/api/stats`, { headers: { authorization: 'Bearer stop-token' } });
    expect(res.status).toBe(200);
    await server.kill();
    const exited = new Promise<number | null>((r) => c.proc.once('exit', (code) => r(code)));
    c.proc.kill('SIGTERM');
    // 30 s: the stop's own bounds are a few seconds; a process that never exits is what this looks for.
    const code = await Promise.race([exited, new Promise<'up'>((r) => setTimeout(() => r('up'), 30_000).unref())]);
    expect(code, `still up 30 s after SIGTERM: ${c.out.join('')}`).not.toBe('up');
    // What it could not do, said (stderr may come a moment after the exit).
    await until(() => /stopped on SIGTERM; closed, but: .*Redis did not answer/.test(c.out.join('')), {
      timeoutMs: 5_000,
      what: () => `its last words: ${c.out.join('')}`,
    });
    expect(code).toBe(1);
  }, 120_000);
});
