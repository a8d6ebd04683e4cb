// A hand-made task spec and record for white-box tests of the coordinator's task table
// and the state API's task pages: a task of `job` with no arguments, queued
// unless `o` says otherwise.
import type { ObjectRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import { Holders } from '../../coordinator/objects/holders.js';
import type { Session } from '../../coordinator/session.js';
import { childTaskId, functionId, rootTaskId, type JobId, type ObjectId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/task.js';
import { newTask } from '../../coordinator/scheduler/task-states.js';

/** A task spec of `job` with no arguments (`o` overrides any field). */
export function taskSpec(job: JobId, index: number, name: string, o: Partial<TaskSpec> = {}): TaskSpec {
  return {
    taskId: childTaskId(rootTaskId(job), index),
    jobId: job,
    parentId: rootTaskId(job),
    fnId: functionId('task', name),
    name,
    args: [],
    nested: [],
    numReturns: 1,
    resources: { cpu: 1 },
    maxRetries: 0,
    attempt: 0,
    timeoutMs: 0,
    scheduling: { kind: 'default' },
    actor: undefined,
    ...o,
  } as unknown as TaskSpec;
}

export function taskRecord(job: JobId, index: number, name: string, o: Partial<TaskRecord> = {}): TaskRecord {
  return newTask(taskSpec(job, index, name), { state: 'queued', liveOutputs: 1, ...o });
}

/** A ready 42-byte object of `job` held on node n1 (`more` overrides any field): the dashboard's freed-object tests. */
export function objectRecord(id: ObjectId, job: JobId, more: Partial<ObjectRecord> = {}): ObjectRecord {
  return {
    id,
    job,
    state: 'ready',
    size: 42,
    hash: 'h',
    v: null,
    failure: null,
    locations: new Holders([{ nodeId: 'n1' } as unknown as Session]),
    refs: 0,
    contains: [],
    dependents: null,
    subscribers: null,
    creator: null,
    ...more,
  };
}
