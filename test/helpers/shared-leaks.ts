// The `shared` project's setup file (vitest.config.ts): its files run one after another in the same worker process
// (`isolate: false`), so what one leaves running (a child process, a server, a socket, a timer) stays for every later
// file of that worker. Before each file it notes what the process holds; after the file's own hooks ran it compares,
// and, when TABMESH_LEAKS_DIR is set, appends one JSON line per file to $TABMESH_LEAKS_DIR/<pid>.jsonl (not to the
// test output; unset, as in CI, nothing is written). A file that leaves a child process or a listening server running, or
// vitest's fake timers installed, fails in its afterAll (naming them). With TABMESH_LEAKS_TRACE=1 it also wraps setTimeout and setInterval
// to name the timers still pending (their callback's name and where they were set): for looking, not for CI.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, vi } from 'vitest';
import { describeHandles, handleCounts, timerTrace, type HandleInfo } from './shared-leaks-probe.js';

const dir = process.env.TABMESH_LEAKS_DIR;
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

afterAll(async () => {
  if (!before) return;
  const b = before;
  const cpu = process.cpuUsage(b.cpu);
  const wallMs = Math.round(performance.now() - b.at);
  const loopBusy = Math.round(performance.eventLoopUtilization(b.elu).utilization * 100) / 100;
  // Fake timers a file left installed would run every later file of the worker on a clock nobody advances.
  const fakeClock = vi.isFakeTimers();
  if (fakeClock) vi.useRealTimers();
  // A process killed or a server closed in the file's last hook is gone a moment later: wait for that, not longer.
  const leftovers = () => staying(describeHandles()).filter((h) => !b.handles.includes(h));
  for (let waited = 0; leftovers().length > 0 && waited < GRACE_MS; waited += 50) await sleep(50);
  const left = leftovers();
  const line = {
    file: b.file,
    pid: process.pid,
    wallMs,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    // The share of the file's time its event loop was not waiting (a loop that waits on real timers or sockets is
    // low; one that only computes, or waits for a core on a loaded machine, is near 1).
    loopBusy,
    heapBeforeMiB: mib(b.heap),
    heapAfterMiB: mib(process.memoryUsage().heapUsed),
    resourcesBefore: b.resources,
    resourcesAfter: handleCounts(),
    handlesBefore: b.handles,
    handlesAfter: describeHandles(),
    timers: trace?.pending(),
  };
  if (dir) {
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, `${process.pid}.jsonl`), JSON.stringify(line) + '\n');
  }
  const problems = [
    ...(fakeClock ? ["vitest's fake timers installed (restore them: vi.useRealTimers)"] : []),
    ...(left.length > 0 ? [`running ${GRACE_MS / 1000} s after its last hook: ${left.join(', ')}`] : []),
  ];
  if (problems.length > 0) {
    throw new Error(
      `${b.file} left for the next file of its worker: ${problems.join('; ')}. ` + 'Files in `shared` stop in their hooks what they start (vitest.config.ts).',
    );
  }
});

/** How long after a file's hooks its killed processes and closed servers may take to go (load 40: well under 1 s). */
const GRACE_MS = 15_000;

/** What would run on beside the next file: child processes, listening servers. */
function staying(handles: HandleInfo[]): HandleInfo[] {
  return handles.filter((h) => h.startsWith('ChildProcess') || h.startsWith('Server :'));
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
