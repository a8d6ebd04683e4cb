// Type-level tests of actors: handles are typed from the class.
import { describe, expectTypeOf, test } from 'vitest';
import type { ActorHandle, Mesh, ObjectRef } from '../../shared/index.js';

declare const mesh: Mesh;

class Counter {
  n = 0;
  constructor(
    readonly start: number,
    readonly label?: string,
  ) {}
  inc(by: number): number {
    return (this.n += by);
  }
  async fetchTwice(s: string): Promise<[string, string]> {
    return [s, s];
  }
  reset(): void {
    this.n = 0;
  }
}

describe('actor classes and handles', () => {
  test('constructor arguments are checked; the handle has one remote method per method', () => {
    const C = mesh.remote(Counter);
    const c = C.remote(1, 'x');
    expectTypeOf(c).toEqualTypeOf<ActorHandle<Counter>>();
    expectTypeOf(c.inc.remote(2)).toEqualTypeOf<ObjectRef<number>>();
    expectTypeOf(c.fetchTwice.remote('a')).toEqualTypeOf<ObjectRef<[string, string]>>();
    expectTypeOf(c.reset.remote()).toEqualTypeOf<ObjectRef<void>>();
    expectTypeOf(c.actorId).toEqualTypeOf<string>();
    // @ts-expect-error the constructor takes a number first
    C.remote('one');
    // @ts-expect-error a required constructor argument is missing
    C.remote();
  });

  test('method arguments accept values or refs of the right type only', () => {
    const c = mesh.remote(Counter).remote(0);
    const num = mesh.put(5);
    const str = mesh.put('s');
    c.inc.remote(num);
    c.inc.remote(c.inc.remote(1));
    // @ts-expect-error a string where a number goes
    c.inc.remote('2');
    // @ts-expect-error a future of the wrong type
    c.inc.remote(str);
    // @ts-expect-error too many arguments
    c.inc.remote(1, 2);
    // @ts-expect-error no such method
    c.dec.remote(1);
    // @ts-expect-error fields are not methods
    c.n.remote();
  });

  test('options are checked and keep the class type', () => {
    const C = mesh.remote(Counter).options({ name: 'c', maxConcurrency: 2, numCpus: 0 });
    expectTypeOf(C.remote(1)).toEqualTypeOf<ActorHandle<Counter>>();
    // @ts-expect-error unknown actor option
    mesh.remote(Counter).options({ name: 'c', maxConcurency: 2 });
    // @ts-expect-error wrong option type
    mesh.remote(Counter, { maxConcurrency: 'many' });
  });

  test('getActor is typed by its type argument; kill takes a handle', async () => {
    const h = await mesh.getActor<Counter>('c');
    expectTypeOf(h.inc.remote(1)).toEqualTypeOf<ObjectRef<number>>();
    mesh.kill(h);
    // @ts-expect-error not a handle
    mesh.kill(mesh.put(1));
  });

  test('handles are values: tasks take them as arguments', () => {
    const use = mesh.remote((h: ActorHandle<Counter>, by: number) => h.inc.remote(by));
    const c = mesh.remote(Counter).remote(0);
    expectTypeOf(use.remote(c, 1)).toEqualTypeOf<ObjectRef<ObjectRef<number>>>();
  });
});
