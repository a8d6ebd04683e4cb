// Issue 3: the executor sandbox. Task code runs in a Web Worker whose script
// is served with a CSP (eval yes, network and imports no) and whose scope has
// lost every way out before the task loads.
import { startBait, type Bait } from '../helpers/bait.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { openVolunteer, type VolunteerTab } from './volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { TaskError } from '../../shared/errors.js';

describe('the executor sandbox', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tab: VolunteerTab;
  let mesh: Mesh;
  let bait: Bait;

  beforeAll(async () => {
    bait = await startBait();
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    [tab, mesh] = await Promise.all([openVolunteer(cl, b, { cpus: 1 }), cl.driver()]);
  }, 60_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
    bait?.close();
  });

  it('the executor script is served with a CSP that allows eval but no network and no imports', async () => {
    const res = await fetch(`${cl.url}/executor.js`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'unsafe-eval'");
    expect(csp).toContain("connect-src 'none'");
    expect(csp).toContain("default-src 'none'");
  });

  it('tasks calling fetch, WebSocket, importScripts, indexedDB and the like fail with a clear error; the tab runs the next task', async () => {
    const attempt = mesh.remote(async function attempt(what: string, url: string) {
      const g = globalThis as any;
      switch (what) {
        case 'fetch':
          return await g.fetch(url);
        case 'WebSocket':
          return new g.WebSocket(url.replace('http', 'ws'));
        case 'importScripts':
          return g.importScripts(url + '/x.js');
        case 'indexedDB':
          return g.indexedDB.open('stolen');
        case 'XMLHttpRequest':
          return new g.XMLHttpRequest();
        case 'EventSource':
          return new g.EventSource(url);
        case 'caches':
          return await g.caches.open('x');
        case 'BroadcastChannel':
          return new g.BroadcastChannel('tabs');
        case 'postMessage':
          return g.postMessage('forged');
        case 'navigator.storage':
          return await g.navigator.storage.estimate();
      }
    });
    const ok = mesh.remote(function ok(x: number) {
      return x + 1;
    });
    const names = [
      'fetch',
      'WebSocket',
      'importScripts',
      'indexedDB',
      'XMLHttpRequest',
      'EventSource',
      'caches',
      'BroadcastChannel',
      'postMessage',
      'navigator.storage',
    ];
    for (const [i, what] of names.entries()) {
      const err = await mesh.get(attempt.remote(what, bait.url)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(TaskError);
      expect((err as TaskError).remoteName, what).toBe('SandboxError');
      expect((err as TaskError).remoteMessage, what).toContain(`${what} is not available to tasks`);
      expect((err as TaskError).remoteMessage, what).toContain('no network');
      expect(await mesh.get(ok.remote(i))).toBe(i + 1);
    }
    expect(bait.hits).toBe(0);
  }, 60_000);

  it("tabmesh's errors thrown in a tab keep their class names (the bundles are minified; session 29 soak: ObjectLostError read as 'p')", async () => {
    const boom = mesh.remote(function boom() {
      throw new RangeError('boom');
    });
    // Slower than the get's 50 ms whatever runs it (a blocked task's executor may take it, or another one).
    const later = mesh.remote(async function later(x: number) {
      await new Promise((r) => setTimeout(r, 3000));
      return x;
    });
    const caught = mesh.remote(async function caught(what: string, boomFn: typeof boom, laterFn: typeof later) {
      // `mesh` here is the task's own (the executor's global), not the test's driver.
      try {
        if (what === 'bad-argument') mesh.remote(42 as never);
        if (what === 'get-timeout') await mesh.get(laterFn.remote(1), { timeoutMs: 50 });
        if (what === 'child-threw') await mesh.get(boomFn.remote());
        return 'no error';
      } catch (e) {
        return (e as Error).name;
      }
    });
    const names = await mesh.get(['bad-argument', 'get-timeout', 'child-threw'].map((w) => caught.remote(w, boom, later)));
    expect(names).toEqual(['TabmeshError', 'GetTimeoutError', 'TaskError']);
  }, 60_000);

  it('what the scope still has cannot reach the network either: the CSP blocks it', async () => {
    const sneak = mesh.remote(async function sneak(url: string) {
      const out: string[] = [];
      const g = globalThis as any;
      try {
        await import(/* @vite-ignore */ url + '/module.js');
        out.push('import: loaded');
      } catch (e) {
        out.push('import: ' + (e as Error).name);
      }
      try {
        const face = new g.FontFace('x', `url(${url}/font.woff)`);
        await face.load();
        out.push('font: loaded');
      } catch (e) {
        out.push('font: ' + (e as Error).name);
      }
      return out;
    });
    const out = await mesh.get(sneak.remote(bait.url));
    expect(out.some((l) => l.endsWith('loaded'))).toBe(false);
    expect(bait.hits).toBe(0);
    expect(tab.nodeId).toBeTruthy();
  }, 60_000);
});
