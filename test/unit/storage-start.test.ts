// A durable GCS whose storage thread dies at start (issue 14): noticed by the
// thread's 'error' or 'exit' at once, with the thread's own reason, not after
// the open timeout (60 s) with "timed out".
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWorker, type WorkerStorageSetup } from '../../coordinator/gcs/worker-storage.js';
import { startCoordinator } from '../../coordinator/server.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tabmesh-storage-start-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A backend whose worker is `source` (an ES module), with the default 60 s open timeout. */
function setup(source: string): WorkerStorageSetup {
  const file = join(dir, 'worker.mjs');
  writeFileSync(file, source);
  return { file, data: {}, name: 'test backend', openFailure: 'cannot open', flushIntervalMs: 20, maxBuffered: 100, timeoutMs: 60_000, openTimeoutMs: 60_000 };
}

describe('a storage thread that dies at start', () => {
  it('one that throws at its top level (a native module that does not load) fails the open with its error', async () => {
    await expect(startWorker(setup(`throw new Error('the native module did not load');`))).rejects.toMatchObject({
      code: 'GCS_UNAVAILABLE',
      message: expect.stringMatching(/^cannot open test backend: its worker thread \(.*worker\.mjs\) failed at start: the native module did not load$/),
    });
  }, 20_000);

  it('one that exits fails the open with its exit code', async () => {
    await expect(startWorker(setup(`process.exit(3);`))).rejects.toMatchObject({
      code: 'GCS_UNAVAILABLE',
      message: expect.stringMatching(/stopped at start \(exit code 3\)$/),
    });
  }, 20_000);

  it('startCoordinator fails with the reason when the SQLite file cannot be opened', async () => {
    const notAFolder = join(dir, 'file');
    writeFileSync(notAFolder, 'x');
    await expect(startCoordinator({ dataDir: notAFolder, port: 0 })).rejects.toMatchObject({
      code: 'GCS_UNAVAILABLE',
      message: expect.stringMatching(/^cannot open SQLite file .*gcs\.sqlite: .*(EEXIST|ENOTDIR)/),
    });
  }, 20_000);
});
