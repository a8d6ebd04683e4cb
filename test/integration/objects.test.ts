// Objects: a large put consumed on two nodes, every value kind, and freeing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { ObjectRef } from '../../shared/index.js';

declare const mesh: Mesh; // inside tasks

describe('objects across two edge nodes', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 2, cpus: 1 });
    m = await cl.driver();
  });
  afterAll(() => cl.stop());

  it('a 50 MB Float64Array put by the driver is consumed by tasks on two different nodes', async () => {
    const n = (50 * 1024 * 1024) / 8;
    const big = new Float64Array(n);
    for (let i = 0; i < n; i++) big[i] = i % 1000;
    let expected = 0;
    for (let i = 0; i < n; i++) expected += big[i];
    const ref = m.put(big); // returns at once
    const [nodeA, nodeB] = [...cl.c.coordinator.gcs.nodes.keys()];
    const sum = m.remote((a: Float64Array, tag: string) => {
      let s = 0;
      for (let i = 0; i < a.length; i++) s += a[i];
      return { s, len: a.length, tag, type: a.constructor.name };
    });
    const onA = sum.options({ scheduling: { node: nodeA } }).remote(ref, 'A');
    const onB = sum.options({ scheduling: { node: nodeB } }).remote(ref, 'B');
    const [ra, rb] = await m.get([onA, onB]);
    expect(ra).toEqual({ s: expected, len: n, tag: 'A', type: 'Float64Array' });
    expect(rb).toEqual({ s: expected, len: n, tag: 'B', type: 'Float64Array' });
    const c = cl.c.coordinator;
    expect(c.gcs.tasks.get(onA.id.slice(0, 32) as never)?.ranOn).toBe(nodeA);
    expect(c.gcs.tasks.get(onB.id.slice(0, 32) as never)?.ranOn).toBe(nodeB);
    // The bytes went to each node once, over a peer link (issue 4) or, where none came up, the relay.
    expect(c.gcs.stats.bytesPeer + c.gcs.stats.bytesRelayed).toBeGreaterThanOrEqual(2 * big.byteLength);
    // And the driver can read it back.
    const back = await m.get(ref);
    expect(back.length).toBe(n);
    expect(back[999]).toBe(999);
  });

  it('an array changed right after put leaves the stored object as it was, for every kind of put', async () => {
    const [nodeA] = [...cl.c.coordinator.gcs.nodes.keys()];
    const pattern = (n: number, k: number) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = (i * 31 + k) & 0xff;
      return b;
    };
    // Byte for byte without the matchers' element walk (seconds for MiB).
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
    const outer = pattern(5 << 20, 9);
    // Inline, pooled (below and above the size whose fresh memory the warmer touches as it is written),
    // an ArrayBuffer, a view into a larger buffer, and a typed array inside a structure (the general codec).
    const values: { name: string; value: unknown; bytes: Uint8Array }[] = [
      { name: 'inline', value: pattern(1000, 1), bytes: new Uint8Array(0) },
      { name: '3 MiB Float32Array', value: new Float32Array(pattern(3 << 20, 2).buffer), bytes: new Uint8Array(0) },
      { name: '12 MiB Uint8Array', value: pattern(12 << 20, 3), bytes: new Uint8Array(0) },
      { name: 'ArrayBuffer', value: pattern(2 << 20, 4).buffer, bytes: new Uint8Array(0) },
      { name: 'view', value: new Float64Array(outer.buffer, 8 << 10, (4 << 20) / 8), bytes: new Uint8Array(0) },
      { name: 'structure', value: { tag: 'x', data: pattern(1 << 20, 5) }, bytes: new Uint8Array(0) },
    ];
    const bytesOf = (v: unknown): Uint8Array => {
      const b = v instanceof ArrayBuffer ? v : ArrayBuffer.isView(v) ? v : (v as { data: Uint8Array }).data;
      return b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    };
    const refs = values.map((v) => {
      v.bytes = bytesOf(v.value).slice(); // what was put
      const ref = m.put(v.value);
      bytesOf(v.value).fill(0xee); // the caller's array changes at once
      return ref;
    });
    const checksum = (b: Uint8Array) => {
      let h = 0;
      for (let i = 0; i < b.length; i++) h = (Math.imul(h, 31) + b[i]) | 0;
      return h;
    };
    const remoteSum = m
      .remote((v: unknown) => {
        const x = v instanceof ArrayBuffer ? v : ArrayBuffer.isView(v) ? v : (v as { data: Uint8Array }).data;
        const b = x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
        let h = 0;
        for (let i = 0; i < b.length; i++) h = (Math.imul(h, 31) + b[i]) | 0;
        return h;
      })
      .options({ scheduling: { node: nodeA } });
    // Read back here (the driver's own copy) and on a node (transferred, its chunks checked against the hash).
    const here = await m.get(refs);
    const there = await m.get(refs.map((r) => remoteSum.remote(r)));
    values.forEach((v, i) => {
      expect(same(bytesOf(here[i]), v.bytes), v.name).toBe(true);
      expect(there[i], v.name).toBe(checksum(v.bytes));
    });
    m.free(refs);
  });

  it('a large task result stays on its node and is read by the driver and another node through the relay', async () => {
    const make = m.remote((len: number) => new Uint8Array(len).map((_, i) => i & 0xff));
    const [nodeA, nodeB] = [...cl.c.coordinator.gcs.nodes.keys()];
    const big = make.options({ scheduling: { node: nodeA } }).remote(3 * 1024 * 1024);
    const check = m.remote((b: Uint8Array) => b.length + b[255] + b[256]).options({ scheduling: { node: nodeB } });
    expect(await m.get(check.remote(big))).toBe(3 * 1024 * 1024 + 255 + 0);
    const bytes = await m.get(big);
    expect(bytes.byteLength).toBe(3 * 1024 * 1024);
    expect(bytes[1000]).toBe(1000 & 0xff);
  });

  it('round-trips every value kind through a task, refs nested anywhere included', async () => {
    const inner = m.put('nested');
    const cyclic: Record<string, unknown> = { name: 'cycle' };
    cyclic.self = cyclic;
    const err = new TypeError('bad type');
    const value = {
      num: 1.5,
      neg: -0,
      nan: NaN,
      inf: -Infinity,
      str: 'héllo ✓',
      bool: true,
      nul: null,
      undef: undefined,
      arr: [1, 'two', [3]],
      map: new Map<unknown, unknown>([
        ['k', 1],
        [2, { deep: inner }],
      ]),
      set: new Set([1, 'a', inner]),
      date: new Date('2026-11-26T08:45:00Z'),
      big: 12345678901234567890123456789n,
      negBig: -42n,
      f64: new Float64Array([1.5, -2.25]),
      i32: new Int32Array([-1, 2 ** 31 - 1]),
      u8: new Uint8Array([0, 255]),
      u8c: new Uint8ClampedArray([7]),
      ab: new Uint8Array([9, 8, 7]).buffer,
      err,
      cyclic,
      refs: { deep: { list: [inner] } },
    };
    const echo = m.remote((v: unknown) => v);
    const out = (await m.get(echo.remote(value))) as typeof value;
    expect(out.num).toBe(1.5);
    expect(out.neg).toBe(0); // msgpack has no -0 (README, limits)
    expect(out.nan).toBeNaN();
    expect(out.inf).toBe(-Infinity);
    expect(out.str).toBe('héllo ✓');
    expect(out.bool).toBe(true);
    expect(out.nul).toBeNull();
    expect('undef' in out && out.undef === undefined).toBe(true);
    expect(out.arr).toEqual([1, 'two', [3]]);
    expect(out.map).toBeInstanceOf(Map);
    expect(out.map.get('k')).toBe(1);
    expect(out.set).toBeInstanceOf(Set);
    expect(out.set.has('a')).toBe(true);
    expect(out.date).toBeInstanceOf(Date);
    expect(out.date.toISOString()).toBe('2026-11-26T08:45:00.000Z');
    expect(out.big).toBe(12345678901234567890123456789n);
    expect(out.negBig).toBe(-42n);
    expect(out.f64).toBeInstanceOf(Float64Array);
    expect([...out.f64]).toEqual([1.5, -2.25]);
    expect(out.i32).toBeInstanceOf(Int32Array);
    expect([...out.i32]).toEqual([-1, 2 ** 31 - 1]);
    expect(out.u8).toBeInstanceOf(Uint8Array);
    expect(out.u8c).toBeInstanceOf(Uint8ClampedArray);
    expect(out.ab).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(out.ab)]).toEqual([9, 8, 7]);
    expect(out.err).toBeInstanceOf(TypeError);
    expect(out.err.message).toBe('bad type');
    expect(out.err.stack).toBe(err.stack);
    expect(out.cyclic.self).toBe(out.cyclic);
    // Refs nested in a Map, a Set and deep inside objects come back as refs to the same object.
    const deepRef = (out.map.get(2) as { deep: ObjectRef<string> }).deep;
    const setRef = [...out.set].find((x) => typeof x === 'object') as ObjectRef<string>;
    expect(deepRef.id).toBe(inner.id);
    expect(setRef.id).toBe(inner.id);
    expect(out.refs.deep.list[0].id).toBe(inner.id);
    expect(await m.get([deepRef, setRef, out.refs.deep.list[0]])).toEqual(['nested', 'nested', 'nested']);
  });

  it('frees objects and their lineage when nothing refers to them, so the GCS does not grow', async () => {
    const c = cl.c.coordinator;
    const baseTasks = c.gcs.tasks.size;
    const baseObjects = c.gcs.objects.size;
    // Each task alone: task and object records (a task group's members have none: coordinator/groups).
    const d = await cl.driver({ groups: false });
    const inc = d.remote((x: number) => x + 1);
    for (let round = 0; round < 5; round++) {
      const refs = Array.from({ length: 2000 }, (_, i) => inc.remote(i));
      const chained = inc.remote(refs[0]);
      expect(await d.get(chained)).toBe(2);
      await d.get(refs);
      d.free(refs);
      d.free(chained);
    }
    await cl.until(
      () => c.gcs.tasks.size <= baseTasks && c.gcs.objects.size <= baseObjects,
      10_000,
      () => `tables to shrink: ${c.gcs.tasks.size} tasks, ${c.gcs.objects.size} objects`,
    );
    expect(c.gcs.stats.objectsFreed).toBeGreaterThanOrEqual(10_000);
  });

  it('an object inside another lives as long as the container', async () => {
    const c = cl.c.coordinator;
    const wrap = m.remote(() => ({ inner: mesh.put(new Array(10).fill('x')) }));
    const outer = wrap.remote();
    const box = await m.get(outer);
    const innerId = box.inner.id;
    m.free(box.inner); // the driver lets go of its own handle...
    await new Promise((r) => setTimeout(r, 100));
    expect(c.gcs.objects.has(innerId)).toBe(true); // ...but the container still holds it
    expect(await m.get(box.inner)).toHaveLength(10);
    m.free(outer);
    await cl.until(
      () => !c.gcs.objects.has(innerId),
      5000,
      () => 'the inner object to be freed with its container',
    );
  });

  it('ends the job when its driver disconnects: its tasks are cancelled and its objects freed', async () => {
    const c = cl.c.coordinator;
    const d2 = await cl.driver();
    const jobId = d2.jobId;
    const sleep = d2.remote(async (ms: number) => new Promise((r) => setTimeout(r, ms)));
    const refs = Array.from({ length: 10 }, () => sleep.remote(10_000));
    d2.put(new Uint8Array(1000));
    // Its ten calls of one turn are a task group (coordinator/groups): its members on a node.
    const groupsOf = () => [...(c.groups?.table.ofJob(jobId as never) ?? [])];
    await cl.until(() => [...c.gcs.tasks.values()].some((t) => t.spec.jobId === jobId && t.state === 'running') || groupsOf().some((g) => g.running > 0));
    await d2.close();
    await cl.until(
      () => ![...c.gcs.objects.values()].some((o) => o.job === jobId),
      5000,
      () => 'job objects freed',
    );
    expect([...c.gcs.tasks.values()].filter((t) => t.spec.jobId === jobId)).toHaveLength(0);
    expect(groupsOf()).toHaveLength(0);
    expect(c.gcs.jobs.get(jobId as never)?.state).toBe('finished');
    expect(refs).toHaveLength(10);
  });
});
