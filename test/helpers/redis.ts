// Real Redis for tests (issue 15): Debian's redis-server on a free loopback
// port with its own temp folder (AOF on, appendfsync everysec, as in
// production), and a 3-master Cluster made with `redis-cli --cluster create`.
// No mock Redis. redis-server has no `--port 0`: a free port is picked by
// binding it (and, for a Cluster node, its bus port +10000) first.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { cleanupProcesses } from './processes.js';

const run = promisify(execFile);
export const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server';
export const REDIS_CLI = process.env.REDIS_CLI ?? 'redis-cli';

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  proc: ChildProcess;
  /** Everything it printed, for failure messages. */
  output: string[];
  /** SIGKILL (nothing flushed on the way out). */
  kill(): Promise<void>;
  /** SIGTERM: Redis fsyncs its AOF and exits. */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder (its AOF is replayed); `term`: stopped with SIGTERM first (all kept), else SIGKILL. */
  restart(how?: 'kill' | 'term'): Promise<void>;
  /** One command through redis-cli; its output. */
  cli(...args: string[]): Promise<string>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A port in [20000, 32768) free on 127.0.0.1, and `port + 10000` too when `bus` (then the port is below 22768):
 * below Linux's ephemeral range (32768-60999), so a server restarted on its port (restart()) cannot find it
 * handed to a port 0 bind of a test file running beside; above processes.ts restartablePort's.
 */
async function freePort(bus: boolean): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * (bus ? 2768 : 12768));
    if ((await portFree(port)) && (!bus || (await portFree(port + 10000)))) return port;
  }
  throw new Error('no free port for redis-server');
}

/** PING until +PONG, or throws after `ms`. */
async function ping(port: number, ms: number, output: string[]): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ host: '127.0.0.1', port });
      let got = '';
      sock.setTimeout(500, () => sock.destroy());
      sock.on('connect', () => sock.write('PING\r\n'));
      sock.on('data', (d) => {
        got += String(d);
        if (got.includes('\r\n')) {
          sock.destroy();
          resolve(got.startsWith('+PONG'));
        }
      });
      sock.on('error', () => resolve(false));
      sock.on('close', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`redis-server on port ${port} did not answer PING: ${output.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => p.once('exit', () => r()));
}

export async function startRedis(opts: { cluster?: boolean } = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tabmesh-redis-'));
  const port = await freePort(!!opts.cluster);
  const output: string[] = [];
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--daemonize',
    'no',
    ...(opts.cluster ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'] : []),
  ];
  const launch = (): ChildProcess => {
    const p = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d) => output.push(String(d)));
    p.stderr.on('data', (d) => output.push(String(d)));
    p.on('error', (e) => output.push(`spawn ${REDIS_SERVER}: ${e.message}`));
    return p;
  };
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    proc: launch(),
    output,
    async kill() {
      server.proc.kill('SIGKILL');
      await exited(server.proc);
    },
    async stop() {
      server.proc.kill('SIGTERM');
      await exited(server.proc);
    },
    async restart(how = 'kill') {
      await (how === 'term' ? server.stop() : server.kill());
      server.proc = launch();
      await ping(port, 15_000, output);
    },
    async cli(...a: string[]) {
      const { stdout } = await run(REDIS_CLI, ['-p', String(port), ...a]);
      return stdout;
    },
    async destroy() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await ping(port, 15_000, output);
  } catch (e) {
    await server.destroy();
    throw e;
  }
  return server;
}

export interface RedisCluster {
  /** A seed URL (the first master); RedisStorage finds the others. */
  url: string;
  servers: RedisServer[];
  destroy(): Promise<void>;
}

/** `n` masters, no replicas, every slot assigned, cluster_state:ok on all. */
export async function startRedisCluster(n = 3): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const destroy = async () => {
    await Promise.all(servers.map((s) => s.destroy()));
  };
  try {
    for (let i = 0; i < n; i++) servers.push(await startRedis({ cluster: true }));
    await run(REDIS_CLI, ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const end = Date.now() + 20_000;
    for (const s of servers) {
      while (!/cluster_state:ok/.test(await s.cli('cluster', 'info'))) {
        if (Date.now() > end) throw new Error(`Redis Cluster did not reach cluster_state:ok on port ${s.port}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await destroy();
    throw e;
  }
  return { url: servers[0].url, servers, destroy };
}

/**
 * A redis-server for the test file (started before its tests, destroyed after
 * them) and the cleanup after each test: `each` first (close meshes, proxies,
 * in-process coordinators), then every process the helpers spawned is killed,
 * unless `killEach` is false: a file whose cases share processes (a pair of
 * coordinators made once) kills them in its own afterAll.
 * `redis.server` is set once the file's tests run.
 */
export function useRedis(each: () => Promise<void> | void = () => {}, killEach = true): { server: RedisServer } {
  const redis = {} as { server: RedisServer };
  beforeAll(async () => {
    redis.server = await startRedis();
  }, 60_000);
  afterAll(async () => {
    await redis.server?.destroy();
  });
  afterEach(async () => {
    await each();
    if (killEach) cleanupProcesses();
  });
  return redis;
}
