// Ported from ray-project/ray python/ray/tests/test_basic.py, test_basic_2.py
// and test_actor.py (issue 13): put/get, wait and get edge cases, input
// checks, numReturns (0 and per actor method). Ray's assertions kept; Ray's
// ValueError/TypeError are TabmeshError BAD_ARGUMENT here, thrown at the call.
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { Mesh } from '../../shared/api/mesh.js';
import { GetTimeoutError, TaskError, type ObjectRef } from '../../shared/index.js';
import { raises, rayCluster, SIGNAL, SignalActor, type RayCluster, type Where, casesOn } from './setup.js';

declare const mesh: Mesh; // inside tasks

const BROWSER_CASES = new Set([
  'test_put_get',
  'test_wait',
  'test_get_with_timeout (and get([failed, pending]) raises at once)',
  'test_zero_return (numReturns: 0)',
  'test_multiple_return_values (actor method numReturns)',
  'remote functions and actor classes as values (arguments and results; Ray pickles them)',
]);

describe.each<Where>(['edge nodes', 'volunteer tabs'])('test_basic.py, test_basic_2.py, test_actor.py on %s', (where) => {
  let rc: RayCluster;
  let m: Mesh;
  beforeAll(async () => {
    rc = await rayCluster(where, 2);
    m = rc.m;
  }, 120_000);
  afterAll(() => rc.stop());
  const case_ = casesOn(where, BROWSER_CASES);

  case_('test_put_get', async () => {
    for (let i = 0; i < 100; i++) expect(await m.get(m.put(i * 10 ** 6))).toBe(i * 10 ** 6);
    for (let i = 0; i < 100; i++) expect(await m.get(m.put('h'.repeat(i)))).toBe('h'.repeat(i));
    for (let i = 0; i < 100; i++) expect(await m.get(m.put(Array(i).fill(1)))).toEqual(Array(i).fill(1));
  });

  case_('test_wait', async () => {
    const f = m.remote(async (delay: number) => {
      await new Promise((r) => setTimeout(r, delay));
      return delay;
    });
    const objectRefs = [f.remote(0), f.remote(0), f.remote(0), f.remote(0)];
    let { ready, pending } = await m.wait(objectRefs);
    expect(ready.length).toBe(1);
    expect(pending.length).toBe(3);
    ({ ready, pending } = await m.wait(objectRefs, { numReturns: 4 }));
    expect(ready.length).toBe(4);
    expect(pending.length).toBe(0);
    const slow = [f.remote(0), f.remote(0), f.remote(0), f.remote(5000)];
    ({ ready, pending } = await m.wait(slow, { numReturns: 4, timeoutMs: 3000 }));
    expect(ready.length).toBe(3);
    expect(pending.length).toBe(1);
    // Ray: "Wait requires a list of unique object refs", a TypeError for non-refs, num_returns ≤ len.
    await expect(m.wait([objectRefs[0], objectRefs[0]])).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(m.wait([objectRefs[0], objectRefs[0]])).rejects.toThrow(/once/);
    await expect(m.wait([1 as unknown as ObjectRef<number>])).rejects.toThrow(/element 0 is a number/);
    await expect(m.wait(objectRefs[0] as unknown as ObjectRef<number>[])).rejects.toThrow(/array of ObjectRefs/);
    await expect(m.wait(objectRefs, { numReturns: 5 })).rejects.toThrow(/cannot be greater/);
    ({ ready, pending } = await m.wait([], { numReturns: 0 }));
    expect(ready).toEqual([]);
    expect(pending).toEqual([]);
  });

  case_('test_get_with_timeout (and get([failed, pending]) raises at once)', async () => {
    const signal = m.remote(SignalActor).options(SIGNAL).remote();
    const obj = signal.wait.remote();
    await raises(m.get(obj, { timeoutMs: 100 }), [GetTimeoutError]);
    const fail = m.remote(() => {
      throw new Error('fails at once');
    });
    // Ray raises a failure among the refs at once, without waiting for the pending one.
    await raises(m.get([fail.remote(), obj]), [TaskError]);
    signal.send.remote();
    expect(await m.get(obj, { timeoutMs: 10_000 })).toBe(true);
  });

  case_('test_put_object_ref (put of a ref is refused)', async () => {
    const r = m.put(1);
    expect(() => m.put(r)).toThrow(/not an ObjectRef/);
    const boxed = m.put([r]);
    const [inner] = await m.get(boxed);
    expect(await m.get(inner)).toBe(1);
  });

  case_('test_zero_return (numReturns: 0)', async () => {
    const f = m.remote(() => 'dropped', { numReturns: 0 });
    expect(f.remote()).toEqual([]);
    const g = m.remote(() => 1).options({ numReturns: 0 });
    expect(g.remote()).toEqual([]);
  });

  case_('test_multiple_return_values (actor method numReturns)', async () => {
    class Foo {
      method0(): number {
        return 1;
      }
      method1(): number[] {
        return [1];
      }
      method2(): number[] {
        return [1, 2];
      }
      method3(): number[] {
        return [1, 2, 3];
      }
      method_zero(): void {}
    }
    const f = m
      .remote(Foo)
      .options({ methods: { method2: { numReturns: 2 }, method3: { numReturns: 3 } } })
      .remote();
    expect(await m.get(f.method0.remote())).toBe(1);
    expect(await m.get(f.method1.remote())).toEqual([1]);
    const [id2a, id2b] = f.method2.remote() as unknown as ObjectRef<number>[];
    expect(await m.get([id2a, id2b])).toEqual([1, 2]);
    const [id3a, id3b, id3c] = f.method3.remote() as unknown as ObjectRef<number>[];
    expect(await m.get([id3a, id3b, id3c])).toEqual([1, 2, 3]);
    // Per call, as `method.options(num_returns=...)`; the class default is overridden.
    const two = f.method3.options({ numReturns: 1 }).remote() as ObjectRef<number[]>;
    expect(await m.get(two)).toEqual([1, 2, 3]);
    expect(f.method_zero.options({ numReturns: 0 }).remote()).toBeUndefined();
    // The per-method default travels with the handle into tasks.
    const inTask = m.remote((h: typeof f) => (h.method2.remote() as unknown as ObjectRef<number>[]).length);
    expect(await m.get(inTask.remote(f))).toBe(2);
  });

  case_('test_invalid_arguments (options are checked at the call)', async () => {
    const f = () => 1;
    for (const bad of [{ numReturns: -1 }, { numReturns: 1.5 }, { maxRetries: -1 }, { numCpus: -1 }, { timeoutMs: -5 }]) {
      expect(() => m.remote(f, bad as never)).toThrow(/remote option/);
    }
    class A {}
    expect(() => m.remote(A).options({ name: '' })).toThrow(/non-empty/);
    await expect(m.getActor('')).rejects.toThrow(/non-empty/);
  });

  // Ray pickles remote functions and actor classes into arguments and results; here they travel as source and options.
  case_('remote functions and actor classes as values (arguments and results; Ray pickles them)', async () => {
    const square = m.remote((x: number) => x * x, { maxRetries: 1 });
    class Adder {
      constructor(readonly base: number) {}
      add(x: number): number {
        return this.base + x;
      }
    }
    const AdderClass = m.remote(Adder);
    const apply = m.remote(async (f: typeof square, Cls: typeof AdderClass, xs: number[]) => {
      const squares = await mesh.get(xs.map((x) => f.remote(x)));
      const adder = Cls.remote(100);
      return mesh.get(squares.map((y) => adder.add.remote(y)));
    });
    expect(await m.get(apply.remote(square, AdderClass, [1, 2, 3]))).toEqual([101, 104, 109]);
    // Nested in a value, and back as a result: the driver calls what a task made.
    const nested = m.remote((o: { fs: (typeof square)[] }) => o.fs[0].remote(7));
    expect(await m.get(await m.get(nested.remote({ fs: [square] })))).toBe(49);
    const make = m.remote(() => mesh.remote((x: number) => x + 1));
    const plusOne = await m.get(make.remote());
    expect(await m.get(plusOne.remote(41))).toBe(42);
  });
});
