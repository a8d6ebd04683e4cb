// A coordinator's scheduler in a test (unit tests of coordinator/scheduler/):
// an in-memory Gcs, hand-made node and task records, what was assigned in
// order. White-box: tests call `run()` or `runPending()` directly.
import { nodeRecord } from './node-record.js';
import type { Session } from '../../coordinator/session.js';
import { Gcs } from '../../coordinator/gcs/gcs.js';
import { Holders } from '../../coordinator/objects/holders.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import type { NodeRecord, ObjectRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import { Scheduler } from '../../coordinator/scheduler/scheduler.js';
import { place, unplace } from '../../coordinator/nodes/load.js';
import { childTaskId, functionId, newJobId, putObjectId, rootTaskId, type FunctionId, type ObjectId, type TaskId } from '../../shared/ids.js';
import type { Arg, Scheduling, TaskSpec } from '../../shared/protocol/messages.js';

/** How a test task differs from the default (the World's function, 1 CPU, no arguments, default policy). */
export interface TaskOpts {
  fn?: FunctionId;
  resources?: Record<string, number>;
  args?: Arg[];
  scheduling?: Scheduling;
}

/** A coordinator's scheduler with its GCS, and what it assigned, in order. */
export class World {
  readonly gcs = new Gcs(new MemoryStorage());
  readonly job = newJobId();
  readonly root = rootTaskId(this.job);
  readonly assigned: Array<{ task: TaskRecord; node: NodeRecord }> = [];
  readonly unplaceable: Array<{ t: TaskRecord; why: string }> = [];
  readonly scheduler = new Scheduler(
    this.gcs,
    (t, n) => {
      // What TaskManager.assign does to the records the scheduler reads.
      t.state = 'assigned';
      t.node = n;
      place(n, t);
      this.assigned.push({ task: t, node: n });
      this.onAssign?.(t, n);
    },
    (t, why) => {
      t.state = 'failed';
      this.unplaceable.push({ t, why });
    },
  );
  /** What the coordinator would send the node (tests of frames per turn). */
  onAssign?: (t: TaskRecord, n: NodeRecord) => void;
  private nextTask = 0;
  private nextPut = 0;
  readonly fn: FunctionId;

  constructor() {
    this.fn = this.addFunction('function work(x) { return x; }');
  }

  addFunction(source: string, timing?: { ewmaMs: number; runs: number }): FunctionId {
    const fnId = functionId('function', source);
    const f = this.gcs.addFunction({ fnId, kind: 'function', name: 'work', source });
    f.ewmaMs = timing?.ewmaMs ?? -1;
    f.runs = timing?.runs ?? 0;
    return fnId;
  }

  /** A node joins (in join order); `busy` tasks already run there. */
  addNode(name: string, resources: Record<string, number>, busy = 0): NodeRecord {
    const n = nodeRecord(name, { resources });
    const id = n.id;
    this.gcs.nodeTable.set(id, n);
    this.scheduler.addNode(n);
    for (let i = 0; i < busy; i++) Scheduler.charge(n, this.task(), 1);
    return n;
  }

  removeNode(n: NodeRecord): void {
    this.gcs.nodeTable.delete(n.id);
    this.scheduler.removeNode(n);
  }

  /** A ready object of `size` bytes held by `holders`. */
  addObject(size: number, ...holders: Session[]): ObjectId {
    const id = putObjectId(this.root, this.nextPut++);
    const o: ObjectRecord = {
      id,
      job: this.job,
      state: 'ready',
      size,
      hash: '00'.repeat(32),
      v: null,
      failure: null,
      locations: new Holders(holders),
      refs: 1,
      contains: [],
      dependents: null,
      subscribers: null,
      creator: null,
    };
    this.gcs.objects.set(id, o);
    return id;
  }

  /** A task record (not queued). */
  task(opts: TaskOpts = {}): TaskRecord {
    const taskId: TaskId = childTaskId(this.root, this.nextTask++);
    const spec: TaskSpec = {
      taskId,
      jobId: this.job,
      parentId: this.root,
      fnId: opts.fn ?? this.fn,
      name: 'work',
      args: opts.args ?? [],
      nested: [],
      numReturns: 1,
      resources: opts.resources ?? { cpu: 1 },
      maxRetries: 3,
      attempt: 0,
      timeoutMs: 0,
      scheduling: opts.scheduling,
    };
    return {
      spec,
      state: 'waiting-args',
      node: null,
      missing: 0,
      liveOutputs: 1,
      holdsArgs: true,
      blocked: false,
      submittedAt: Date.now(),
      startedAt: 0,
      endedAt: 0,
      ranOn: null,
    };
  }

  /** Queues `count` tasks like `opts` and returns them. */
  submit(count: number, opts: TaskOpts = {}): TaskRecord[] {
    const ts = Array.from({ length: count }, () => this.task(opts));
    for (const t of ts) this.scheduler.enqueue(t);
    return ts;
  }

  /** A task ends on its node: its resources come back. */
  finish(t: TaskRecord): void {
    const n = t.node!;
    unplace(n, t);
    t.node = null;
    t.state = 'finished';
  }

  /** Names of the nodes assigned to, in order. */
  placements(): string[] {
    return this.assigned.map((a) => a.node.name);
  }

  countOn(n: NodeRecord): number {
    return this.assigned.filter((a) => a.node === n).length;
  }
}
