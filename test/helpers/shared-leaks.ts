// The `shared` project's setup file (vitest.config.ts): its files run one after another in the same worker process
// (`isolate: false`), so what one leaves running (a child process, a server, a socket, a timer) stays for every later
// file of that worker. Before each file it notes what the process holds; after the file's own hooks ran it compares,
// and appends one JSON line per file to $TABMESH_LEAKS_DIR/<pid>.jsonl (default: the OS's temporary folder's
// tabmesh-shared-leaks/), not to the test output. With TABMESH_LEAKS_TRACE=1 it also wraps setTimeout and setInterval
// to name the timers still pending (their callback's name and where they were set): for looking, not for CI.
import { appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { afterAll, beforeAll, expect } from 'vitest';
import { describeHandles, handleCounts, timerTrace, type HandleInfo } from './shared-leaks-probe.js';

const dir = process.env.TABMESH_LEAKS_DIR ?? join(tmpdir(), 'tabmesh-shared-leaks');
const trace = process.env.TABMESH_LEAKS_TRACE === '1' ? timerTrace() : undefined;

interface Before {
  file: string;
  at: number;
  elu: EventLoopUtilization;
  cpu: NodeJS.CpuUsage;
  heap: number;
  resources: Record<string, number>;
  handles: HandleInfo[];
}
let before: Before | undefined;

beforeAll(() => {
  before = {
    file: relative(process.cwd(), expect.getState().testPath ?? '?'),
    at: performance.now(),
    elu: performance.eventLoopUtilization(),
    cpu: process.cpuUsage(),
    heap: process.memoryUsage().heapUsed,
    resources: handleCounts(),
    handles: describeHandles(),
  };
});

afterAll(() => {
  if (!before) return;
  const cpu = process.cpuUsage(before.cpu);
  const line = {
    file: before.file,
    pid: process.pid,
    wallMs: Math.round(performance.now() - before.at),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    // The share of the file's time its event loop was not waiting (a loop that waits on real timers or sockets is
    // low; one that only computes, or waits for a core on a loaded machine, is near 1).
    loopBusy: Math.round(performance.eventLoopUtilization(before.elu).utilization * 100) / 100,
    heapBeforeMiB: mib(before.heap),
    heapAfterMiB: mib(process.memoryUsage().heapUsed),
    resourcesBefore: before.resources,
    resourcesAfter: handleCounts(),
    handlesBefore: before.handles,
    handlesAfter: describeHandles(),
    timers: trace?.pending(),
  };
  mkdirSync(dir, { recursive: true });
  appendFileSync(join(dir, `${process.pid}.jsonl`), JSON.stringify(line) + '\n');
});

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
