// One way to reach Redis, for the GCS's writer thread (redis-worker.ts) and the
// coordinators' mesh (coordinator/mesh): a standalone server, or the Cluster
// found behind the URL. ioredis reconnects by itself and keeps unsent commands.
import { Cluster, Redis } from 'ioredis';

export interface RedisConnection {
  client: Redis | Cluster;
  cluster: boolean;
  masters: number;
}

/** Connects to the server (or Cluster) at `url`; connection errors after the first go to `onError`, not thrown. */
export async function connectRedis(url: string, connectTimeoutMs: number, onError: (err: Error) => void = () => {}): Promise<RedisConnection> {
  const u = new URL(url);
  const quiet = <T extends Redis | Cluster>(c: T): T => {
    c.on('error', onError);
    return c;
  };
  const common = {
    // Commands issued in one tick go out as one write per server.
    enableAutoPipelining: true,
    // A lost connection is waited out: writes are kept and sent again, never dropped.
    maxRetriesPerRequest: null,
    connectTimeout: connectTimeoutMs,
  };
  const probe = quiet(new Redis(url, { ...common, lazyConnect: true, retryStrategy: () => null }));
  try {
    await probe.connect();
    const info = await probe.info('cluster');
    if (!/cluster_enabled:1/.test(info)) {
      probe.disconnect();
      const client = quiet(new Redis(url, { ...common, lazyConnect: true }));
      await client.connect();
      return { client, cluster: false, masters: 1 };
    }
  } catch (err) {
    probe.disconnect();
    throw err;
  }
  probe.disconnect();
  const client = quiet(
    new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
      enableAutoPipelining: true,
      lazyConnect: true,
      redisOptions: {
        maxRetriesPerRequest: null,
        connectTimeout: connectTimeoutMs,
        username: u.username ? decodeURIComponent(u.username) : undefined,
        password: u.password ? decodeURIComponent(u.password) : undefined,
      },
    }),
  );
  await client.connect();
  return { client, cluster: true, masters: client.nodes('master').length };
}
