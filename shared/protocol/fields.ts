// Limits of the wire and the checkers of its common fields (ids, values,
// resources), shared by the task records (task.ts) and the messages.
import type { FunctionId, JobId, NodeId, ObjectId, TaskId } from '../ids.js';
import { FUNCTION_ID_BYTES, JOB_ID_BYTES, NODE_ID_BYTES, OBJECT_ID_BYTES, TASK_ID_BYTES } from '../ids.js';
import { arr, bytes, dict, id, num } from './check.js';

export const PROTOCOL_VERSION = 1;
/** Largest value carried inside one message (inline values, chunks). */
export const MAX_VALUE_BYTES = 1 << 20;
/** Relay chunks: large enough to amortise framing, small enough to interleave. */
export const RELAY_CHUNK_BYTES = 256 * 1024;
export const MAX_BATCH = 100_000;
/** A WebRTC offer or answer with its candidates fits easily. */
export const MAX_SIGNAL_CHARS = 16 * 1024;
/** Holders named in one `located` answer. */
export const MAX_LOCATED = 8;
export const MAX_ARGS = 4096;
export const MAX_RETURNS = 1024;
export const MAX_IDS = 100_000;
/** Replicas of one verified task (issue 8). */
export const MAX_REPLICAS = 16;

export const objectId = id<ObjectId>(OBJECT_ID_BYTES);
export const taskId = id<TaskId>(TASK_ID_BYTES);
export const jobId = id<JobId>(JOB_ID_BYTES);
export const fnId = id<FunctionId>(FUNCTION_ID_BYTES);
export const nodeId = id<NodeId>(NODE_ID_BYTES);
export const value = bytes(MAX_VALUE_BYTES);
export const ids = arr(objectId, MAX_IDS);
/** Resource names on a node or a task: Ray's own test asks for 10,000 custom ones (issue 13). */
export const MAX_RESOURCES = 10_240;
export const resources = dict(num, MAX_RESOURCES);
