// An edge node starts its hash pool's and memory warmer's threads ahead of its
// first large transfer (issue 17, session 22: traced, a first 80 MiB read
// between two nodes had 29 MiB arrived and unchecked for 184 ms while the pool
// booted), but not as it starts (session 32: four thread boots, ~0.35 CPU-s,
// in every node process a test starts and stops at once): a little after it
// joined (helpersAfterMs), or at its first peer link (test/unit/node-helpers).
// Real coordinator and edge node in this process, so the node's pools are
// visible here. The first case must run first: threads once up stay up.
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
  /** A coordinator and an edge node of this process, its helper threads due `helpersAfterMs` after it joined. */
  async function node(helpersAfterMs: number): Promise<void> {
    const data = mkdtempSync(join(tmpdir(), 'tabmesh-threads-'));
    cleanups.push(() => rmSync(data, { recursive: true, force: true }));
    const co = await startCoordinator({ port: 0, dataDir: data, token: 't', httpLimits: false });
    cleanups.push(() => co.close());
    expect(hashPoolOnline()).toBe(0); // the coordinator hashes, but starts no pool
    const n = await startEdgeNode({ coordinator: co.url, cpus: 1, reconnect: false, spillDir: join(data, 'spill'), helpersAfterMs });
    cleanups.push(() => n.leave());
  }

  it('a node that joined has no helper threads before its delay (a node that leaves at once never boots them)', async () => {
    await node(60_000);
    // Booting threads come online in a later macrotask: give them a few.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
    expect(hashPoolOnline()).toBe(0);
    expect(warmerOnline()).toBe(0);
  });

  it('its hash pool and memory warmer come up after the delay, before anything was hashed or warmed', async () => {
    await node(200);
    const threads = Math.max(1, Math.min(4, availableParallelism()));
    await until(() => hashPoolOnline() === threads && warmerOnline() === 2, {
      what: () => `the node's threads up (hash pool ${hashPoolOnline()} of ${threads}, warmer ${warmerOnline()} of 2)`,
    });
    // Nothing asked them for work: they came up with the node.
    expect(hashPoolStats.posts).toBe(0);
    expect(poolStats.warmed).toBe(0);
  });
});
