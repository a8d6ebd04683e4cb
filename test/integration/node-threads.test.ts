// An edge node starts its hash pool's and memory warmer's threads as it starts
// (issue 17, session 22): its first transfer does not wait for them to boot
// (traced: a first 80 MiB read between two nodes had 29 MiB arrived and
// unchecked for 184 ms while the pool booted). Real coordinator and edge node
// in this process, so the node's pools are visible here.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCoordinator } from '../../coordinator/server.js';
import { startEdgeNode } from '../../edge/node.js';
import { hashPoolOnline, hashPoolStats } from '../../edge/node-hash.js';
import { warmerOnline } from '../../edge/node-warm.js';
import { poolStats } from '../../shared/bytes.js';
import { until } from '../helpers/poll.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

describe("an edge node's helper threads", () => {
  it('its hash pool and memory warmer are up once it started, before anything was hashed or warmed', async () => {
    const data = mkdtempSync(join(tmpdir(), 'tabmesh-threads-'));
    cleanups.push(() => rmSync(data, { recursive: true, force: true }));
    const co = await startCoordinator({ port: 0, dataDir: data, token: 't', httpLimits: false });
    cleanups.push(() => co.close());
    expect(hashPoolOnline()).toBe(0); // the coordinator hashes, but starts no pool
    const node = await startEdgeNode({ coordinator: co.url, cpus: 1, reconnect: false, spillDir: join(data, 'spill') });
    cleanups.push(() => node.leave());
    const threads = Math.max(1, Math.min(4, availableParallelism()));
    await until(() => hashPoolOnline() === threads && warmerOnline() === 2, {
      what: () => `the node's threads up (hash pool ${hashPoolOnline()} of ${threads}, warmer ${warmerOnline()} of 2)`,
    });
    // Nothing asked them for work: they came up with the node.
    expect(hashPoolStats.posts).toBe(0);
    expect(poolStats.warmed).toBe(0);
  });
});
