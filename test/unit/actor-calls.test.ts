// An actor's call queue (coordinator/actors/calls.ts): one caller's calls go
// out in the order submitted, and the method log keeps a bounded tail.
import { describe, expect, it } from 'vitest';
import { LOG_CAP, pump, queueCall } from '../../coordinator/actors/calls.js';
import { newActorRecord, type ActorHooks } from '../../coordinator/actors/actor-record.js';
import type { NodeRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import type { TaskId } from '../../shared/ids.js';

const CALLER = 'caller' as TaskId;

function call(i: number): TaskRecord {
  return { spec: { taskId: `call-${i}` as TaskId, parentId: CALLER }, state: 'queued' } as unknown as TaskRecord;
}

function aliveActor() {
  const creation = { spec: { taskId: 'actor' as TaskId, jobId: 'job', name: 'Counter', actor: {} }, state: 'finished' } as unknown as TaskRecord;
  const a = newActorRecord(creation, 'ns');
  a.state = 'alive';
  a.node = { id: 'n1' } as unknown as NodeRecord;
  return a;
}

describe('actor call queue', () => {
  it('dispatches one caller’s calls in submit order, waits behind a call not ready, and keeps the log’s tail in order', () => {
    const a = aliveActor();
    const sent: string[] = [];
    const hooks = { dispatch: (t: TaskRecord) => sent.push(t.spec.taskId), holdArgs: () => {} } as unknown as ActorHooks;
    const n = 3 * LOG_CAP;
    const calls = Array.from({ length: n }, (_, i) => call(i));
    calls[5].state = 'waiting-args';
    for (const t of calls) queueCall(a, t);
    pump(a, CALLER, hooks);
    expect(sent).toEqual(['call-0', 'call-1', 'call-2', 'call-3', 'call-4']);
    calls[5].state = 'queued';
    pump(a, CALLER, hooks);
    expect(sent).toHaveLength(n);
    expect(sent.every((id, i) => id === `call-${i}`)).toBe(true);
    expect(a.calls).toBe(n);
    expect(a.log.length).toBeGreaterThanOrEqual(LOG_CAP);
    expect(a.log.length).toBeLessThanOrEqual(LOG_CAP * 1.25);
    const first = n - a.log.length;
    expect(a.log.every((id, i) => id === `call-${first + i}`)).toBe(true);
    expect(a.callers.has(CALLER)).toBe(false);
  });
});
