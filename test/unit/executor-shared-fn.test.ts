// An executor makes a function once when its source cannot reach the task's
// `mesh` or `console` (shared/executor/core.ts, task-code.ts ownsNothing;
// issue 14), and still gives every task its own mesh and console when it can.
// A fake endpoint stands in for the node (a unit test of the executor box).
import { describe, expect, it } from 'vitest';
import { ExecutorCore } from '../../shared/executor/core.js';
import { resultsOf } from '../../shared/executor/columns.js';
import { ownsNothing } from '../../shared/executor/task-code.js';
import type { ExecutorEndpoint, FromExecutor, RunResult, RunTask, ToExecutor } from '../../shared/executor/protocol.js';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import type { JobId, TaskId } from '../../shared/ids.js';

const job = 'ab'.repeat(8) as JobId;
const tid = (i: number) => i.toString(16).padStart(32, '0') as TaskId;

function executor(): { send: (m: ToExecutor) => void; posted: FromExecutor[]; results: () => RunResult[] } {
  const posted: FromExecutor[] = [];
  let deliver: (m: ToExecutor) => void = () => {};
  const ep = { post: (m: FromExecutor) => posted.push(m), onMessage: (h: (m: ToExecutor) => void) => (deliver = h) } as unknown as ExecutorEndpoint;
  new ExecutorCore(ep);
  const results = () => posted.flatMap((m) => (m.k === 'dones' ? resultsOf(m.c) : m.k === 'done' ? m.results : []));
  return { send: (m) => deliver(m), posted, results };
}

const task = (i: number, source: string | undefined, args: unknown[] = []): RunTask => ({
  taskId: tid(i),
  jobId: job,
  attempt: 0,
  gen: 0,
  fnId: `fn-${source?.length ?? 0}`.padEnd(32, '0'),
  name: 'work',
  source,
  args: args.map((a) => encodeValue(a).bytes),
  numReturns: 1,
});

const value = (r: RunResult): unknown => (r.ok ? decodeValue(r.returns[0].bytes) : r.failure.message);
const settle = () => new Promise((r) => setTimeout(r, 10));

describe('ownsNothing', () => {
  it('is false for a source that names mesh, console, arguments or eval, and conservative about strings', () => {
    expect(ownsNothing('function work(a, b) { return a + b; }')).toBe(true);
    expect(ownsNothing('function work() { return meshy + consoles + my_mesh + evaluate; }')).toBe(true);
    expect(ownsNothing('function work() { return mesh.put(1); }')).toBe(false);
    expect(ownsNothing('(x) => { console.log(x); }')).toBe(false);
    expect(ownsNothing('() => arguments[0]')).toBe(false);
    expect(ownsNothing("function work() { return eval('1'); }")).toBe(false);
    expect(ownsNothing("function work() { return 'mesh'; }")).toBe(false);
    expect(ownsNothing('function work() { return obj.mesh; }')).toBe(false);
    expect(ownsNothing('function work() { return $mesh + mesh_ + _console; }')).toBe(true);
  });
});

describe('ExecutorCore function reuse', () => {
  it('a function that cannot reach mesh or console is made once: its own state lasts across tasks (as a Ray worker keeps a function)', async () => {
    const ex = executor();
    const src = 'function work(k) { work.n = (work.n ?? 0) + k; return work.n; }';
    ex.send({ k: 'run', tasks: [task(1, src, [1])] });
    await settle();
    ex.send({ k: 'run', tasks: [task(2, undefined, [10]), task(3, undefined, [100])].map((t) => ({ ...t, fnId: task(1, src).fnId })) });
    await settle();
    expect(ex.results().map(value)).toEqual([1, 11, 111]);
  });

  it('a function that names mesh or console gets each task its own, also when tasks interleave', async () => {
    const ex = executor();
    const src =
      'async function work(ms) { console.log("a"); await new Promise((r) => setTimeout(r, ms)); console.log("b"); return mesh.runtimeContext().taskId; }';
    const fnId = task(1, src).fnId;
    ex.send({ k: 'run', tasks: [task(1, src, [20]), { ...task(2, undefined, [1]), fnId }] });
    await new Promise((r) => setTimeout(r, 60));
    expect(ex.results().map(value)).toEqual([tid(2), tid(1)]);
    const logs = ex.posted.flatMap((m) => (m.k === 'log' ? [`${m.taskId === tid(1) ? 1 : 2}${m.text}`] : []));
    expect(logs).toEqual(['1a', '2a', '2b', '1b']);
  });

  it('a shared function still throws per task, and a source that is no function fails every task', async () => {
    const ex = executor();
    const src = 'function work(x) { if (x) throw new Error("no " + x); return 0; }';
    const fnId = task(1, src).fnId;
    ex.send({ k: 'run', tasks: [task(1, src, [0]), { ...task(2, undefined, ['way']), fnId }, { ...task(3, undefined, [0]), fnId }] });
    await settle();
    expect(ex.results().map(value)).toEqual([0, 'no way', 0]);
    const bad = executor();
    bad.send({ k: 'run', tasks: [task(4, '42'), { ...task(5, undefined), fnId: task(4, '42').fnId }] });
    await settle();
    expect(bad.results().map((r) => r.ok)).toEqual([false, false]);
  });
});
