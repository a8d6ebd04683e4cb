// Issue 17, session 12: the volunteer page is cross-origin isolated (COOP +
// COEP from the coordinator), so the tab's objects live in SharedArrayBuffer
// and its executors read them in place: no structured clone per task. The
// embed frame, inside other sites' pages, is not isolated and keeps one copy
// per read (test/browser/embed.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { COUNT_DIGESTS, joined, volunteerEval, type VolunteerTab } from './volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';

const N = 512 * 1024; // 2 MiB of float32: pooled, lent to executors

describe('a cross-origin isolated volunteer tab', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tab: VolunteerTab;
  let mesh: Mesh;

  beforeAll(async () => {
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    const page = await b.newPage();
    await page.addInitScript(COUNT_DIGESTS);
    await page.goto(`${cl.url}/?cpuShare=1&cpus=1`);
    tab = { page, nodeId: await joined(cl, page) };
    mesh = await cl.driver();
  }, 60_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
  });

  it('is crossOriginIsolated, and so are its executors', async () => {
    expect(await tab.page.evaluate('crossOriginIsolated')).toBe(true);
    const probe = mesh.remote(
      function probe() {
        return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
      },
      { scheduling: { node: tab.nodeId as NodeId, soft: false } },
    );
    expect(await mesh.get(probe.remote())).toBe(true);
  });

  it('an executor reads an object its tab holds from shared memory, lent, not copied; results come back shared, byte for byte', async () => {
    const x = new Float32Array(N);
    for (let i = 0; i < N; i++) x[i] = (i % 1013) * 0.5;
    const ref = mesh.put(x);
    const pinned = { scheduling: { node: tab.nodeId as NodeId, soft: false } };
    const read = mesh.remote(function read(a: Float32Array) {
      // Kept past the task: the view's lease stays out, so the node's count of lent views shows it.
      (globalThis as { kept?: Float32Array[] }).kept = [...((globalThis as { kept?: Float32Array[] }).kept ?? []), a];
      let s = 0;
      for (let i = 0; i < a.length; i++) s += a[i];
      return { shared: typeof SharedArrayBuffer === 'function' && a.buffer instanceof SharedArrayBuffer, n: a.length, s };
    }, pinned);
    const scale = mesh.remote(function scale(a: Float32Array, k: number) {
      const out = new Float32Array(a.length);
      for (let i = 0; i < a.length; i++) out[i] = a[i] * k;
      return out;
    }, pinned);
    let want = 0;
    for (let i = 0; i < N; i++) want += x[i];

    const leased = () => volunteerEval<number>(tab.page, 'v.node.local.executors.reduce((n, e) => n + e.leases.count, 0)');
    const before = await leased();
    // Twice: the object was fetched once into the tab's store, then read in place by each task.
    expect(await mesh.get([read.remote(ref), read.remote(ref)])).toEqual([
      { shared: true, n: N, s: want },
      { shared: true, n: N, s: want },
    ]);
    expect(await leased()).toBeGreaterThanOrEqual(before + 2);
    // The tab's copy is the shared memory the executor read.
    expect(await volunteerEval<boolean>(tab.page, `v.node.store.getSync(${JSON.stringify(ref.id)}).buffer instanceof SharedArrayBuffer`)).toBe(true);

    const digested = () => tab.page.evaluate('[window.__digested, window.tabmeshVolunteer.hasher.bytes]') as Promise<[number, number]>;
    const [main0, worker0] = await digested();
    const scaled = scale.remote(ref, 3);
    const got = await mesh.get(scaled);
    // Its 2 MiB result, shared memory, was hashed by the tab's hasher worker in place: none of it on the page's main thread.
    const [main1, worker1] = await digested();
    expect(worker1 - worker0).toBeGreaterThanOrEqual(4 * N);
    expect(main1 - main0).toBeLessThan(4 * N);
    expect(got.length).toBe(N);
    for (let i = 0; i < N; i++) if (got[i] !== x[i] * 3) throw new Error(`element ${i}: ${got[i]}, not ${x[i] * 3}`);
    // Made in the executor's shared memory, posted as it is: the tab stores that buffer.
    expect(await volunteerEval<boolean>(tab.page, `v.node.store.getSync(${JSON.stringify(scaled.id)}).buffer instanceof SharedArrayBuffer`)).toBe(true);
  }, 60_000);
});
