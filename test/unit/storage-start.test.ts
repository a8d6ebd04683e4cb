// A durable GCS whose storage thread dies at start (issue 14): noticed by the
// thread's 'error' or 'exit' at once, with the thread's own reason, not after
// the open timeout (60 s) with "timed out".
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { receiveMessageOnPort } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startWorker, type WorkerStorageSetup } from '../../coordinator/gcs/worker-storage.js';
import { SLOT, STATE } from '../../coordinator/gcs/worker-wire.js';
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

  it('one that says why its open failed and exits before the wait wakes: the start ends with that reason on the port, not "stopped at start"', async () => {
    // No notify: its exit reaches the main thread before the state's wait looks again (250 ms), as it did now and then
    // for the SQLite thread under load ("stopped at start (exit code 0)" instead of the mkdir's EEXIST, session 38).
    const failsThenExits = `
import { workerData } from 'node:worker_threads';
const s = new Int32Array(workerData.shared);
Atomics.store(s, ${SLOT.started}, 1);
workerData.port.postMessage({ op: 'connect-failed', message: 'EEXIST: file already exists' });
Atomics.store(s, ${SLOT.state}, ${STATE.failed});
process.exit(0);`;
    const w = await startWorker(setup(failsThenExits));
    expect(Atomics.load(w.shared, SLOT.state)).toBe(STATE.failed);
    // The reason is on the port for the storage's constructor (worker-storage.ts) to read.
    expect(receiveMessageOnPort(w.port)?.message).toEqual({ op: 'connect-failed', message: 'EEXIST: file already exists' });
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

/** A worker's top level that busy-waits `ms` (a new thread's modules loading on a loaded machine), then runs. */
const slowStart = (ms: number) => `const end = Date.now() + ${ms}; while (Date.now() < end);`;
/** Takes `startMs` to start, says it runs (WorkerSide's constructor does so), then opens after `openAfterMs`, or never (null). */
const runs = (openAfterMs: number | null, startMs = 0) => `
import { workerData } from 'node:worker_threads';
${slowStart(startMs)}
const s = new Int32Array(workerData.shared);
Atomics.store(s, ${SLOT.started}, 1);
Atomics.notify(s, ${SLOT.state});
${
  openAfterMs === null
    ? 'setInterval(() => {}, 1000);'
    : `setTimeout(() => {
  workerData.port.postMessage({ op: 'ready' });
  Atomics.add(s, ${SLOT.posted}, 1);
  Atomics.store(s, ${SLOT.state}, ${STATE.ready});
  Atomics.notify(s, ${SLOT.state});
}, ${openAfterMs});`
}`;

describe("a storage thread's open timeout counts from when it runs", () => {
  it('a thread that takes 1.5 s to start and then opens at once is not timed out by a 1 s open timeout', async () => {
    const w = await startWorker({ ...setup(runs(200, 1500)), openTimeoutMs: 1000 });
    expect(Atomics.load(w.shared, SLOT.state)).toBe(STATE.ready);
    await w.worker.terminate();
  }, 20_000);

  it('a thread that runs but never opens fails after the open timeout', async () => {
    await expect(startWorker({ ...setup(runs(null)), openTimeoutMs: 500 })).rejects.toMatchObject({
      code: 'GCS_UNAVAILABLE',
      message: 'cannot open test backend: timed out after 500 ms waiting for it to open',
    });
  }, 20_000);

  it('a thread that never starts fails after the start timeout', async () => {
    await expect(startWorker({ ...setup(slowStart(60_000)), startTimeoutMs: 1000 })).rejects.toMatchObject({
      code: 'GCS_UNAVAILABLE',
      message: expect.stringMatching(/^cannot open test backend: its worker thread \(.*worker\.mjs\) did not start in 1000 ms$/),
    });
  }, 20_000);
});
