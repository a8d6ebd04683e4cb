// Runs and results between a node and its executors as columns
// (shared/executor/columns.ts, issue 14): what goes in comes out the same,
// through a real structured clone, and what does not fit goes as objects.
import { describe, expect, it } from 'vitest';
import { doneColumns, resultsOf, runColumns, runsOf } from '../../shared/executor/columns.js';
import type { RunResult, RunTask } from '../../shared/executor/protocol.js';
import type { JobId, ObjectId, TaskId } from '../../shared/ids.js';

const job = 'ab'.repeat(8) as JobId;
const tid = (i: number) => i.toString(16).padStart(32, '0') as TaskId;
const oid = (i: number) => i.toString(16).padStart(40, '0') as ObjectId;
const bytes = (...b: number[]) => new Uint8Array(b);

function run(i: number, extra: Partial<RunTask> = {}): RunTask {
  return { taskId: tid(i), jobId: job, attempt: i % 3, gen: i % 2, fnId: 'f'.repeat(32), name: 'work', args: [], numReturns: 1, ...extra };
}

describe('run columns', () => {
  it('a batch of one job and function comes back task for task, arguments and first-run source in place', () => {
    const env = { decls: [], side: 'e' as const, bytes: [{ hash: 'h', bytes: bytes(9) }] };
    const tasks = [
      run(1, { source: 'function work() {}', env }),
      run(2, { args: [bytes(1), bytes(2, 3)] }),
      run(3, { numReturns: 0 }),
      run(4, { args: [bytes(4)], numReturns: 3 }),
    ];
    const c = runColumns(tasks);
    expect(c).not.toBeNull();
    expect(c!.ids).toHaveLength(4);
    expect(runsOf(structuredClone(c!))).toEqual(tasks);
  });

  it('a source on a later task than the first stays with its task', () => {
    const tasks = [run(1), run(2, { source: 'function work() {}' }), run(3)];
    const back = runsOf(structuredClone(runColumns(tasks)!));
    expect(back.map((t) => t.source)).toEqual([undefined, 'function work() {}', undefined]);
  });

  it('what does not fit is refused: an actor part, two jobs, two functions, nothing', () => {
    const actor = { kind: 'call' as const, id: tid(9), method: 'm' };
    expect(runColumns([run(1), run(2, { actor })])).toBeNull();
    expect(runColumns([run(1), run(2, { jobId: 'cd'.repeat(8) as JobId })])).toBeNull();
    expect(runColumns([run(1), run(2, { fnId: 'e'.repeat(32) })])).toBeNull();
    expect(runColumns([])).toBeNull();
  });
});

describe('done columns', () => {
  it('results come back in order: values with and without refs, several returns, failures', () => {
    const failure = { code: 'TASK_ERROR' as const, name: 'Error', message: 'boom', stack: 's', functionName: 'work', taskId: tid(2) };
    const results: RunResult[] = [
      { taskId: tid(1), attempt: 0, ms: 0.25, ok: true, returns: [{ bytes: bytes(1), refs: [] }] },
      { taskId: tid(2), attempt: 1, ms: 3, ok: false, failure },
      { taskId: tid(3), attempt: 0, ms: 1, ok: true, returns: [] },
      {
        taskId: tid(4),
        attempt: 2,
        ms: 7.5,
        ok: true,
        returns: [
          { bytes: bytes(2), refs: [oid(1), oid(2)] },
          { bytes: bytes(3, 4), refs: [] },
          { bytes: bytes(), refs: [oid(3)] },
        ],
      },
      { taskId: tid(5), attempt: 0, ms: 0, ok: false, failure: { ...failure, taskId: tid(5) } },
    ];
    expect(resultsOf(structuredClone(doneColumns(results)))).toEqual(results);
  });

  it('no results: empty columns, nothing sparse', () => {
    const c = doneColumns([]);
    expect(c).toEqual({ ids: [], nums: [], bytes: [] });
    expect(resultsOf(c)).toEqual([]);
  });
});
