// Pieces the benches that run NodeRuntimes in their own process share (bench/scale-nodes.ts, node-groups.ts,
// node-activation.ts): executors in the same thread, and the spec of an empty task.
import { ExecutorCore } from '../shared/executor/core.js';
import type { ToExecutor } from '../shared/executor/protocol.js';
import type { FunctionId, JobId, TaskId } from '../shared/ids.js';
import type { SpawnExecutor } from '../shared/node/executors.js';
import type { FunctionSource, TaskSpec } from '../shared/protocol/messages.js';
import { SocketFields, type WebSocketLike } from '../shared/api/socket.js';
import { functionId } from '../shared/ids.js';

/** Executors in this thread (the ExecutorCore a worker runs, without the worker): messages go through microtasks. */
export function inThreadExecutors(): SpawnExecutor {
  return (_index, onMessage) => {
    let toCore: (m: ToExecutor) => void = () => {};
    new ExecutorCore({ post: (m) => queueMicrotask(() => onMessage(m)), onMessage: (h) => (toCore = h) });
    return { post: (m) => queueMicrotask(() => toCore(m)), terminate: () => (toCore = () => {}) };
  };
}

/** The spec of task `taskId`, a call of the empty function `fnId` (named noop) without arguments, child of `parentId`. */
export function noopSpec(taskId: TaskId, jobId: JobId, parentId: TaskId, fnId: FunctionId): TaskSpec {
  return {
    taskId,
    jobId,
    parentId,
    fnId,
    name: 'noop',
    args: [],
    nested: [],
    numReturns: 1,
    resources: { cpu: 1 },
    maxRetries: 3,
    attempt: 0,
    timeoutMs: 0,
  };
}

/** The empty function the benches run. */
export function noopFunction(): FunctionSource {
  const source = '() => {}';
  return { fnId: functionId('function', source), kind: 'function', name: 'noop', source };
}

/** A node runtime's socket made in the process (no coordinator): it opens at once and counts what the node sends. */
export class BenchSocket extends SocketFields implements WebSocketLike {
  /** The socket made last (the runtime's, right after it was made). */
  static last: BenchSocket;
  frames = 0;
  bytes = 0;
  constructor(_url: string) {
    super();
    BenchSocket.last = this;
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }
  send(data: Uint8Array): void {
    this.frames++;
    this.bytes += data.byteLength;
  }
  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
