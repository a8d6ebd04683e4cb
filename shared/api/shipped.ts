// Remote functions and actor classes as values (issue 13): Ray pickles them
// into arguments and results; here their source and options travel (they
// ship as source anyway) and the reader's mesh makes them again.
import type { FunctionSource } from '../protocol/messages.js';

/** What `mesh.remote(fn or Class)` returns, as the codec sees it: the remote object's own methods ride beside these fields. */
export class ShippedRemote {
  constructor(
    readonly kind: 'function' | 'class',
    readonly f: FunctionSource,
    /** Its options as data (a runtime env is already part of `f`). */
    readonly opts: Record<string, unknown>,
  ) {}
}

/** Makes a remote function or actor class found inside a value, on the reader's mesh. */
export type RemoteFactory = (kind: 'function' | 'class', f: FunctionSource, opts: Record<string, unknown>) => unknown;

/** A remote object: `fields` (remote, options) on a ShippedRemote, so that it can travel. */
export function shippable<T extends object>(kind: 'function' | 'class', f: FunctionSource, opts: object, fields: T): T {
  const { runtimeEnv: _env, ...data } = opts as Record<string, unknown>;
  return Object.assign(new ShippedRemote(kind, f, data), fields);
}
