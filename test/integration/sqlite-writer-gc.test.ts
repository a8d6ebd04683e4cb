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
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../coordinator/gcs/sqlite-storage.js';
import { burstThenLetGo } from '../helpers/writer-gc.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tabmesh-sqlite-gc-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('the SQLite writer thread', () => {
  it('lets a burst of write batches go once idle: the ArrayBuffers fall back after its own collection', async () => {
    // 6 batches of 128 rows of 64 KiB: 48 MiB handed to the writer.
    const held = await burstThenLetGo(() => new SqliteStorage(join(dir, 'gcs.db'), { flushIntervalMs: 1 }), 128, 8, 'the writer');
    // The case at hand: the writer held the batches it wrote, a third of them at least (V8 collects some as they come).
    expect(held).toBeGreaterThan(16);
  });
});
