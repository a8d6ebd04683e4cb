// Frames to the coordinator as msgpackr records of a fixed table (issue 14,
// session 12). A driver's submits and a node's dones are most of what the
// coordinator decodes; as maps, every key of every spec is a string read per
// message. Here the objects of those messages are records whose key lists
// both ends know in advance, never grown, so no record is defined (and no
// reader compiled) per frame: unpacking 256 submits took 78 instead of 411 µs
// (micro-bench), frames are 45% smaller. Only frames decoded on Node use them:
// a compiled record reader is `new Function`, which a page's CSP refuses, so
// the coordinator sends records (assign, ready) only to clients that say
// `records` in their hello (Node drivers and edge nodes), maps to tabs. A frame of records starts with
// RECORDS_MARK (0xc1, the one byte msgpack never uses): a decoder without the
// table (an older coordinator) refuses it as invalid msgpack, and a plain
// frame's small integers are never taken for record numbers.
import { Packr, RESERVE_START_SPACE } from 'msgpackr';

export const RECORDS_MARK = 0xc1;

/**
 * The key lists, in the order their code builds them: submit (shared/api/driver.ts,
 * shared/node/call-server.ts), its spec (shared/api/task-spec.ts) and arguments,
 * done (shared/node/admission.ts) and its results. An object that `recordShape`
 * picks but whose keys are not listed here still travels, as a record defined in its frame.
 */
const SHAPES: readonly (readonly string[])[] = [
  ['t', 'spec'],
  ['t', 'spec', 'local'],
  [
    'taskId',
    'jobId',
    'parentId',
    'fnId',
    'name',
    'args',
    'nested',
    'numReturns',
    'resources',
    'maxRetries',
    'attempt',
    'timeoutMs',
    'scheduling',
    'actor',
    'retryExceptions',
    'verify',
  ],
  ['v'],
  ['r'],
  ['t', 'taskId', 'attempt', 'ms', 'results'],
  ['t', 'taskId', 'attempt', 'ms', 'ex', 'results'],
  ['v', 'refs'],
  ['size', 'hash', 'refs'],
  // To Node clients that said `records` in their hello (session 13): assign
  // (coordinator/scheduler/tasks.ts), its inline argument values, ready
  // (coordinator/objects/subscriptions.ts). Appended: the numbers above keep their meaning.
  ['t', 'spec', 'inline', 'fn'],
  ['id', 'v'],
  ['t', 'id', 'size', 'v', 'failure'],
  ['t', 'id', 'size', 'v', 'failure', 'hash'],
  // An assign with a result shortcut's tag (shortcut.ts, session 14).
  ['t', 'spec', 'inline', 'fn', 'sc'],
  ['t', 'taskId', 'attempt', 'ms', 'results', 'sc'],
  ['t', 'taskId', 'attempt', 'ms', 'ex', 'results', 'sc'],
  // A direct submission's record at the coordinator (direct.ts, session 15).
  ['t', 'spec', 'to'],
];

/** The messages a frame of records is for: the hot ones, each way. */
const hot = (t: unknown): boolean => t === 'submit' || t === 'done' || t === 'assign' || t === 'ready';

/** Whether an object of a frame goes as a record: the hot messages and their parts (a few property reads, no key list). */
function recordShape(o: Record<string, unknown>): boolean {
  const t = o.t;
  if (t !== undefined) return hot(t);
  return (o.taskId !== undefined && o.fnId !== undefined) || o.refs !== undefined || o.v !== undefined || o.r !== undefined;
}

/**
 * The table as msgpackr wants it. Each list is marked shared: a frame may
 * define a record of its own under a table number (any peer can send one), and
 * msgpackr puts back only shared lists after reading that frame; unmarked, one
 * such frame changed the table for every later frame of every session.
 */
function table(): string[][] {
  return SHAPES.map((k) => Object.assign(k.slice(), { isShared: true }));
}

function packr(useRecords: ((o: Record<string, unknown>) => boolean) | undefined): Packr {
  return new Packr({
    structures: table(),
    maxSharedStructures: SHAPES.length,
    ...(useRecords ? { useRecords } : {}),
    mapsAsObjects: true,
    structuredClone: false,
  });
}

const encoder = packr(recordShape);
const decoder = packr(undefined);

/** Whether a frame of these messages is worth records: it holds a submit, done, assign or ready (others decode a little slower with the table). */
export function worthRecords(msgs: readonly { t: string }[]): boolean {
  for (let i = 0; i < msgs.length; i++) if (hot(msgs[i].t)) return true;
  return false;
}

/** `msgs` as a frame of records: RECORDS_MARK, then the msgpack array. */
export function encodeRecordsFrame(msgs: unknown[]): Uint8Array {
  // One byte kept free before the array (msgpackr's own option), for the mark: no copy.
  const out = encoder.pack(msgs, RESERVE_START_SPACE | 1);
  out[0] = RECORDS_MARK;
  return out;
}

/** The messages of a frame that starts with RECORDS_MARK (not checked yet). */
export function decodeRecordsFrame(data: Uint8Array): unknown {
  return decoder.unpack(data.subarray(1));
}
