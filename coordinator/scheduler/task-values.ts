// A task's values in the object directory: the small ref arguments sent along
// with its assignment, and its outputs settled when it ends (ready or failed).
import type { Failure } from '../../shared/errors.js';
import { returnObjectId, type ObjectId } from '../../shared/ids.js';
import type { MsgOf, TaskSpec } from '../../shared/protocol/messages.js';
import type { FunctionRecord, ObjectRecord, TaskRecord } from '../gcs/tables.js';
import type { ObjectDirectory } from '../objects/directory.js';
import { sharedValue } from '../objects/small-values.js';
import type { Session } from '../session.js';

const EWMA_ALPHA = 0.2;
/**
 * One run raises a function's measure to at most this many times it (it falls freely). The executor times a run
 * around it, so a run that lost its core (a node process waiting for one, a tab in the background, a GC) reads as
 * long as that took: under load an empty task read 5-50 ms now and then. Taken whole, one such run moved a function
 * measured at 0.3 µs to ~10 ms: its pipelining depth (room.ts) fell from 64 to 1, slices and frames to a few
 * tasks, and every node's spare tasks looked like work worth stealing (bench:scale at 20,000 nodes under load:
 * 227,972 asks in one 100,000-task job, frames of 8 tasks; issue 14, session 35). A function that does turn long
 * still gets there: 2.4x a run, 1 µs to 50 ms in 13 runs.
 */
const MAX_RISE = 8;
/** Below this a run never counts as an outlier: a measure of a few µs would otherwise hold back a real rise. */
const RISE_FLOOR_MS = 0.05;

/** Values of small ref arguments, sent along so that the node need not fetch them. */
export function inlineArgs(dir: ObjectDirectory, spec: TaskSpec): { id: ObjectId; v: Uint8Array }[] {
  const inline: { id: ObjectId; v: Uint8Array }[] = [];
  // By index: a task without arguments has the shared frozen empty list, which `for...of` walks slowly (lineage.ts depsOf).
  for (let i = 0; i < spec.args.length; i++) {
    const a = spec.args[i];
    if (a.r === undefined) continue;
    const o = dir.get(a.r);
    if (o?.v) inline.push({ id: o.id, v: o.v });
  }
  return inline;
}

/** A run of the function took `ms` (its moving average of run time; a rise bounded by MAX_RISE a run). */
export function countRun(f: FunctionRecord, ms: number): void {
  f.ewmaMs = f.runs === 0 ? ms : f.ewmaMs + EWMA_ALPHA * (Math.min(ms, Math.max(f.ewmaMs * MAX_RISE, RISE_FLOOR_MS)) - f.ewmaMs);
  f.runs++;
}

/** The task's results are its outputs' values (inline) or locations (stored on `s`). */
export function storeResults(dir: ObjectDirectory, t: TaskRecord, m: MsgOf<'done'>, s: Session): void {
  for (let i = 0; i < m.results.length; i++) {
    const r = m.results[i];
    const o = outputOf(dir, t, i);
    if (!o) {
      if (!r.v) s.send({ t: 'free', ids: [returnObjectId(t.spec.taskId, i)] }); // freed meanwhile: the node may drop it
      continue;
    }
    if (r.v) dir.setReady(o, { v: sharedValue(r.v), size: r.v.byteLength, contains: r.refs });
    else dir.setReady(o, { size: r.size, hash: r.hash, location: s, contains: r.refs });
  }
}

/** Every output of the task carries its failure. */
export function failOutputs(dir: ObjectDirectory, t: TaskRecord, failure: Failure): void {
  for (let i = 0; i < t.spec.numReturns; i++) {
    const o = outputOf(dir, t, i);
    if (o) dir.setFailed(o, failure);
  }
}

/**
 * Output `i` of task `t` while it is in the directory: the first from the task's record (no id built, no
 * lookup: issue 14, session 17), others, and a first one freed meanwhile, by id.
 */
export function outputOf(dir: ObjectDirectory, t: TaskRecord, i: number): ObjectRecord | undefined {
  const o = i === 0 ? t.out0 : undefined;
  return o && !o.freed ? o : dir.get(returnObjectId(t.spec.taskId, i));
}
