// The driver API, isomorphic (Node and browsers).
import { DriverCore, type ConnectOptions } from './api/driver.js';
import { Mesh } from './api/mesh.js';
import { EnvDeclarer } from './env/declare.js';
import { TabmeshError } from './errors.js';

export { Mesh } from './api/mesh.js';
export { ObjectRef, isObjectRef } from './api/ref.js';
export type * from './api/types.js';
export type { ConnectOptions } from './api/driver.js';
export * from './errors.js';
export { RuntimeEnvError, type RuntimeEnv, type RuntimeEnvReason } from './env/env.js';

/** Connects to a coordinator as a driver. */
export async function connect(opts: ConnectOptions): Promise<Mesh> {
  // A bad runtime env fails here, before connecting.
  const jobEnv = EnvDeclarer.resolveJob(opts.runtimeEnv, opts.bundler);
  if (opts.namespace !== undefined && !(typeof opts.namespace === 'string' && opts.namespace.length <= 256)) {
    throw new TabmeshError('BAD_ARGUMENT', 'connect option namespace must be a string of at most 256 characters');
  }
  const mesh = new Mesh(await DriverCore.connect(opts), { verify: opts.verify });
  mesh.useRuntimeEnv(opts.bundler, jobEnv);
  return mesh;
}
