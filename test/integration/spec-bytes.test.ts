// A submitted spec reaches its node in the bytes the driver sent (shared/protocol/spec-bytes.ts, issue 14,
// session 23): the coordinator decodes and checks it, records the task, and forwards the spec's own bytes in
// the assign instead of encoding it again. Seen from outside with a raw driver and a raw node: the driver
// writes one number of its spec in a longer msgpack form than an encoder picks (the same value); the node's
// assign holds that form, so it is the driver's bytes, not an encoding of the decoded spec.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Cluster } from '../helpers/cluster.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg, type MsgOf, type TaskSpec } from '../../shared/protocol/messages.js';
import { RECORD_SHAPES } from '../../shared/protocol/frame-records.js';
import { skipValue, submitSpecSpans } from '../../shared/protocol/spec-bytes.js';
import { functionIdOf } from '../../shared/env/declare.js';
import { childTaskId, rootTaskId, type JobId } from '../../shared/ids.js';
import { until } from '../helpers/poll.js';

interface Raw {
  ws: WebSocket;
  msgs: Msg[];
  frames: Uint8Array[];
}

async function rawSocket(url: string, hello: Msg): Promise<Raw> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws');
  const raw: Raw = { ws, msgs: [], frames: [] };
  ws.on('message', (d: Buffer) => {
    const b = new Uint8Array(d);
    raw.frames.push(b);
    raw.msgs.push(...decodeFrame(b));
  });
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  ws.send(encodeFrame([hello]));
  await until(() => raw.msgs.some((m) => m.t === 'welcome'), { what: 'the welcome' });
  return raw;
}

/** `frame` (one submit, a frame of records) with its spec's `maxRetries` (3) written as a uint 8 (0xcc 0x03) instead of a fixint. */
function longerForm(frame: Uint8Array): { frame: Uint8Array; spec: Uint8Array } {
  const spans = submitSpecSpans(frame, 1)!;
  const [start, end] = [spans[0], spans[1]];
  let p = start + 1; // past the spec's record number
  const field = RECORD_SHAPES[2].indexOf('maxRetries');
  for (let i = 0; i < field; i++) p = skipValue(frame, p);
  expect(frame[p]).toBe(3);
  const out = new Uint8Array(frame.length + 1);
  out.set(frame.subarray(0, p));
  out.set([0xcc, 0x03], p);
  out.set(frame.subarray(p + 1), p + 2);
  return { frame: out, spec: out.slice(start, end + 1) };
}

describe('a submitted spec travels to its node in the bytes the driver sent', () => {
  let cl: Cluster;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 0 });
  });
  afterAll(() => cl.stop());

  it("the node's assign holds the driver's own encoding of the spec, checked on the way", async () => {
    const node = await rawSocket(cl.url, {
      t: 'hello',
      role: 'node',
      version: PROTOCOL_VERSION,
      records: true,
      node: { kind: 'edge', name: 'raw', resources: { cpu: 1 }, storeBytes: 1 << 20 },
    });
    const driver = await rawSocket(cl.url, { t: 'hello', role: 'driver', version: PROTOCOL_VERSION, token: cl.token, records: true });
    const jobId = (driver.msgs.find((m) => m.t === 'welcome') as MsgOf<'welcome'>).jobId as JobId;
    const f = { kind: 'function' as const, name: 'f', source: 'function f() { return 1 }' };
    const fn = { ...f, fnId: functionIdOf(f) };
    const root = rootTaskId(jobId);
    const spec: TaskSpec = {
      taskId: childTaskId(root, 0),
      jobId,
      parentId: root,
      fnId: fn.fnId,
      name: 'f',
      args: [{ v: new Uint8Array([0xc0]) }],
      nested: [],
      numReturns: 1,
      resources: { cpu: 1 },
      maxRetries: 3,
      attempt: 0,
      timeoutMs: 0,
      scheduling: undefined,
      actor: undefined,
      retryExceptions: undefined,
      verify: undefined,
    };
    driver.ws.send(encodeFrame([{ t: 'fn', f: fn }]));
    const sent = longerForm(encodeFrame([{ t: 'submit', spec }], true));
    driver.ws.send(sent.frame);
    await until(() => node.msgs.some((m) => m.t === 'assign'), { what: 'the assign' });
    const assign = node.msgs.find((m) => m.t === 'assign') as MsgOf<'assign'>;
    // The node reads the spec the driver submitted...
    expect(assign.spec).toMatchObject({ taskId: spec.taskId, maxRetries: 3, args: [{ v: new Uint8Array([0xc0]) }] });
    // ...in the driver's bytes (an encoder writes 3 as one byte).
    const frame = node.frames.find((b) => decodeFrame(b).some((m) => m.t === 'assign'))!;
    expect(Buffer.from(frame).indexOf(Buffer.from(sent.spec))).toBeGreaterThan(0);
    expect(Buffer.from(encodeFrame([assign], true)).indexOf(Buffer.from(sent.spec))).toBe(-1);
    node.ws.close();
    driver.ws.close();
  });
});
