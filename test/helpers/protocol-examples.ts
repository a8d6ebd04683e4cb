// Fixtures of the wire-contract tests (test/unit/protocol-*.test.ts, outbox.test.ts): a valid example of every
// message kind, and frames built around them.
import { Packr } from 'msgpackr';
import { expect } from 'vitest';
import { ProtocolError } from '../../shared/errors.js';
import { childTaskId, functionId, newJobId, newNodeId, putObjectId, returnObjectId, rootTaskId } from '../../shared/ids.js';
import { decodeFrame } from '../../shared/protocol/frame.js';
import { messages, PROTOCOL_VERSION, type MessageKind, type MsgOf, type TaskSpec } from '../../shared/protocol/messages.js';

export const job = newJobId();
export const root = rootTaskId(job);
export const task = childTaskId(root, 0);
export const fnId = functionId('function', 'function add(a, b) { return a + b; }');
export const node = newNodeId();
export const o1 = returnObjectId(task, 0);
export const o2 = putObjectId(root, 0);
export const hash = 'ab'.repeat(32);
export const failure = {
  code: 'TASK_ERROR' as const,
  name: 'TypeError',
  message: 'x is not a function',
  stack: 'TypeError: x is not a function\n    at add',
  functionName: 'add',
  taskId: task,
};

export const spec: TaskSpec = {
  taskId: task,
  jobId: job,
  parentId: root,
  fnId,
  name: 'add',
  args: [{ v: new Uint8Array([1, 2, 3]) }, { r: o2 }],
  nested: [o1],
  numReturns: 1,
  resources: { cpu: 1, gpu: 0.5 },
  maxRetries: 3,
  attempt: 0,
  timeoutMs: 0,
  scheduling: { node, soft: true },
};

