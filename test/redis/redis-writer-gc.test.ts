// The Redis storage thread lets go of the write batches it was handed, as the SQLite writer does
// (test/integration/sqlite-writer-gc.test.ts; coordinator/gcs/worker-gc.ts). A batch's buffer is transferred from the
// coordinator's thread to the thread that writes it to Redis; it is one ArrayBuffer counted by V8 (process-wide,
// `arrayBuffers`) until that thread collects. A thread busy with ioredis allocates JavaScript of its own and
// collects now and then; one that wrote a burst and went idle may not collect for long: it holds the burst.
import { describe, it } from 'vitest';
import { RedisStorage } from '../../coordinator/gcs/redis-storage.js';
import { burstThenLetGo } from '../helpers/writer-gc.js';
import { useRedis } from '../helpers/redis.js';

const redis = useRedis();

describe('the Redis storage thread', () => {
  it('lets a burst of write batches go once idle: the ArrayBuffers fall back after its own collection', async () => {
    // 6 batches of 64 rows of 64 KiB: 24 MiB handed to the thread.
    await burstThenLetGo(() => new RedisStorage({ url: redis.server.url, prefix: 'gc', flushIntervalMs: 1, timeoutMs: 30_000 }), 64, 4, 'the Redis thread');
  }, 60_000);
});
