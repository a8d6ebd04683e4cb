// Nodes come and go: a killed node's tasks run elsewhere; the durable GCS;
// a node's store spills to disk under pressure.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../helpers/cluster.js';

let cl: Cluster | undefined;
afterEach(async () => {
  await cl?.stop();
  cl = undefined;
});

describe('membership and durability', () => {
  it('a node killed with SIGKILL mid-job: its tasks are re-queued and the job finishes with the right answer', async () => {
    cl = await Cluster.start({ nodes: 2, cpus: 2, deadAfterMs: 2000 });
    const m = await cl.driver();
    const work = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 200));
      return i * 3;
    });
    const refs = Array.from({ length: 40 }, (_, i) => work.remote(i));
    const c = cl.c.coordinator;
    await cl.until(() => c.gcs.stats.tasksFinished >= 4);
    const victim = cl.nodes[0];
    await victim.kill('SIGKILL');
    const out = await m.get(refs, { timeoutMs: 30_000 });
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i * 3));
    expect(c.gcs.stats.tasksRetried).toBeGreaterThan(0);
    expect(c.gcs.events.some((e) => e.kind === 'node-lost')).toBe(true);
    expect(c.gcs.events.some((e) => e.kind === 'task-requeued')).toBe(true);
    expect(c.gcs.nodes.size).toBe(1);
  });

  it('tasks with no retries left fail with NodeLostError instead of hanging', async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 1 });
    const m = await cl.driver();
    const slow = m.remote(async () => new Promise((r) => setTimeout(() => r('late'), 60_000))).options({ maxRetries: 0 });
    const ref = slow.remote();
    await cl.until(() => [...cl!.c.coordinator.gcs.tasks.values()].some((t) => t.state === 'running'));
    await cl.nodes[0].kill('SIGKILL');
    await expect(m.get(ref, { timeoutMs: 10_000 })).rejects.toMatchObject({ code: 'NODE_LOST' });
  });

  it('the durable SQLite GCS records functions, jobs and events; writes are grouped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabmesh-gcs-'));
    try {
      cl = await Cluster.start({ nodes: 1, cpus: 2, memory: false, dataDir: dir });
      // Each task alone: a task group's members are not rows of the durable GCS (docs/decisions.md "Task groups").
      const m = await cl.driver({ groups: false });
      const inc = m.remote((x: number) => x + 1);
      const refs = Array.from({ length: 2000 }, (_, i) => inc.remote(i));
      expect((await m.get(refs))[1999]).toBe(2000);
      const storage = cl.c.coordinator.gcs.storage as unknown as { stats: { flushes: number; rowsWritten: number }; flush(): void };
      storage.flush();
      expect(existsSync(join(dir, 'gcs.sqlite'))).toBe(true);
      // Grouped: far fewer transactions than tasks.
      expect(storage.stats.flushes).toBeLessThan(200);
      expect(storage.stats.rowsWritten).toBeGreaterThan(2000);
      const rows = [...cl.c.coordinator.gcs.storage.load('functions')];
      expect(rows.length).toBe(1);
    } finally {
      await cl?.stop();
      cl = undefined;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an edge node over its store budget spills primary copies to disk and still serves them', async () => {
    cl = await Cluster.start({ nodes: 0 });
    await cl.addNode({ cpus: 1, storeMb: 8 });
    const m = await cl.driver();
    const make = m.remote((i: number) => new Uint8Array(3 * 1024 * 1024).fill(i));
    const refs = Array.from({ length: 6 }, (_, i) => make.remote(i + 1)); // 18 MB on an 8 MB budget
    await m.wait(refs, { numReturns: 6, timeoutMs: 20_000 });
    const firsts = await m.get(refs);
    expect(firsts.map((b) => [b.length, b[0], b[b.length - 1]])).toEqual(Array.from({ length: 6 }, (_, i) => [3 * 1024 * 1024, i + 1, i + 1]));
  });
});