/** One valid example of every kind; the mapped type makes a new kind fail to compile until added. */
export const examples: { [K in MessageKind]: MsgOf<K> } = {
  error: { t: 'error', code: 'BAD_MESSAGE', message: 'what went wrong', ref: 'submit' },
  chunk: { t: 'chunk', x: 7, o: 0, n: 1 << 20, d: new Uint8Array(1024).fill(9) },
  xferFail: { t: 'xferFail', x: 7, reason: 'peer went away' },
  hello: {
    t: 'hello',
    role: 'node',
    version: PROTOCOL_VERSION,
    token: 'join-token',
    node: { kind: 'browser', name: 'tab 1', resources: { cpu: 4, gpu: 1 }, storeBytes: 1 << 30 },
  },
  fn: { t: 'fn', f: { fnId, kind: 'function', name: 'add', source: 'function add(a, b) { return a + b; }' } },
  submit: { t: 'submit', spec, local: true },
  put: { t: 'put', id: o2, v: new Uint8Array([0x93, 1, 2, 3]), size: 4, hash, refs: [o1] },
  subscribe: { t: 'subscribe', ids: [o1, o2] },
  took: { t: 'took', ids: [o1] },
  unplaced: { t: 'unplaced', taskId: task, reason: 'busy' },
  lease: { t: 'lease', peer: node, on: true },
  fetch: { t: 'fetch', id: o1, x: 3 },
  signal: { t: 'signal', peer: node, data: '{"g":"ab","s":{"type":"offer","sdp":"v=0"}}' },
  locate: { t: 'locate', id: o1, x: 4 },
  located: { t: 'located', x: 4, peers: [node, job] },
  unreachable: { t: 'unreachable', peer: node },
  peerBytes: { t: 'peerBytes', n: 64 << 20 },
  badHolder: { t: 'badHolder', id: o1, peer: node },
  borrow: { t: 'borrow', ids: [o1] },
  release: { t: 'release', ids: [o1, o2] },
  cancel: { t: 'cancel', id: o1, force: false },
  killActor: { t: 'killActor', id: spec.taskId },
  getActor: { t: 'getActor', name: 'counter', x: 3, ns: 'team', job: spec.jobId },
  ask: { t: 'ask', x: 4, q: 'namedActors', all: true },
  info: {
    t: 'info',
    x: 4,
    nodes: [{ nodeId: node, name: 'edge 1', kind: 'edge', alive: true, resources: { cpu: 2 }, available: { cpu: 1 } }],
    actors: [{ name: 'counter', namespace: '' }],
  },
  actorInfo: { t: 'actorInfo', x: 3, id: spec.taskId, className: 'Counter' },
  actorCheckpoint: { t: 'actorCheckpoint', id: spec.taskId, after: spec.taskId, state: new Uint8Array([1, 2]) },
  heartbeat: { t: 'heartbeat', running: 2, queued: 5, storeBytes: 123_456 },
  started: { t: 'started', taskId: task, attempt: 0 },
  blocked: { t: 'blocked', taskId: task, attempt: 0, blocked: true },
  done: {
    t: 'done',
    taskId: task,
    attempt: 1,
    ms: 0.25,
    ex: 3,
    results: [
      { v: new Uint8Array([1]), refs: [] },
      { size: 10_000_000, hash, refs: [o2] },
    ],
  },
  failed: { t: 'failed', taskId: task, attempt: 0, failure, ms: 1.5, ex: 1 },
  stored: { t: 'stored', id: o1, size: 99, hash },
  dropped: { t: 'dropped', ids: [o1] },
  log: { t: 'log', taskId: task, level: 'warn', text: 'careful: ünïcödé' },
  capacity: { t: 'capacity', cpus: 3, paused: true },
  handBack: { t: 'handBack', tasks: [{ taskId: task, attempt: 2 }] },
  leaving: { t: 'leaving' },
  giveBack: { t: 'giveBack', n: 40 },
  hurry: { t: 'hurry', ids: [task] },
  sync: { t: 'sync', x: 7 },
  holding: { t: 'holding', objects: [{ id: o1, size: 20_000_000, hash }] },
  artifact: { t: 'artifact', arts: [{ hash, size: 1_000_000 }] },
  welcome: { t: 'welcome', jobId: job, nodeId: node, secret: 's3cret', inlineMax: 65536, heartbeatMs: 1000 },
  ice: { t: 'ice', ice: { iceServers: [{ urls: 'turn:turn.example:3478', username: '1700021600:ab12', credential: 'c3VwZXI=' }] } },
  assign: {
    t: 'assign',
    spec: { ...spec, scheduling: 'spread' },
    inline: [{ id: o2, v: new Uint8Array([5]) }],
    fn: { fnId, kind: 'function', name: 'add', source: 'function add(a, b) { return a + b; }' },
  },
  cancelTask: { t: 'cancelTask', taskId: task, force: true },
  free: { t: 'free', ids: [o1] },
  forget: { t: 'forget', fns: [fnId] },
  upload: { t: 'upload', hash },
  serve: { t: 'serve', id: o1, x: 12, w: 4 << 20 },
  more: { t: 'more', x: 12, upTo: 8 << 20 },
  ready: { t: 'ready', id: o1, v: undefined, size: 0, hash: undefined, failure },
  output: { t: 'output', taskId: task, level: 'log', text: 'hello from a task', fn: 'add', node: 'tab 1' },
  warn: { t: 'warn', code: 'INFEASIBLE', message: 'task f needs {gpu: 1}, which no node has', ref: task },
  submitGroup: {
    t: 'submitGroup',
    spec: { ...spec, args: [], nested: [], scheduling: undefined },
    first: 0,
    args: [[new Uint8Array([1])], [new Uint8Array([2])]],
  },
  groupRelease: { t: 'groupRelease', g: task, idx: [0, 1] },
  materialize: { t: 'materialize', g: task, idx: [1] },
  groupReady: { t: 'groupReady', g: task, ok: [0], v: [new Uint8Array([4])], failed: [{ i: 1, failure }], moved: undefined },
  assignGroup: {
    t: 'assignGroup',
    spec: { ...spec, args: [], nested: [], scheduling: undefined },
    first: 0,
    s: 3,
    attempt: 0,
    idx: [0, 1],
    args: [[new Uint8Array([1])], [new Uint8Array([2])]],
    fn: undefined,
  },
  cancelGroup: { t: 'cancelGroup', g: task, idx: undefined },
  groupDone: {
    t: 'groupDone',
    g: task,
    s: 3,
    ok: [0],
    results: [{ v: new Uint8Array([4]), refs: [] }],
    ms: [0.5],
    ex: [1],
    failed: [{ i: 1, failure, ex: 0, ms: 2.5 }],
  },
  groupHandBack: { t: 'groupHandBack', g: task, s: 3, idx: [1] },
  groupStarted: { t: 'groupStarted', g: task, s: 3, idx: [1, 2] },
  groupCallOut: { t: 'groupCallOut', g: task, s: 3, idx: [0, 1] },
};

export const kinds = Object.keys(messages) as MessageKind[];

/** The ProtocolError that decodeFrame throws (fails the test when nothing is thrown). */
export function frameError(data: Uint8Array, maxBytes?: number): ProtocolError {
  try {
    decodeFrame(data, maxBytes);
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error('expected decodeFrame to throw');
}

/** A frame packed without going through the typed encoder, for malformed messages. */
export const rawPackr = new Packr({ useRecords: false, mapsAsObjects: true });
export const rawFrame = (msgs: unknown[]): Uint8Array => rawPackr.pack(msgs);

/** A deep copy of a valid example with one change. */
export function variant<K extends MessageKind>(k: K, change: (m: Record<string, any>) => void): unknown {
  const m = structuredClone(examples[k]) as unknown as Record<string, any>;
  change(m);
  return m;
}

/** Turns Buffers from decoding back into plain Uint8Arrays, so examples compare equal. */
export function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
