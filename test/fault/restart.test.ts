// Coordinator restart (issue 6): a coordinator killed with SIGKILL in the
// middle of a 2,000-task job and started again on the same data folder
// recovers its tables; nodes and the driver reconnect, and the job completes
// with the right result. Finished small results stay readable.
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/poll.js';
import { cleanupProcesses, dataCoordinator, FAST_REJOIN, restartablePort, runNode, stats, tempDir, TEST_REJOIN_MAX_MS } from '../helpers/processes.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
  cleanupProcesses();
});

class Counter {
  n = 0;
  /** Drawn once per instance: the same tag after the restart is the same instance. */
  readonly tag = Math.random().toString(36).slice(2);
  inc(): number {
    return ++this.n;
  }
  who(): string {
    return this.tag;
  }
}

describe('coordinator restart', () => {
  it('a coordinator SIGKILLed in the middle of a 2,000-task job and restarted: the job completes with the right result', async () => {
    const data = tempDir('tabmesh-restart-');
    const token = 'restart-' + Math.random().toString(36).slice(2);
    let c = await dataCoordinator(data, token, await restartablePort());
    const port = Number(new URL(c.url).port);
    for (let i = 0; i < 2; i++) runNode(c.url, 2, FAST_REJOIN);
    await until(async () => ((await stats(c.url, token))?.nodes ?? 0) >= 2, { timeoutMs: 60_000, what: () => 'two nodes' });
    mesh = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000, reconnectMaxMs: TEST_REJOIN_MAX_MS });
    const m = mesh;
    const early = m.remote((x: number) => `early ${x}`).remote(7);
    expect(await m.get(early)).toBe('early 7');
    const work = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 4));
      return i * 3;
    });
    const refs = Array.from({ length: 2000 }, (_, i) => work.remote(i));
    const all = m.get(refs, { timeoutMs: 120_000 });
    await until(async () => ((await stats(c.url, token))?.tasksFinished ?? 0) >= 400, { timeoutMs: 60_000, what: () => 'the job to be under way' });
    c.proc.kill('SIGKILL');
    await new Promise((r) => c.proc.once('exit', r));
    c = await dataCoordinator(data, token, port);
    const out = await all;
    expect(out).toEqual(Array.from({ length: 2000 }, (_, i) => i * 3));
    // A small result finished before the crash is still readable.
    expect(await m.get(early)).toBe('early 7');
    const s = (await stats(c.url, token))!;
    expect(s.nodes).toBe(2); // both nodes joined the new coordinator
    const events = (await (await fetch(`${c.url}/api/events?kind=coordinator-recovered`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      message: string;
    }[];
    expect(events.length).toBeGreaterThan(0);
  }, 180_000);
  it('a counter actor on an edge node outlives a SIGKILL and restart of its coordinator: the same instance, its count kept', async () => {
    const data = tempDir('tabmesh-restart-actor-');
    const token = 'restart-' + Math.random().toString(36).slice(2);
    let c = await dataCoordinator(data, token, await restartablePort());
    const port = Number(new URL(c.url).port);
    runNode(c.url, 1, FAST_REJOIN);
    await until(async () => ((await stats(c.url, token))?.nodes ?? 0) >= 1, { timeoutMs: 60_000, what: () => 'a node' });
    mesh = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000, reconnectMaxMs: TEST_REJOIN_MAX_MS });
    const m = mesh;
    const counter = m.remote(Counter).remote();
    for (let i = 1; i <= 3; i++) expect(await m.get(counter.inc.remote())).toBe(i);
    const tag = await m.get(counter.who.remote());
    // The durable GCS flushes every 20 ms: a SIGKILL inside that window may lose the last rows (by design, docs/decisions.md);
    // this case is about what was written. (A driver never re-runs an actor call whose result it has, either way.)
    await new Promise((r) => setTimeout(r, 300));
    c.proc.kill('SIGKILL');
    await new Promise((r) => c.proc.once('exit', r));
    const after = [counter.inc.remote(), counter.inc.remote()];
    c = await dataCoordinator(data, token, port);
    expect(await m.get(after, { timeoutMs: 60_000 })).toEqual([4, 5]);
    expect(await m.get(counter.who.remote())).toBe(tag);
    const events = (await (await fetch(`${c.url}/api/events?kind=actor-reattached`, { headers: { authorization: `Bearer ${token}` } })).json()) as unknown[];
    expect(events).toHaveLength(1);
  }, 120_000);

  it('runtime env artifacts are not rows: after a restart the driver offers them again and a new node loads them', async () => {
    const data = tempDir('tabmesh-restart-env-');
    const token = 'restart-' + Math.random().toString(36).slice(2);
    let c = await dataCoordinator(data, token, await restartablePort());
    const port = Number(new URL(c.url).port);
    const first = runNode(c.url, 1, FAST_REJOIN);
    await until(async () => ((await stats(c.url, token))?.nodes ?? 0) >= 1, { timeoutMs: 60_000, what: () => 'a node' });
    mesh = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000, reconnectMaxMs: TEST_REJOIN_MAX_MS });
    const m = mesh;
    // Over the inline threshold: its copies are on the driver and the node, not in the coordinator.
    const tag = `restart-${Date.now()}`;
    const big = `export const tag = ${JSON.stringify(tag)};\nexport const pad = ${JSON.stringify('x'.repeat(200 * 1024))};\n`;
    const f = m.remote(
      async function useBig(i: number) {
        const b = await mesh!.import('big'); // the task's mesh (a parameter of the task's scope), not this file's
        return `${b.tag}:${i}`;
      },
      { runtimeEnv: { modules: { big } } },
    );
    expect(await m.get(f.remote(1))).toBe(`${tag}:1`);
    // The coordinator and the only node that cached it go; a new node joins the restarted coordinator.
    first.proc.kill('SIGKILL');
    c.proc.kill('SIGKILL');
    await new Promise((r) => c.proc.once('exit', r));
    c = await dataCoordinator(data, token, port);
    const second = runNode(c.url, 1, FAST_REJOIN);
    expect(await m.get(f.remote(2), { timeoutMs: 60_000 })).toBe(`${tag}:2`);
    expect(second.out.join('')).toMatch(/runtime env: fetched module 'big'/);
    expect((await stats(c.url, token))?.artifactUploads).toBe(1);
  }, 120_000);
});
