// The Redis storage thread lets go of the write batches it was handed, as the SQLite writer does
// (test/integration/sqlite-writer-gc.test.ts; coordinator/gcs/worker-gc.ts). A batch's buffer is transferred from the
// coordinator's thread to the thread that writes it to Redis; it is one ArrayBuffer counted by V8 (process-wide,
// `arrayBuffers`) until that thread collects. A thread busy with ioredis allocates JavaScript of its own and
// collects now and then; one that wrote a burst and went idle may not collect for long: it holds the burst.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { RedisStorage } from '../../coordinator/gcs/redis-storage.js';
import { BUSY_GC_BYTES } from '../../coordinator/gcs/worker-gc.js';
import { until } from '../helpers/poll.js';
import { useRedis } from '../helpers/redis.js';

const MiB = 1 << 20;
const redis = useRedis();

describe('the Redis storage thread', () => {
  it('lets a burst of write batches go once idle: the ArrayBuffers fall back after its own collection', async () => {
    // V8's memory reducer collects an isolate idle for ~10 s after it saw garbage: off for the thread's isolate,
    // made after this, so that only the thread's own collection can let the batches go.
    setFlagsFromString('--no-memory-reducer');
    const s = new RedisStorage({ url: redis.server.url, prefix: 'gc', flushIntervalMs: 1, timeoutMs: 30_000 });
    try {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const buffers = () => (gc(), process.memoryUsage().arrayBuffers);
      // 6 batches of 64 rows of 64 KiB: 24 MiB handed to the thread, under the size that makes it collect while busy.
      const burst = 6;
      const size = 64 * 1024;
      expect(burst * 64 * size).toBeLessThan(BUSY_GC_BYTES);
      const value = new Uint8Array(size);
      s.put('tasks', 'warm', value);
      s.flush();
      const before = buffers();
      const collections = s.stats.collections;
      for (let i = 0; i < burst; i++) {
        value.fill(i);
        for (let r = 0; r < 64; r++) s.put('objects', `o${i}-${r}`, value);
        s.flush();
      }
      const over = () => (buffers() - before) / MiB;
      await until(() => over() < 4 && s.stats.collections > collections, {
        timeoutMs: 30_000,
        everyMs: 100,
        what: () =>
          `the Redis thread to let the ${burst * 4} MiB of batches go (ArrayBuffers ${over().toFixed(1)} MiB over the start; its collections ${s.stats.collections - collections})`,
      });
      // The rows are written (the collection took garbage only).
      expect([...s.load('objects')].map(([k, v]) => [k, v.byteLength, v[0]])).toContainEqual(['o5-63', size, 5]);
    } finally {
      s.close();
      setFlagsFromString('--memory-reducer');
    }
  }, 60_000);
});
