// EvalPool's workers let go of the SharedArrayBuffers they were handed (session 29 soak: idle hash and warm
// threads held ~250 MiB of freed objects each, never collecting). Counted in the process's resident bytes.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { EvalPool } from '../../edge/eval-pool.js';
import { until } from '../helpers/poll.js';

const MiB = 1 << 20;

describe('EvalPool', () => {
  it("a worker that was handed a 64 MiB SharedArrayBuffer lets it go once idle: the process's RSS falls back", async () => {
    // V8's memory reducer collects an isolate idle for ~10 s after it saw garbage (here, not in the soak, where the
    // threads got a call every few seconds): off, so that only the pool's own collection can let the bytes go.
    setFlagsFromString('--no-memory-reducer');
    const pool = new EvalPool(
      `require('node:worker_threads').parentPort.on('message', (m) => {
        const a = m.buf ? new Uint8Array(m.buf) : [0];
        require('node:worker_threads').parentPort.postMessage({ x: m.x, out: a[a.length - 1] });
      });`,
      1,
      'eval-pool-test',
    );
    expect(await pool.call(0, {})).toBe(0); // booted (in a process without --expose-gc: the worker takes its gc itself)
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const rss = () => (gc(), process.memoryUsage().rss);
    const before = rss();
    let buf: SharedArrayBuffer | null = new SharedArrayBuffer(64 * MiB);
    new Uint8Array(buf).fill(7); // its pages resident
    expect(await pool.call(0, { buf })).toBe(7);
    buf = null;
    // Collected here: only the worker's handle keeps the 64 MiB, garbage there once its call returned, but a
    // worker with nothing to do allocates nothing, so nothing made it collect.
    expect(rss()).toBeGreaterThan(before + 32 * MiB);
    await until(() => rss() < before + 32 * MiB, {
      timeoutMs: 30_000,
      everyMs: 100,
      what: () => `the worker to let the 64 MiB go (RSS ${((rss() - before) / MiB).toFixed(0)} MiB over the start)`,
    }).finally(() => setFlagsFromString('--memory-reducer'));
  });
});
