// A submitted spec's bytes forwarded in its assign (shared/protocol/spec-bytes.ts, issue 14 session 23): the
// coordinator keeps the bytes a driver's frame of records carried each spec in, and its assign frames splice
// them in instead of encoding the spec again. The node must get the frame it would have got; a spec changed
// since must not go out as it came in; any frame the reader does not follow keeps nothing.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { childTaskId, functionId, newJobId, newNodeId, putObjectId, returnObjectId, rootTaskId, type ObjectId } from '../../shared/ids.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import type { Msg, MsgOf, TaskSpec } from '../../shared/protocol/messages.js';
import { forgetSpecBytes, skipValue, specBytesOf, submitSpecSpans } from '../../shared/protocol/spec-bytes.js';

/** A seeded generator: the same specs each run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const job = newJobId();
const root = rootTaskId(job);
const fnId = functionId('task', 'function f(x) { return x }');

/** Specs of every shape a driver sends: arguments inline (bytes of 0 B to 70 KB) and by ref, resources, placement, actors, verify. */
function randomSpec(r: () => number, i: number): TaskSpec {
  const taskId = childTaskId(root, i);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const args: TaskSpec['args'] = [];
  for (let k = Math.floor(r() * 4); k > 0; k--) {
    const n = pick([0, 1, 31, 32, 255, 256, 4000, 70_000]);
    args.push(r() < 0.6 ? { v: new Uint8Array(n).map(() => Math.floor(r() * 256)) } : { r: returnObjectId(childTaskId(root, 10_000 + k), 0) });
  }
  const nested: ObjectId[] = r() < 0.3 ? [putObjectId(root, i), returnObjectId(childTaskId(root, 20_000 + i), 1)] : [];
  const resources: Record<string, number> = { cpu: pick([0, 0.5, 1, 2, 63, 64, 200, 70_000]) };
  if (r() < 0.3) resources.gpu = pick([1, 0.25]);
  if (r() < 0.2) resources['mem-ø'] = 2 ** 33;
  return {
    taskId,
    jobId: job,
    parentId: root,
    fnId,
    name: pick(['f', '', 'ünïcødé ✓', 'x'.repeat(40), 'y'.repeat(256)]),
    args,
    nested,
    numReturns: pick([0, 1, 2, 64]),
    resources,
    maxRetries: pick([0, 3, 1000]),
    attempt: 0,
    timeoutMs: pick([0, 63, 64, 128, 65_536, 2 ** 31]),
    scheduling: pick([undefined, 'spread', 'default', { node: newNodeId(), soft: r() < 0.5, spill: r() < 0.5 ? true : undefined }]),
    actor: r() < 0.2 ? { kind: 'call', id: childTaskId(root, 99), method: 'm' } : undefined,
    retryExceptions: r() < 0.5 ? true : undefined,
    verify: r() < 0.2 ? { replicas: 3, adaptive: r() < 0.5 ? true : undefined } : undefined,
  } as TaskSpec;
}

/** A driver's frame: submits (some with `local`), among other messages it sends. */
function driverFrame(specs: TaskSpec[], r: () => number): Uint8Array {
  const msgs: Msg[] = [];
  for (const spec of specs) {
    if (r() < 0.2) msgs.push({ t: 'subscribe', ids: [returnObjectId(spec.taskId, 0)] });
    if (r() < 0.1) msgs.push({ t: 'put', id: putObjectId(root, msgs.length), v: new Uint8Array([1, 2, 3]), size: 3, refs: [] });
    msgs.push(r() < 0.2 ? { t: 'submit', spec, local: true } : { t: 'submit', spec });
  }
  return encodeFrame(msgs, true);
}

const assignsOf = (msgs: Msg[]): Msg[] =>
  msgs.flatMap((m) => (m.t === 'submit' ? [{ t: 'assign', spec: m.spec, inline: [], fn: undefined } as MsgOf<'assign'>] : []));

const specsIn = (frame: Uint8Array): TaskSpec[] => decodeFrame(frame).flatMap((m) => (m.t === 'assign' ? [m.spec] : []));

