// The SQLite writer thread lets go of the write batches it was handed (session 31; session 29's soak found ~215 MB of
// freed batches held by it). Counted in the bytes of ArrayBuffers the coordinator's thread allocated (V8's count of
// live backing stores, not pages: a batch's buffer is one, transferred to the writer, counted until the writer
// frees it), with the writer's own collections (SqliteStorage.stats). Not the process's RSS: glibc may keep the
// freed pages of the writer's arena mapped (a CI run: RSS 43 MiB over the start with the ArrayBuffers back), which
// says nothing of what the writer holds. Nor the writer isolate's `external_memory` (v8.getHeapStatistics there):
// it counted the received batches (+24 MiB) and still did after the writer's collection freed them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../coordinator/gcs/sqlite-storage.js';
import { BUSY_GC_BYTES } from '../../coordinator/gcs/worker-gc.js';
import { until } from '../helpers/poll.js';

const MiB = 1 << 20;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tabmesh-sqlite-gc-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the SQLite writer thread', () => {
  it('lets a burst of write batches go once idle: the ArrayBuffers fall back after its own collection', async () => {
    // V8's memory reducer collects an isolate idle for ~10 s after it saw garbage (here, not in the soak, whose
    // writer got a batch every few seconds): off for the writer's isolate, made after this, so that only the
    // writer's own collection can let the batches go.
    setFlagsFromString('--no-memory-reducer');
    const s = new SqliteStorage(join(dir, 'gcs.db'), { flushIntervalMs: 1 });
    try {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const buffers = () => (gc(), process.memoryUsage().arrayBuffers);
      // 6 batches of 128 rows of 64 KiB: 48 MiB handed to the writer, under the size that makes it collect while busy.
      const burst = 6;
      const size = 64 * 1024;
      expect(burst * 128 * size).toBeLessThan(BUSY_GC_BYTES);
      const value = new Uint8Array(size);
      s.put('tasks', 'warm', value);
      s.flush();
      const before = buffers();
      const collections = s.stats.collections;
      for (let i = 0; i < burst; i++) {
        value.fill(i);
        for (let r = 0; r < 128; r++) s.put('objects', `o${i}-${r}`, value);
        s.flush();
      }
      const over = () => (buffers() - before) / MiB;
      // The case at hand: the writer holds the batches it wrote, a third of them at least (V8 collects some as they come).
      expect(over()).toBeGreaterThan(16);
      await until(() => over() < 8 && s.stats.collections > collections, {
        timeoutMs: 30_000,
        everyMs: 100,
        what: () =>
          `the writer to let the ${burst * 8} MiB of batches go (ArrayBuffers ${over().toFixed(1)} MiB over the start; its collections ${s.stats.collections - collections})`,
      });
      // The rows are written (the collection took garbage only).
      expect([...s.load('objects')].map(([k, v]) => [k, v.byteLength, v[0]])).toContainEqual(['o5-127', size, 5]);
    } finally {
      s.close();
      setFlagsFromString('--memory-reducer');
    }
  });
});
