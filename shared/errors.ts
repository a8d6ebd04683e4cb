// All tabmesh errors in one place, each with a stable code from the registry
// (error-codes.ts; tests assert on codes, not messages). A task's failure
// travels as a `Failure` record and is turned back into the matching error
// class where it is read; any other code read off the wire becomes
// `errorFromCode`'s class.

import { ERRORS, isErrorCode, type ErrorCode, type FailureCode } from './error-codes.js';

export { ERRORS, ERROR_CODES, FAILURE_CODES, envelope, isErrorCode, type ErrorCode, type ErrorEnvelope, type FailureCode } from './error-codes.js';

export class TabmeshError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** What a failed object holds instead of a value. */
export interface Failure {
  code: FailureCode;
  /** The remote error's name, message and stack (for TASK_ERROR). */
  name: string;
  message: string;
  stack: string;
  functionName: string;
  taskId: string;
}

export class TaskError extends TabmeshError {
  readonly functionName: string;
  readonly taskId: string;
  readonly remoteName: string;
  readonly remoteMessage: string;
  readonly remoteStack: string;
  constructor(f: Failure) {
    super('TASK_ERROR', `task ${f.functionName} (${f.taskId.slice(0, 12)}) threw ${f.name}: ${f.message}`);
    this.functionName = f.functionName;
    this.taskId = f.taskId;
    this.remoteName = f.name;
    this.remoteMessage = f.message;
    this.remoteStack = f.stack;
    this.stack = `${this.name}: ${this.message}\n--- remote stack ---\n${f.stack}`;
  }
}

export class TaskCancelledError extends TabmeshError {
  readonly taskId: string;
  constructor(taskId: string, message = `task ${taskId.slice(0, 12)} was cancelled`) {
    super('TASK_CANCELLED', message);
    this.taskId = taskId;
  }
}

export class TaskTimeoutError extends TabmeshError {
  readonly taskId: string;
  constructor(taskId: string, message: string) {
    super('TASK_TIMEOUT', message);
    this.taskId = taskId;
  }
}

export class GetTimeoutError extends TabmeshError {
  constructor(ms: number, pending: number) {
    super('GET_TIMEOUT', `get timed out after ${ms} ms with ${pending} object(s) not ready`);
  }
}

export class ObjectLostError extends TabmeshError {
  readonly objectId: string;
  constructor(objectId: string, why: string) {
    super('OBJECT_LOST', `object ${objectId.slice(0, 12)} is lost: ${why}`);
    this.objectId = objectId;
  }
}

export class ActorDiedError extends TabmeshError {
  constructor(message: string) {
    super('ACTOR_DIED', message);
  }
}

export class NodeLostError extends TabmeshError {
  readonly taskId: string;
  constructor(taskId: string, message: string) {
    super('NODE_LOST', message);
    this.taskId = taskId;
  }
}

/** The executor (worker) running the task died: a system failure, retried within maxRetries like a lost node. */
export class WorkerCrashedError extends TabmeshError {
  readonly taskId: string;
  constructor(taskId: string, message: string) {
    super('WORKER_CRASHED', message);
    this.taskId = taskId;
  }
}

export class ClosureVariableError extends TabmeshError {
  /** `called`: the function calls it (a helper of the script, most likely), rather than reads it. */
  constructor(functionName: string, variable: string, called = false) {
    super(
      'CLOSURE_VARIABLE',
      called
        ? `remote function ${functionName}: '${variable}' is not defined where it runs (it calls ${variable}(), a function of your script?); ` +
            `remote functions ship as source without the rest of the script: define ${variable} inside ${functionName}, or make it a remote function and call it with mesh.get(${variable}.remote(...))`
        : `remote function ${functionName}: '${variable}' is not defined where it runs; remote functions ship as source and run elsewhere, ` +
            `so a variable of their enclosing scope is not there: pass '${variable}' as an argument`,
    );
  }
}

export class ProtocolError extends TabmeshError {}

/** Connecting failed: no coordinator at the URL, something else there, or a bad URL or token. */
export class ConnectError extends TabmeshError {
  readonly url: string;
  /** The coordinator's close reason, when it refused the connection (COORDINATOR_FULL may name where to go: `next=<url>`). */
  readonly closeReason: string;
  constructor(code: ErrorCode, url: string, message: string, closeReason = '') {
    super(code, message);
    this.url = url;
    this.closeReason = closeReason;
  }
}

/**
 * The class an error code read back becomes (wire `error` messages, executor
 * call replies). A code outside the registry (a plain Error's) is INTERNAL.
 */
export function errorFromCode(code: string, message: string): TabmeshError {
  if (!isErrorCode(code)) return new TabmeshError('INTERNAL', message);
  switch (code) {
    case 'ACTOR_DIED':
      return new ActorDiedError(message);
    case 'BAD_FRAME':
    case 'BAD_MESSAGE':
    case 'FRAME_TOO_LARGE':
      return new ProtocolError(code, message);
    default:
      return new TabmeshError(code, message || ERRORS[code].text);
  }
}

/** Rebuilds the error a reader should see from a failure record. */
export function errorFromFailure(f: Failure): TabmeshError {
  switch (f.code) {
    case 'TASK_ERROR':
      return new TaskError(f);
    case 'TASK_CANCELLED':
      return new TaskCancelledError(f.taskId);
    case 'TASK_TIMEOUT':
      return new TaskTimeoutError(f.taskId, f.message);
    case 'OBJECT_LOST':
      return new ObjectLostError(f.taskId, f.message);
    case 'NODE_LOST':
      return new NodeLostError(f.taskId, f.message);
    case 'ACTOR_DIED':
      return new ActorDiedError(f.message);
    case 'WORKER_CRASHED':
      return new WorkerCrashedError(f.taskId, f.message);
  }
}

export function failureOf(code: Failure['code'], taskId: string, functionName: string, err: unknown): Failure {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    code,
    name: e.name || 'Error',
    message: e.message,
    stack: e.stack ?? `${e.name}: ${e.message}`,
    functionName,
    taskId,
  };
}
