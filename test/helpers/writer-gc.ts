// A durable GCS's storage thread letting go of the write batches it was handed (coordinator/gcs/worker-gc.ts): the
// SQLite writer's and the Redis thread's tests (test/integration/sqlite-writer-gc, test/redis/redis-writer-gc).
// Counted in the bytes of ArrayBuffers the process holds (V8's count of live backing stores: a batch's buffer is
// one, transferred to the thread, counted until the thread frees it).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'vitest';
import { BUSY_GC_BYTES } from '../../coordinator/gcs/worker-gc.js';
import { until } from './poll.js';

const MiB = 1 << 20;
const SIZE = 64 * 1024;

/** What the helper needs of a storage: SqliteStorage and RedisStorage. */
export interface CollectingStorage {
  put(table: string, key: string, value: Uint8Array): void;
  flush(): void;
  load(table: string): Iterable<[string, Uint8Array]>;
  close(): void;
  readonly stats: { collections: number };
}

/**
 * Makes a storage with V8's memory reducer off (it collects an isolate idle for ~10 s after it saw garbage: off for
 * the thread's isolate, made after this, so that only the thread's own collection can let the batches go), hands its
 * thread `burst` batches of `rows` rows of 64 KiB (under the size that makes it collect while busy), and waits until
 * the process's ArrayBuffers are back under `backUnderMiB` over the start with a collection of the thread's own.
 * Checks the last row is written (the collection took garbage only). Answers the MiB over the start right after the burst.
 */
export async function burstThenLetGo(make: () => CollectingStorage, rows: number, backUnderMiB: number, who: string, burst = 6): Promise<number> {
  setFlagsFromString('--no-memory-reducer');
  const s = make();
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const buffers = () => (gc(), process.memoryUsage().arrayBuffers);
    expect(burst * rows * SIZE).toBeLessThan(BUSY_GC_BYTES);
    const value = new Uint8Array(SIZE);
    s.put('tasks', 'warm', value);
    s.flush();
    const before = buffers();
    const collections = s.stats.collections;
    for (let i = 0; i < burst; i++) {
      value.fill(i);
      for (let r = 0; r < rows; r++) s.put('objects', `o${i}-${r}`, value);
      s.flush();
    }
    const over = () => (buffers() - before) / MiB;
    const held = over();
    await until(() => over() < backUnderMiB && s.stats.collections > collections, {
      timeoutMs: 30_000,
      everyMs: 100,
      what: () =>
        `${who} to let the ${(burst * rows * SIZE) / MiB} MiB of batches go (ArrayBuffers ${over().toFixed(1)} MiB over the start; its collections ${s.stats.collections - collections})`,
    });
    expect([...s.load('objects')].map(([k, v]) => [k, v.byteLength, v[0]])).toContainEqual([`o${burst - 1}-${rows - 1}`, SIZE, burst - 1]);
    return held;
  } finally {
    s.close();
    setFlagsFromString('--memory-reducer');
  }
}
