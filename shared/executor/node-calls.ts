// A task's calls to its node runtime (submit, put, get, wait, ...) over the
// executor endpoint, matched to their replies by id; a cancelled task's calls
// under way reject.
import { isShared } from '../shared-memory.js';
import { errorFromCode, TaskCancelledError } from '../errors.js';
import type { TaskId } from '../ids.js';
import type { Call, ExecutorEndpoint, ToExecutor } from './protocol.js';
import type { RunningTask } from './running.js';

export class NodeCalls {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; task: RunningTask }>();
  private nextId = 1;

  constructor(private readonly ep: ExecutorEndpoint) {}

  /** A call to the node runtime on behalf of a task. */
  call<T>(r: RunningTask, call: Call, wantReply: boolean, transfer?: Uint8Array[]): Promise<T> {
    if (r.cancelled) {
      // A call nobody awaits (put, submit, release...) of a cancelled task is dropped: a rejection there was unhandled and
      // ended the executor, its other tasks with it (WORKER_CRASHED, run again).
      if (!wantReply) return Promise.resolve(undefined as T);
      return Promise.reject(new TaskCancelledError(r.t.taskId));
    }
    if (!wantReply) {
      this.ep.post({ k: 'call', id: 0, taskId: r.t.taskId, call }, transfer && transferable(transfer));
      return Promise.resolve(undefined as T);
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, task: r });
      this.ep.post({ k: 'call', id, taskId: r.t.taskId, call });
    });
  }

  /** Waits on `p` with the task's slot released (so nested tasks can use it). */
  async blocking<T>(r: RunningTask, p: () => Promise<T>): Promise<T> {
    this.ep.post({ k: 'block', taskId: r.t.taskId, blocked: true });
    try {
      return await p();
    } finally {
      this.ep.post({ k: 'block', taskId: r.t.taskId, blocked: false });
    }
  }

  onReply(m: Extract<ToExecutor, { k: 'reply' }>): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(errorFromCode(m.error.code, m.error.message));
  }

  /** `r` was cancelled: its calls waiting for a reply reject. */
  cancelled(r: RunningTask, taskId: TaskId): void {
    for (const [id, p] of this.pending) {
      if (p.task === r) {
        this.pending.delete(id);
        p.reject(new TaskCancelledError(taskId));
      }
    }
  }
}

/** The buffers among `bytes` that can move to the other thread: whole, not shared, each once. */
export function transferable(bytes: Uint8Array[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const b of bytes) {
    if (isShared(b) || b.byteOffset !== 0 || b.byteLength !== b.buffer.byteLength) continue;
    out.add(b.buffer as ArrayBuffer);
  }
  return [...out];
}
