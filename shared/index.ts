// The driver API, isomorphic (Node and browsers).
import { DriverCore, type ConnectOptions } from './api/driver.js';
import { Mesh } from './api/mesh.js';

export { Mesh } from './api/mesh.js';
export { ObjectRef, isObjectRef } from './api/ref.js';
export type * from './api/types.js';
export type { ConnectOptions } from './api/driver.js';
export * from './errors.js';

/** Connects to a coordinator as a driver. */
export async function connect(opts: ConnectOptions): Promise<Mesh> {
  return new Mesh(await DriverCore.connect(opts), { verify: opts.verify });
}
