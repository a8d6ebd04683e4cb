// An edge executor thread (dist/edge/worker.js, the file a `tabmesh node`
// starts) collects once idle after a task left 40 MiB of garbage
// (shared/executor/idle-collect.ts, session 32). Before, the thread kept it
// until V8 next collected, which an idle thread may not do for minutes: 51 MB
// held after session 31's soak; this file's probe read 40 MiB still resident
// 20 s after the task. Measured as this process's RSS (the worker is one of its
// threads; 40 MiB of one buffer is freed to the system at once).
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeValue } from '../../shared/codec.js';
import type { FromExecutor, RunTask } from '../../shared/executor/protocol.js';

const MiB = 1 << 20;
const rss = () => process.memoryUsage().rss;

describe('an edge executor thread', () => {
  let w: Worker | undefined;
  afterAll(async () => {
    await w?.terminate();
  });

  it('frees what a finished task left once it has been idle a second', async () => {
    w = new Worker(new URL('../../dist/edge/worker.js', import.meta.url));
    const task: RunTask = {
      taskId: '1'.padStart(32, '0') as RunTask['taskId'],
      jobId: 'ab'.repeat(8) as RunTask['jobId'],
      attempt: 0,
      gen: 0,
      fnId: 'f'.padEnd(32, '0'),
      name: 'work',
      numReturns: 1,
      // 40 MiB touched, then dropped: the result is one byte.
      source: 'function work(i) { const a = new Uint8Array(40 << 20); a.fill(i); return a[5]; }',
      args: [encodeValue(7).bytes],
    };
    const ended = new Promise<FromExecutor>((resolve) => w!.on('message', (m: FromExecutor) => m.k === 'dones' && resolve(m)));
    const before = rss();
    w.postMessage({ k: 'run', tasks: [task] });
    await ended;
    const after = rss();
    expect(after - before).toBeGreaterThan(30 * MiB);
    // The collection comes ~1 s after the task's end; a loaded machine may take longer.
    let now = after;
    for (let i = 0; i < 100 && after - now < 30 * MiB; i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = rss();
    }
    expect(after - now).toBeGreaterThan(30 * MiB);
  });
});
