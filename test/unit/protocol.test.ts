// The wire contract (shared/protocol/): every message kind has a checker, and
// frames are msgpack arrays of messages validated at the boundary. Malformed
// input: protocol-malformed.test.ts; who may send what: protocol-checkers.test.ts;
// the Outbox: outbox.test.ts.
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../shared/errors.js';
import { childTaskId, returnObjectId } from '../../shared/ids.js';
import { RECORDS_MARK } from '../../shared/protocol/frame-records.js';
import { frameCount } from '../../coordinator/message-slices.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import { messageCheck, type Msg, type MsgOf } from '../../shared/protocol/messages.js';
import { root, task, o1, o2, hash, failure, spec, examples, kinds, rawPackr, rawFrame, plain } from '../helpers/protocol-examples.js';

describe('every message kind', () => {
  it('has an example here (and no example names an unknown kind)', () => {
    expect(Object.keys(examples).sort()).toEqual([...kinds].sort());
  });

  for (const k of kinds) {
    it(`a valid '${k}' passes messageCheck and survives a frame round trip`, () => {
      const m = examples[k];
      expect(messageCheck(m, 'm')).toBeNull();
      const back = decodeFrame(encodeFrame([m]));
      expect(back).toHaveLength(1);
      expect(plain(back[0])).toEqual(plain(m));
    });
  }

  for (const k of kinds) {
    it(`a valid '${k}' survives a frame of records to the coordinator`, () => {
      const back = decodeFrame(encodeFrame([examples[k], examples.submit], true));
      expect(plain(back)).toEqual(plain([examples[k], examples.submit]));
    });
  }

  it('frames to the coordinator holding a submit or a done go as records: marked, smaller, read back the same (issue 14)', () => {
    const batch: Msg[] = Array.from({ length: 256 }, (_, i) => ({
      t: 'submit',
      spec: { ...spec, actor: undefined, retryExceptions: undefined, verify: undefined, taskId: childTaskId(root, i), attempt: i },
    }));
    batch.push(examples.done, { ...examples.done, ex: 3 }, { t: 'submit', spec: { ...spec, resources: { cpu: 1, gpu: 2 } }, local: true });
    const records = encodeFrame(batch, true);
    const maps = encodeFrame(batch);
    expect(records[0]).toBe(RECORDS_MARK);
    expect(maps[0]).not.toBe(RECORDS_MARK);
    // A spec's keys as taskSpecOf lists them: the table's record, no key name sent (ids are most of the rest).
    expect(records.byteLength).toBeLessThan(maps.byteLength * 0.75);
    expect(plain(decodeFrame(records))).toEqual(plain(batch));
    expect(frameCount(records)).toBe(batch.length);
    // A frame with neither stays maps.
    expect(encodeFrame([examples.heartbeat, examples.release], true)[0]).not.toBe(RECORDS_MARK);
  });

  it("the coordinator's assigns and readies, as it builds them, are records of the table: no key name in the frame (session 13)", () => {
    const plainSpec = { ...spec, actor: undefined, retryExceptions: undefined, verify: undefined };
    const batch: Msg[] = [];
    for (let i = 0; i < 128; i++) {
      // coordinator/scheduler/tasks.ts and objects/subscriptions.ts, in their key order.
      batch.push({ t: 'assign', spec: { ...plainSpec, taskId: childTaskId(root, i) }, inline: [{ id: o2, v: new Uint8Array([i]) }], fn: undefined });
      batch.push({ t: 'ready', id: returnObjectId(childTaskId(root, i), 0), size: 1, v: new Uint8Array([0xc0]), failure: undefined });
    }
    batch.push({ t: 'ready', id: o1, size: 10, v: undefined, failure: undefined, hash });
    const records = encodeFrame(batch, true);
    const maps = encodeFrame(batch);
    expect(records[0]).toBe(RECORDS_MARK);
    expect(records.byteLength).toBeLessThan(maps.byteLength * 0.75);
    const text = new TextDecoder('latin1').decode(records);
    for (const key of ['inline', 'failure', 'numReturns', 'size']) expect(text).not.toContain(key);
    expect(plain(decodeFrame(records))).toEqual(plain(batch));
  });

  it('a frame that redefines a record number of the table changes nothing for the next frames (any peer can send one)', () => {
    const sent: Msg[] = [{ t: 'submit', spec }, examples.done]; // the table's first record: t, spec
    const good = encodeFrame(sent, true);
    const keys = rawPackr.pack(['x']);
    // RECORDS_MARK, an array of one, then a record defined in the frame (msgpackr's 'r' extension) under the table's first number.
    const redefine = new Uint8Array([RECORDS_MARK, 0x91, 0xd4, 0x72, 0x40, ...keys, 0x01]);
    for (const evil of [redefine, redefine.subarray(0, redefine.length - 1)]) {
      expect(() => decodeFrame(evil)).toThrow(ProtocolError);
      expect(plain(decodeFrame(good))).toEqual(plain(sent));
    }
  });

  it('the small integers of a plain frame are integers, never taken for record numbers', () => {
    // msgpack writes 64..127 as one byte, the numbers records use: only a marked frame is read with the table.
    const m: MsgOf<'heartbeat'> = { t: 'heartbeat', running: 64, queued: 65, storeBytes: 72 };
    expect(decodeFrame(rawFrame([m]))).toEqual([m]);
    expect(decodeFrame(encodeFrame([m, examples.done], true))[0]).toEqual(m);
  });

  it('all kinds travel together in one frame, in order', () => {
    const all = kinds.map((k) => examples[k]) as Msg[];
    const back = decodeFrame(encodeFrame(all));
    expect(back.map((m) => m.t)).toEqual(kinds);
    expect(plain(back)).toEqual(plain(all));
  });

  it('optional fields may be absent or null', () => {
    expect(messageCheck({ t: 'hello', role: 'driver', version: 1 }, 'm')).toBeNull();
    expect(messageCheck({ t: 'welcome', inlineMax: 0, heartbeatMs: 0, jobId: null }, 'm')).toBeNull();
    expect(messageCheck({ t: 'submit', spec: { ...spec, scheduling: undefined } }, 'm')).toBeNull();
    expect(messageCheck({ t: 'submit', spec: { ...spec, scheduling: 'default' } }, 'm')).toBeNull();
    expect(messageCheck({ t: 'ready', id: o1, size: 3 }, 'm')).toBeNull();
    expect(messageCheck({ t: 'done', taskId: task, attempt: 0, ms: 0, results: [] }, 'm')).toBeNull();
    expect(messageCheck({ t: 'failed', taskId: task, attempt: 0, failure }, 'm')).toBeNull();
  });

  it('an empty frame is a valid (empty) batch', () => {
    expect(decodeFrame(encodeFrame([]))).toEqual([]);
  });
});
