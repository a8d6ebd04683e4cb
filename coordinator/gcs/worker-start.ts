// Starting a durable backend's worker thread (issue 14, issue 15): the thread's file, its setup, and the wait for
// it to open the backend. Split from worker-storage.ts (the storage that writes through it).
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { TabmeshError } from '../../shared/errors.js';
import { SLOT, SLOTS, STATE } from './worker-wire.js';

/** The built worker next to this file, or (running from sources: vitest) the one in dist/. */
function workerFile(name: string): string {
  if (isAbsolute(name)) return name; // tests: a worker of their own
  const here = fileURLToPath(new URL(`./${name}`, import.meta.url));
  if (existsSync(here)) return here;
  const built = fileURLToPath(new URL(`../../dist/coordinator/gcs/${name}`, import.meta.url));
  if (existsSync(built)) return built;
  throw new Error(`coordinator/gcs/${name} not found: run \`npm run build\` first`);
}

export interface WorkerStorageSetup {
  /** The worker's file in coordinator/gcs, built: 'redis-worker.js' (an absolute path: as is). */
  file: string;
  /** The worker's workerData besides `shared` and `port`. */
  data: Record<string, unknown>;
  /** What errors call the backend: 'Redis at redis://…', 'SQLite file …'. */
  name: string;
  /** What the constructor says when the worker could not open the backend: 'cannot reach'. */
  openFailure: string;
  flushIntervalMs: number;
  maxBuffered: number;
  /** How long flush, load and close wait for the worker. */
  timeoutMs: number;
  /** How long the constructor waits for the worker to open the backend, from when the worker runs. */
  openTimeoutMs: number;
  /** How long startWorker waits for the worker to run at all (its modules loaded). Default START_TIMEOUT_MS. */
  startTimeoutMs?: number;
  /** Rows the worker may keep while the backend refuses writes before `backlog` says to admit no new work. Default MAX_KEPT_ROWS. */
  maxKeptRows?: number;
}

/**
 * Rows kept in the storage thread while the backend refuses writes (a full
 * disk, Redis at maxmemory) before the coordinator admits no new work (issue
 * 14): about 2-4 rows a task, a few hundred bytes each.
 */
export const MAX_KEPT_ROWS = 200_000;

/**
 * How long a backend's thread may take to run at all (a new isolate, its modules: ioredis, better-sqlite3) before its
 * open timeout starts. The open timeout (15 s for Redis) counted from the launch: at load 25-40 a test coordinator
 * failed "cannot reach Redis ... timed out after 15000 ms" 7 times in one session while Redis was up (issue 14, session 35).
 */
export const START_TIMEOUT_MS = 60_000;
/** The wait for a thread to start or open looks again this often (a start is not a change of SLOT.state). */
const OPEN_POLL_MS = 250;

/** Atomics.waitAsync (Node >= 16), not in the compiler's lib yet. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      this: void,
      a: Int32Array,
      i: number,
      v: number,
      ms: number,
    ): { async: false; value: string } | { async: true; value: Promise<'ok' | 'timed-out'> };
  }
).waitAsync;

/** A worker thread started for a backend, with its port and shared slots. */
export interface StartedWorker {
  worker: Worker;
  port: MessagePort;
  shared: Int32Array;
}

export function launch(setup: WorkerStorageSetup): StartedWorker {
  const sab = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
  const { port1, port2 } = new MessageChannel();
  // Named (tabmesh-sqlite-worker, ...) for inspectors and heap tools, as EvalPool's threads are.
  const name = `tabmesh-${setup.file.replace(/^.*\//, '').replace(/\.[cm]?js$/, '')}`;
  const worker = new Worker(workerFile(setup.file), { name, workerData: { ...setup.data, shared: sab, port: port2 }, transferList: [port2] });
  worker.unref();
  port1.unref();
  return { worker, port: port1, shared: new Int32Array(sab) };
}

/**
 * Starts a backend's worker and waits on the event loop until it has opened
 * the backend (or failed to): a worker that dies at start (a native module
 * that does not load, an exception at its top level, process.exit) is
 * noticed by its 'error' or 'exit' at once, not at the open timeout, which a
 * blocking wait had to sit out (issue 14). The storage's constructor takes it
 * from there (`new XStorage(..., started)`).
 */
export async function startWorker(setup: WorkerStorageSetup): Promise<StartedWorker> {
  const w = launch(setup);
  const { worker, shared } = w;
  let onError: (err: Error) => void = () => {};
  let onExit: (code: number) => void = () => {};
  // Held while it opens: Atomics.waitAsync alone does not keep the process alive.
  worker.ref();
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (why: string) => {
        settled = true;
        reject(new TabmeshError('GCS_UNAVAILABLE', `${setup.openFailure} ${setup.name}: ${why}`));
      };
      onError = (err) => fail(`its worker thread (${setup.file}) failed at start: ${err.message}`);
      onExit = (code) => {
        // It said how its open ended before it stopped (a failure's reason is on the port): its 'exit' can come before
        // the wake-up of the state's wait, and "stopped at start (exit code 0)" hid the reason (EEXIST; 5 of 40 starts
        // at load 25, session 38). The storage's constructor reads the reason.
        if (Atomics.load(shared, SLOT.state) !== STATE.connecting) {
          settled = true;
          return resolve();
        }
        fail(`its worker thread (${setup.file}) stopped at start (exit code ${code})`);
      };
      worker.once('error', onError);
      worker.once('exit', onExit);
      const startMs = setup.startTimeoutMs ?? START_TIMEOUT_MS;
      const t0 = performance.now();
      let startedAt: number | null = null;
      // Until it opened, failed to, or its time is up: the start's time (START_TIMEOUT_MS), then the open's from it.
      const look = (): void => {
        if (settled) return;
        if (Atomics.load(shared, SLOT.state) !== STATE.connecting) {
          settled = true;
          return resolve();
        }
        const now = performance.now();
        if (startedAt === null && Atomics.load(shared, SLOT.started) === 1) startedAt = now;
        const limit = startedAt === null ? t0 + startMs : startedAt + setup.openTimeoutMs;
        if (now >= limit)
          return fail(
            startedAt === null
              ? `its worker thread (${setup.file}) did not start in ${startMs} ms`
              : `timed out after ${setup.openTimeoutMs} ms waiting for it to open`,
          );
        const waited = waitAsync(shared, SLOT.state, STATE.connecting, Math.min(OPEN_POLL_MS, limit - now));
        if (!waited.async) return look();
        void waited.value.then(look);
      };
      look();
    });
  } catch (err) {
    // Wake the pending waitAsync (it would keep its timer to the end) and stop the thread.
    Atomics.notify(shared, SLOT.state);
    worker.on('error', () => {}); // reported already: a late one must not take the process down
    void worker.terminate();
    throw err;
  } finally {
    worker.off('error', onError);
    worker.off('exit', onExit);
    worker.unref();
  }
  return w;
}
