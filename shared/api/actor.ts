// Actor handles (issue 5): a handle names a live instance of a class on some
// node. Any property of a handle is a method stub (`h.inc.remote(1)`); the
// handle travels inside values (codec extension) and keeps the actor alive
// through the ObjectRef of its creation task, which the GCS counts like any ref.
import type { ObjectRef } from './ref.js';

export interface ActorCaller {
  callActor(handle: ActorHandleCore, method: string, args: unknown[], opts?: MethodOptions): ObjectRef | ObjectRef[] | undefined;
}

/** Options of one actor method call (`handle.m.options({...}).remote()`), or a method's default. */
export interface MethodOptions {
  /** Objects the call returns: 1 (default) one ref; n > 1 an array of n refs; 0 nothing. */
  numReturns?: number;
}

/** Per-method defaults of an actor class (ActorOptions.methods). */
export type MethodDefaults = Record<string, MethodOptions>;

/** What a handle is; user code sees it through a Proxy (see makeActorHandle). */
export class ActorHandleCore {
  constructor(
    readonly actorId: string,
    readonly className: string,
    /** The creation task's output: while a handle lives, so does the actor. */
    readonly ref: ObjectRef,
    readonly caller: ActorCaller | null,
    /** Per-method defaults of its class. */
    readonly methods?: MethodDefaults,
  ) {}
  toString(): string {
    return `ActorHandle(${this.className} ${this.actorId.slice(0, 12)})`;
  }
  toJSON(): { actor: string; className: string } {
    return { actor: this.actorId, className: this.className };
  }
}

const OWN = new Set<PropertyKey>(['actorId', 'className', 'ref', 'caller', 'methods', 'toString', 'toJSON', 'constructor', 'then']);

export function makeActorHandle(core: ActorHandleCore): ActorHandleCore {
  return new Proxy(core, {
    get(target, prop, receiver) {
      // `then` stays undefined so that `await handle` does not treat it as a promise.
      if (typeof prop === 'symbol' || OWN.has(prop)) return Reflect.get(target, prop, receiver);
      const call =
        (opts: MethodOptions | undefined) =>
        (...args: unknown[]) => {
          if (!target.caller) throw new Error(`actor handle ${target} is not attached to a mesh`);
          return target.caller.callActor(target, prop, args, { ...target.methods?.[prop], ...opts });
        };
      return {
        remote: call(undefined),
        options: (opts: MethodOptions) => ({ remote: call(opts) }),
      };
    },
    has(target, prop) {
      return typeof prop === 'string' || Reflect.has(target, prop);
    },
  });
}

export function isActorHandle(v: unknown): v is ActorHandleCore {
  return v instanceof ActorHandleCore;
}
