// The package's Node entry: the driver API with the `ws` WebSocket, plus the
// edge node and coordinator for embedding.
import { nodeWebSocket } from './ws.js';
import { connect as connectShared } from '../shared/index.js';
import type { ConnectOptions } from '../shared/api/driver.js';
import type { Mesh } from '../shared/api/mesh.js';
import { installNodeHasher } from './node-hash.js';
import { installNodeWarmer } from './node-warm.js';
import { edgePeers } from './peer-link.js';
import { esbuildBundler } from './bundler.js';
import type { EnvBundler } from '../shared/env/env.js';

let bundler: EnvBundler | null = null;
/** One bundler per process: bundles are cached across remote() calls and jobs. */
export function sharedBundler(): EnvBundler {
  return (bundler ??= esbuildBundler());
}

export * from '../shared/index.js';
export { startEdgeNode, type EdgeNodeOptions } from './node.js';

export async function connect(opts: ConnectOptions): Promise<Mesh> {
  installNodeHasher();
  installNodeWarmer();
  // A Node driver is a peer too (issue 4): it fetches large results over peer links.
  const peers = opts.peers === undefined ? await edgePeers() : opts.peers;
  return connectShared({
    WebSocket: nodeWebSocket,
    bundler: sharedBundler(),
    records: true,
    shortcut: process.env.TABMESH_SHORTCUTS !== '0',
    // Direct submission (shared/protocol/direct.ts): on unless TABMESH_DIRECT=0 or `direct: false`.
    direct: process.env.TABMESH_DIRECT !== '0',
    ...opts,
    peers,
  });
}
