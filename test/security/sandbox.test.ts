// Issue 8: escape attempts from the executor sandbox in real Chromium.
// fetch, WebSocket, importScripts, indexedDB, new Worker, postMessage to the
// tab with forged runtime messages (also through the prototypes the stubs
// shadow) and an infinite loop: each is contained, the driver gets a clear
// error, and the tab goes on running tasks.
import { startBait, type Bait } from '../helpers/bait.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { openVolunteer, type VolunteerTab } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { TaskError, TaskTimeoutError } from '../../shared/errors.js';

describe('sandbox escape attempts in Chromium', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tab: VolunteerTab;
  let mesh: Mesh;
  let bait: Bait;

  beforeAll(async () => {
    bait = await startBait();
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    [tab, mesh] = await Promise.all([openVolunteer(cl, b, { cpus: 1 }), cl.driver()]);
  }, 90_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
    bait?.close();
  });

  const ok = () => mesh.remote((x: number) => x + 1);

  it('each way out fails with a SandboxError the driver sees; nothing reaches the network; the tab goes on', async () => {
    const escape = mesh.remote(async function escape(what: string, url: string) {
      const g = globalThis as any;
      const proto = (name: string) => {
        for (let p = Object.getPrototypeOf(g); p; p = Object.getPrototypeOf(p)) {
          const d = Object.getOwnPropertyDescriptor(p, name);
          if (d) return d;
        }
        return null; // a [Global] scope keeps its operations on itself: nothing to get around
      };
      const forged = { k: 'done', taskId: 'f'.repeat(32), attempt: 0, ms: 1, results: [] };
      switch (what) {
        case 'fetch':
          return await g.fetch(url);
        case 'WebSocket':
          return new g.WebSocket(url.replace('http', 'ws'));
        case 'importScripts':
          return g.importScripts(url + '/x.js');
        case 'indexedDB':
          return g.indexedDB.open('stolen');
        case 'Worker':
          return new g.Worker(url + '/w.js');
        case 'postMessage':
          return g.postMessage(forged);
        case 'proto postMessage':
          return proto('postMessage')?.value.call(g, forged) ?? 'absent';
        case 'proto fetch':
          return (await proto('fetch')?.value.call(g, url)) ?? 'absent';
        case 'proto indexedDB':
          return proto('indexedDB')?.get?.call(g).open('stolen') ?? 'absent';
        case 'navigator.storage': {
          const d = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(g.navigator), 'storage');
          return d ? await d.get!.call(g.navigator).estimate() : 'absent';
        }
        case 'close':
          return g.close();
      }
    });
    const inc = ok();
    const cases = [
      'fetch',
      'WebSocket',
      'importScripts',
      'indexedDB',
      'Worker',
      'postMessage',
      'proto postMessage',
      'proto fetch',
      'proto indexedDB',
      'navigator.storage',
      'close',
    ];
    for (const [i, what] of cases.entries()) {
      const err = await mesh.get(escape.remote(what, bait.url)).then(
        (v) => v,
        (e: unknown) => e,
      );
      if (err === 'absent') continue; // no such path in this browser
      expect(err, what).toBeInstanceOf(TaskError);
      expect((err as TaskError).remoteName, `${what}: ${(err as TaskError).remoteMessage}`).toBe('SandboxError');
      expect((err as TaskError).remoteMessage, what).toMatch(/is not available to tasks: .*no network/);
      expect(await mesh.get(inc.remote(i))).toBe(i + 1);
    }
    expect(bait.hits).toBe(0);
  }, 90_000);

  it('forged runtime messages reach nobody: the tab never reports a task it was not given', async () => {
    const g0 = cl.c.coordinator.gcs.stats.staleReports;
    const forge = mesh.remote(function forge() {
      const g = globalThis as any;
      let sent = 0;
      // Whatever still posts: the scope's own EventTarget methods are there, and lead nowhere.
      for (const target of [g, Object.getPrototypeOf(g)]) {
        try {
          target.postMessage({ k: 'done', taskId: 'e'.repeat(32), attempt: 0, ms: 1, results: [] });
          sent++;
        } catch {
          /* refused */
        }
      }
      return sent;
    });
    expect(await mesh.get(forge.remote())).toBe(0);
    expect(cl.c.coordinator.gcs.stats.staleReports).toBe(g0);
    expect(tab.nodeId).toBeTruthy();
  }, 60_000);

  it('an infinite loop is stopped at its timeoutMs by terminating its worker; the tab runs the next task', async () => {
    const spin = mesh.remote(
      function spin() {
        for (;;) {
          /* forever */
        }
      },
      { timeoutMs: 1500, maxRetries: 0 },
    );
    const err = await mesh.get(spin.remote()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TaskTimeoutError);
    expect((err as Error).message).toMatch(/timeoutMs of 1500/);
    expect(await mesh.get(ok().remote(41))).toBe(42);
    const node = cl.c.coordinator.gcs.nodes.get(tab.nodeId as never);
    expect(node).toBeTruthy();
  }, 60_000);
});
