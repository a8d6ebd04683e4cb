// A redis-server of the bench's own (bench:redis): Debian's redis-server on a
// free loopback port, AOF on, in a temp folder; killed when the bench exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { makeTempDir, sleep } from './harness.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of our own (AOF, everysec) in a temp folder; killed when the bench exits. */
export async function ownRedis(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const dir = makeTempDir('tabmesh-bench-redis-');
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'],
    {
      stdio: 'ignore',
    },
  );
  process.on('exit', () => proc.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return { url, proc };
    } catch (e) {
      if (i > 100) throw new Error(`redis-server did not start on port ${port}: ${(e as Error).message}`);
      await sleep(100);
    }
  }
}
