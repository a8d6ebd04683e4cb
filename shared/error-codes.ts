// The error registry (issue 12): every code tabmesh sends or throws, with the
// HTTP status it maps to and what it means. The wire checks `error.code`
// against it, the driver and executors turn codes into classes through it
// (errors.ts), and the coordinator's HTTP error handler answers with it.
// Tests assert on codes, not on message text.

export interface ErrorInfo {
  /** The HTTP status of this code when it ends a request. */
  readonly status: number;
  /** The default message: what happened and, where there is one, what to do. */
  readonly text: string;
}

export const ERRORS = {
  // -- a task's failure (a Failure record travels with these) -----------------
  TASK_ERROR: { status: 500, text: 'the task threw' },
  TASK_CANCELLED: { status: 409, text: 'the task was cancelled' },
  TASK_TIMEOUT: { status: 504, text: 'the task ran past its timeoutMs' },
  OBJECT_LOST: { status: 410, text: 'the object is lost and cannot be rebuilt' },
  NODE_LOST: { status: 503, text: "the task's node was lost and its retries are spent" },
  ACTOR_DIED: { status: 410, text: 'the actor is dead' },
  WORKER_CRASHED: { status: 503, text: "the task's executor (its worker) died and its retries are spent" },
  // -- the driver API ---------------------------------------------------------
  GET_TIMEOUT: { status: 504, text: 'get timed out' },
  CLOSURE_VARIABLE: { status: 500, text: 'a remote function read a name that is not defined where it runs' },
  NOT_SERIALIZABLE: { status: 400, text: 'the value cannot be sent (a function or a symbol)' },
  BAD_ARGUMENT: { status: 400, text: 'a bad argument' },
  CLOSED: { status: 503, text: 'the connection to the coordinator is closed' },
  BAD_URL: { status: 400, text: 'not a coordinator URL: give http://HOST:PORT' },
  UNREACHABLE: { status: 503, text: 'no coordinator answers at this URL: start one with `npm start`' },
  NOT_A_COORDINATOR: { status: 502, text: 'the server at this URL is not a tabmesh coordinator' },
  // -- the wire (sent in `error` messages; most close the connection) ---------
  BAD_FRAME: { status: 400, text: 'a frame that is not msgpack' },
  FRAME_TOO_LARGE: { status: 413, text: 'a frame over the size limit' },
  BAD_MESSAGE: { status: 400, text: 'a message of the wrong shape or order' },
  UNAUTHORIZED: { status: 401, text: 'a missing or wrong token' },
  REFUSED: { status: 409, text: 'the coordinator refused a message (the connection stays open)' },
  DISTRUSTED: { status: 403, text: 'the node lied too often and was disconnected' },
  NODE_DEAD: { status: 503, text: 'the node missed its heartbeats and was declared dead' },
  RATE_LIMITED: { status: 429, text: 'too many messages or requests; slow down' },
  SIGNAL_FLOOD: { status: 429, text: 'too many signalling messages' },
  OBJECT_TOO_LARGE: { status: 413, text: 'an object over the size limit' },
  TOO_MANY_TASKS: { status: 429, text: 'too many unfinished tasks in one job' },
  TOO_MANY_CONNECTIONS: { status: 429, text: 'too many connections from one address' },
  COORDINATOR_FULL: { status: 503, text: 'the coordinator holds as many connections as its open-file limit allows; try another coordinator or later' },
  CONNECTING_TOO_FAST: { status: 429, text: 'too many new connections from one address at once; try again in a moment' },
  // -- warnings (a `warn` message to the job's driver: the work waits, nothing fails) --
  INFEASIBLE: { status: 409, text: 'no node in the mesh has the resources this task needs: it waits for one' },
  NO_NODES: { status: 503, text: 'no node has joined the mesh: tasks wait for one' },
  BLOCKED_BY_ACTOR: { status: 409, text: 'the CPUs this task needs are held by live actors: it waits for one to stop' },
  PINNED_NODE_AWAY: {
    status: 503,
    text: "the node this task is hard-pinned to is another coordinator's link, down while that coordinator lives: it waits for it a while, then fails",
  },
  // -- HTTP -------------------------------------------------------------------
  BAD_REQUEST: { status: 400, text: 'a bad request' },
  BAD_JOB: { status: 400, text: 'a bad job submission' },
  FORBIDDEN: { status: 403, text: 'this token may read but not submit or cancel' },
  NOT_FOUND: { status: 404, text: 'no such thing' },
  METHOD_NOT_ALLOWED: { status: 405, text: 'this route does not take this method' },
  PAYLOAD_TOO_LARGE: { status: 413, text: 'the request body is over the limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, text: 'send JSON (content-type: application/json)' },
  JOB_LIMIT: { status: 429, text: 'too many jobs are running' },
  JOB_START_FAILED: { status: 500, text: 'the job could not start' },
  INTERNAL: { status: 500, text: 'an internal error (a bug): see the coordinator log' },
  // -- the coordinator's storage ------------------------------------------------
  GCS_UNAVAILABLE: { status: 503, text: "the GCS's store (Redis) cannot be reached or refused a write" },
} as const satisfies Record<string, ErrorInfo>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** Codes a task's failure record may carry. */
export const FAILURE_CODES = [
  'TASK_ERROR',
  'TASK_CANCELLED',
  'OBJECT_LOST',
  'NODE_LOST',
  'TASK_TIMEOUT',
  'ACTOR_DIED',
  'WORKER_CRASHED',
] as const satisfies readonly ErrorCode[];
export type FailureCode = (typeof FAILURE_CODES)[number];

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && Object.hasOwn(ERRORS, x);
}

/** The HTTP envelope every error answer has. */
export interface ErrorEnvelope {
  error: ErrorCode;
  message: string;
}

export function envelope(code: ErrorCode, message?: string): ErrorEnvelope {
  return { error: code, message: message ?? ERRORS[code].text };
}
