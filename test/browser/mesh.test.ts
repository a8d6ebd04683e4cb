// Issue 3: a mesh made of volunteer tabs only (no edge node). Two tabs share
// one browser, the third runs in a second browser process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { openVolunteer, tasksDone, type VolunteerTab } from './volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';

describe('three volunteer tabs and no edge node', () => {
  let cl: Cluster;
  let b1: TestBrowser;
  let b2: TestBrowser;
  let tabs: VolunteerTab[];
  let mesh: Mesh;

  beforeAll(async () => {
    [[cl, b1], b2] = await Promise.all([withBrowser(Cluster.start({ nodes: 0 })), launchBrowser()]);
    [tabs, mesh] = await Promise.all([Promise.all([b1, b1, b2].map((b) => openVolunteer(cl, b, { cpus: 1 }))), cl.driver()]);
  }, 120_000);
  afterAll(async () => {
    await cl?.stop();
    await Promise.all([b1?.close(), b2?.close()]);
  });

  it('run 1,000 tasks, a 1,024-leaf tree reduction and recursive Fibonacci, each tab taking part', async () => {
    expect(new Set(tabs.map((t) => t.nodeId)).size).toBe(3);
    for (const t of tabs) expect(cl.c.coordinator.gcs.nodes.get(t.nodeId as never)?.kind).toBe('browser');

    const square = mesh.remote(function square(x: number) {
      return x * x;
    });
    const squares = await mesh.get(Array.from({ length: 1000 }, (_, i) => square.remote(i)));
    expect(squares).toEqual(Array.from({ length: 1000 }, (_, i) => i * i));

    // A tree reduction: leaves are puts, inner nodes tasks over two refs.
    const add = mesh.remote(function add(a: number, b: number) {
      return a + b;
    });
    let level = Array.from({ length: 1024 }, (_, i) => mesh.put(i + 1));
    while (level.length > 1) {
      const next = [];
      for (let i = 0; i < level.length; i += 2) next.push(add.remote(level[i], level[i + 1]));
      level = next;
    }
    expect(await mesh.get(level[0])).toBe((1024 * 1025) / 2);

    // Recursion through nested tasks: a task blocked in get gives its executor back.
    const fib = mesh.remote(async function fib(n: number): Promise<number> {
      if (n < 2) return n;
      const f = mesh.remote(fib);
      const [a, b] = await mesh.get([f.remote(n - 1), f.remote(n - 2)]);
      return a + b;
    });
    expect(await mesh.get(fib.remote(12))).toBe(144);

    const done = tasksDone(cl);
    for (const t of tabs) expect(done.get(t.nodeId), `tasks run by ${t.nodeId}`).toBeGreaterThan(0);
  }, 120_000);
});
