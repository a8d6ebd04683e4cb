// An edge node: the shared node runtime with worker_threads executors, a disk
// spill tier and the `ws` WebSocket.
import os from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { NodeRuntime } from '../shared/node/runtime.js';
import type { WebSocketCtor } from '../shared/api/socket.js';
import { DiskTier } from './disk-tier.js';
import { workerThreadExecutors } from './executors.js';
import { installNodeHasher } from './node-hash.js';
import { edgePeers } from './peer-link.js';

export interface EdgeNodeOptions {
  coordinator: string;
  cpus?: number;
  storeMb?: number;
  spillDir?: string;
  name?: string;
  resources?: Record<string, number>;
  joinToken?: string;
}

export async function startEdgeNode(o: EdgeNodeOptions): Promise<NodeRuntime> {
  installNodeHasher();
  const cpus = o.cpus ?? Math.max(1, os.availableParallelism() - 1);
  const node = new NodeRuntime(
    {
      url: o.coordinator,
      kind: 'edge',
      name: o.name ?? `${os.hostname()}:${process.pid}`,
      cpus,
      storeBytes: (o.storeMb ?? 512) * 1024 * 1024,
      resources: o.resources,
      joinToken: o.joinToken,
    },
    {
      WebSocket: WebSocket as unknown as WebSocketCtor,
      spawnExecutor: workerThreadExecutors(),
      tier: new DiskTier(o.spillDir ?? join(os.tmpdir(), `tabmesh-spill-${process.pid}`)),
      peers: await edgePeers(),
    },
  );
  await node.ready;
  return node;
}
