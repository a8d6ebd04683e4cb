// Batches of runs and of their results as columns (issue 14): a structured
// clone copies every object's field names and every field, and a batch of
// short tasks is mostly that. A batch of one job and one function goes as
// one list of task ids, one list of numbers and one list of argument bytes
// (what only some tasks carry, sparse); results the same way. The kinds that
// carry whole objects ('run', 'done') stay for what does not fit: actor parts.
import type { ObjectId } from '../ids.js';
import type { DoneColumns, RunColumns, RunResult, RunTask } from './protocol.js';

/** Numbers per task in RunColumns.nums: attempt, gen, numReturns, argument count. */
const RUN_NUMS = 4;
/** Numbers per result in DoneColumns.nums: attempt, ms, returns count (-1: failed). */
const DONE_NUMS = 3;
/** Shared by every value that holds no refs (nobody writes to a result's refs). */
const NO_REFS: ObjectId[] = [];

/** The columns of `tasks`, or null when they do not fit (several jobs or functions, an actor's part). */
export function runColumns(tasks: readonly RunTask[]): RunColumns | null {
  const first = tasks[0];
  if (!first) return null;
  const c: RunColumns = { jobId: first.jobId, fnId: first.fnId, name: first.name, ids: [], nums: [], args: [] };
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i];
    if (t.actor || t.jobId !== c.jobId || t.fnId !== c.fnId || t.name !== c.name) return null;
    c.ids.push(t.taskId);
    c.nums.push(t.attempt, t.gen, t.numReturns, t.args.length);
    for (const a of t.args) c.args.push(a);
    if (t.source !== undefined || t.env) (c.firsts ??= []).push([i, t.source, t.env]);
  }
  return c;
}

/** The tasks `runColumns` made the columns of. */
export function runsOf(c: RunColumns): RunTask[] {
  const out: RunTask[] = [];
  let arg = 0;
  let next = 0;
  for (let i = 0; i < c.ids.length; i++) {
    const n = c.nums[i * RUN_NUMS + 3];
    const t: RunTask = {
      taskId: c.ids[i],
      jobId: c.jobId,
      attempt: c.nums[i * RUN_NUMS],
      gen: c.nums[i * RUN_NUMS + 1],
      fnId: c.fnId,
      name: c.name,
      args: c.args.slice(arg, arg + n),
      numReturns: c.nums[i * RUN_NUMS + 2],
    };
    arg += n;
    const f = c.firsts?.[next];
    if (f && f[0] === i) {
      next++;
      if (f[1] !== undefined) t.source = f[1];
      if (f[2]) t.env = f[2];
    }
    out.push(t);
  }
  return out;
}

export function doneColumns(results: readonly RunResult[]): DoneColumns {
  const c: DoneColumns = { ids: [], nums: [], bytes: [] };
  for (let i = 0; i < results.length; i++) {
    const r = results[i];
    c.ids.push(r.taskId);
    if (!r.ok) {
      c.nums.push(r.attempt, r.ms, -1);
      (c.failures ??= []).push([i, r.failure]);
      continue;
    }
    c.nums.push(r.attempt, r.ms, r.returns.length);
    for (const x of r.returns) {
      if (x.refs.length) (c.refs ??= []).push([c.bytes.length, x.refs]);
      c.bytes.push(x.bytes);
    }
  }
  return c;
}

export function resultsOf(c: DoneColumns): RunResult[] {
  const out: RunResult[] = [];
  let b = 0;
  let nextRefs = 0;
  let nextFail = 0;
  for (let i = 0; i < c.ids.length; i++) {
    const taskId = c.ids[i];
    const attempt = c.nums[i * DONE_NUMS];
    const ms = c.nums[i * DONE_NUMS + 1];
    const n = c.nums[i * DONE_NUMS + 2];
    if (n < 0) {
      out.push({ taskId, attempt, ms, ok: false, failure: c.failures![nextFail++][1] });
      continue;
    }
    const returns: { bytes: Uint8Array; refs: ObjectId[] }[] = [];
    for (let k = 0; k < n; k++, b++) {
      const r = c.refs?.[nextRefs];
      let refs = NO_REFS;
      if (r && r[0] === b) {
        refs = r[1];
        nextRefs++;
      }
      returns.push({ bytes: c.bytes[b], refs });
    }
    out.push({ taskId, attempt, ms, ok: true, returns });
  }
  return out;
}
