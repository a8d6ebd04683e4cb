// Mesh registries (coordinator/mesh/registry.ts) on a real Redis for a test file: each its own client, disconnected
// after each case; `SELF` is a coordinator's record with nothing in it.
import { Redis } from 'ioredis';
import { MeshRegistry } from '../../coordinator/mesh/registry.js';
import { useRedis } from './redis.js';

export const SELF = { url: 'http://127.0.0.1:1', nodes: 0, cpus: 0, jobs: 0, load: 0, room: 10, startedAt: 0 };

/** Call at a test file's top level: a Redis server for the file, and registries on it (`prefix`, coordinator `id`). */
export function useRegistries(): (prefix: string, id: string) => MeshRegistry {
  const clients: Redis[] = [];
  const redis = useRedis(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });
  return (prefix, id) => {
    const c = new Redis(redis.server.url);
    clients.push(c);
    return new MeshRegistry(c, prefix, id);
  };
}