describe('a submitted spec travels on in the bytes it came in (spec-bytes.ts)', () => {
  it('the assign frame with the kept bytes is byte for byte the one encoded from the specs, over 600 random specs; a local submit keeps none', () => {
    const r = rng(7);
    for (let round = 0; round < 6; round++) {
      const frame = driverFrame(
        Array.from({ length: 100 }, (_, i) => randomSpec(r, round * 100 + i)),
        r,
      );
      const reference = encodeFrame(assignsOf(decodeFrame(frame)), true);
      const msgs = decodeFrame(frame, undefined, true);
      // A node's `local` submit runs there (no assign follows): nothing kept for it.
      const submits = msgs.filter((m) => m.t === 'submit');
      for (const m of submits) expect(specBytesOf(m.spec) !== undefined).toBe(m.local !== true);
      expect(submits.filter((m) => m.local === true).length).toBeGreaterThan(5);
      const spliced = encodeFrame(assignsOf(msgs), true);
      expect(Buffer.from(spliced).equals(Buffer.from(reference))).toBe(true);
      // Used once: the specs' bytes are gone (a later assign of one encodes it).
      for (const m of msgs) if (m.t === 'submit') expect(specBytesOf(m.spec)).toBeUndefined();
    }
  });

  it('the assign carries the bytes kept, not an encoding of the spec: a spec changed in place goes out as it came unless forgotten', () => {
    const r = rng(11);
    const frame = driverFrame([randomSpec(r, 1), randomSpec(r, 2)], () => 1);
    const [a, b] = decodeFrame(frame, undefined, true) as MsgOf<'submit'>[];
    const nameA = a.spec.name;
    a.spec.name = 'changed';
    b.spec.name = 'changed';
    forgetSpecBytes(b.spec);
    const [gotA, gotB] = specsIn(encodeFrame(assignsOf([a, b]), true));
    // The node reads the spec as it was submitted (proof the bytes were spliced), and the forgotten one as it is now.
    expect(gotA.name).toBe(nameA);
    expect(gotA.taskId).toBe(a.spec.taskId);
    expect(gotB.name).toBe('changed');
    // Sent once: a second assign of `a` (handed back, placed again) is encoded from the object.
    expect(specsIn(encodeFrame(assignsOf([a]), true))[0].name).toBe('changed');
  });

  it('a spec copied with a change (a retry: attempt + 1) has no bytes of its own', () => {
    const frame = driverFrame([randomSpec(rng(3), 5)], () => 1);
    const [m] = decodeFrame(frame, undefined, true) as MsgOf<'submit'>[];
    const retry = { ...m.spec, attempt: 1 };
    expect(specBytesOf(retry)).toBeUndefined();
    expect(specsIn(encodeFrame(assignsOf([{ t: 'submit', spec: retry }]), true))[0].attempt).toBe(1);
  });

  it('frames it does not read through keep nothing, and their assigns are encoded as before', () => {
    const r = rng(5);
    const spec = randomSpec(r, 1);
    // Maps (a page's frame), a spec with a key outside the table (msgpackr defines a record in the frame for it).
    const frames = [encodeFrame([{ t: 'submit', spec }], false), encodeFrame([{ t: 'submit', spec: { ...spec, gen: 2 } }], true)];
    for (const frame of frames) {
      const msgs = decodeFrame(frame, undefined, true);
      expect(specBytesOf((msgs[0] as MsgOf<'submit'>).spec)).toBeUndefined();
      expect(specsIn(encodeFrame(assignsOf(msgs), true))[0]).toEqual(decodeFrame(frame)[0].t === 'submit' && (decodeFrame(frame)[0] as MsgOf<'submit'>).spec);
    }
    const good = driverFrame([spec], () => 1);
    expect(submitSpecSpans(good, 1)).not.toBeNull();
    expect(submitSpecSpans(good, 2)).toBeNull(); // not the count decoded
    expect(submitSpecSpans(good.subarray(0, good.length - 1), 1)).toBeNull(); // cut short
    const extra = new Uint8Array(good.length + 1);
    extra.set(good);
    expect(submitSpecSpans(extra, 1)).toBeNull(); // a byte past the last message
    // An extension other than `undefined` (a date) where a value is: not followed.
    const ext = new Packr({ useRecords: false }).pack(new Date(0));
    expect(skipValue(ext, 0)).toBe(-1);
  });

  it('skipValue ends each msgpack value where msgpackr does, over 1,000 random values', () => {
    const r = rng(9);
    // As the encoder of a frame of records writes values: no record for these objects, and 0x40-0x7f never a fixint (they are record numbers there).
    const packr = new Packr({ useRecords: () => false, mapsAsObjects: true });
    const value = (depth: number): unknown => {
      const k = Math.floor(r() * (depth > 3 ? 6 : 9));
      switch (k) {
        case 0:
          return Math.floor((r() - 0.5) * 2 ** (r() * 60));
        case 1:
          return r() * 1e6;
        case 2:
          return 'é'.repeat(Math.floor(r() * 40)) + 'a'.repeat([0, 31, 32, 255, 256, 70_000][Math.floor(r() * (depth > 0 ? 5 : 6))]);
        case 3:
          return new Uint8Array([0, 1, 255, 256, 65_536][Math.floor(r() * (depth > 0 ? 4 : 5))]);
        case 4:
          return [null, true, false, undefined][Math.floor(r() * 4)];
        case 5:
          return -Math.floor(r() * 40);
        case 6:
          return Array.from({ length: [0, 3, 15, 16, 20][Math.floor(r() * 5)] }, () => value(depth + 1));
        default:
          return Object.fromEntries(Array.from({ length: [0, 2, 15, 16, 40][Math.floor(r() * 5)] }, (_, i) => [`k${i}`, value(depth + 1)]));
      }
    };
    for (let i = 0; i < 1000; i++) {
      const a = packr.pack(value(0));
      const b = packr.pack(value(0));
      const both = new Uint8Array(a.length + b.length);
      both.set(a);
      both.set(b, a.length);
      expect(skipValue(both, 0)).toBe(a.length);
      expect(skipValue(both, a.length)).toBe(both.length);
    }
  });
});
