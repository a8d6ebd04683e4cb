// What a task on record costs the coordinator's heap (issue 14, session 24): an id
// copied out of its frame is one flat string of its own, and a task record keeps
// one hidden class from its creation to its end, whatever is written to it.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext, runInThisContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { ObjectRecord } from '../../coordinator/gcs/tables.js';
import { countedWaiting, markInfeasible, newTask, replicaPlaced } from '../../coordinator/scheduler/task-states.js';
import { childTaskId, newJobId, newNodeId, ownId, rootTaskId } from '../../shared/ids.js';
import { taskSpec } from '../helpers/task-record.js';

setFlagsFromString('--expose-gc');
setFlagsFromString('--allow-natives-syntax');
const gc = runInNewContext('gc') as () => void;
// Compiled after the flag: V8's own test of two objects' hidden classes.
const sameMap = runInThisContext('(a, b) => %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

/** The heap's used bytes after full GCs, a turn apart: V8 sweeps in the background and counts what it swept later. */
async function liveBytes(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 30));
  }
  return process.memoryUsage().heapUsed;
}

describe('ownId', () => {
  it('keeps one flat string of the id, no slice of a longer one (48 B for a task id, not 32 + 56)', async () => {
    const n = 200_000;
    const job = newJobId();
    // Ids as the decoder hands them out: slices of one run of a frame's strings.
    const ids = Array.from({ length: n }, (_, i) => childTaskId(rootTaskId(job), i));
    const run = ids.join('');
    const sliced = ids.map((_, i) => run.slice(i * 32, (i + 1) * 32));
    // The first round after these were made reads ~56 B an id low (something of theirs is freed meanwhile): measured twice, the second counts.
    let perId = 0;
    let kept: string[] = [];
    for (let round = 0; round < 2; round++) {
      kept = new Array<string>(n);
      const before = await liveBytes();
      for (let i = 0; i < n; i++) kept[i] = ownId(sliced[i]);
      perId = ((await liveBytes()) - before) / n;
    }
    expect(kept[n - 1]).toBe(ids[n - 1]);
    // A sequential string of 32 one-byte characters is 48 B; a sliced string (32 B) of a 33-character copy (56 B) is 88.
    expect(perId).toBeGreaterThan(40);
    expect(perId).toBeLessThan(64);
  });

  it('gives a string that is not an id back equal', () => {
    expect(ownId('a b/é%')).toBe('a b/é%');
    expect(ownId('')).toBe('');
  });
});

describe('a task record', () => {
  const job = newJobId();

  it('has one hidden class from its creation, whatever the task manager writes to it later', () => {
    const fresh = newTask(taskSpec(job, 0, 'f'), { state: 'queued', liveOutputs: 1 });
    const t = newTask(taskSpec(job, 1, 'f'), { state: 'waiting-args', liveOutputs: 1, holdsArgs: true });
    expect(sameMap(fresh, t)).toBe(true);
    // What admit, the scheduler and the task manager write after creation (task-submit.ts, task-states.ts, tasks.ts).
    t.out0 = { id: 'x' } as unknown as ObjectRecord;
    countedWaiting(t, true);
    markInfeasible(t, 'no node has gpu');
    replicaPlaced(t, newNodeId());
    t.executor = 1;
    t.sparedLosses = 1;
    t.cancelAsked = true;
    expect(sameMap(fresh, t)).toBe(true);
  });

  it('made with any of its fields given keeps the same class and the given values', () => {
    const fresh = newTask(taskSpec(job, 2, 'f'), { state: 'queued', liveOutputs: 1 });
    const t = newTask(taskSpec(job, 3, 'f'), { state: 'finished', liveOutputs: 2, submittedAt: 5, endedAt: 7, waiting: true, infeasible: 'why' });
    expect(sameMap(fresh, t)).toBe(true);
    expect([t.state, t.liveOutputs, t.submittedAt, t.startedAt, t.endedAt, t.waiting, t.infeasible, t.node, t.missing]).toEqual([
      'finished',
      2,
      5,
      0,
      7,
      true,
      'why',
      null,
      0,
    ]);
  });
});
