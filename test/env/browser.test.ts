// Issue 16 on volunteer tabs in Chromium: packages, inline modules and WASM
// loaded in Web Worker executors (blob: modules under the executor CSP), each
// artifact fetched once per tab across 200 tasks and two jobs, a reloaded tab
// reading them from IndexedDB, and module code held in the sandbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { startBait, type Bait } from '../helpers/bait.js';
import { joined, openVolunteer, volunteerEval, type VolunteerTab } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { EnvCacheStats } from '../../shared/node/env-cache.js';
import { mandelbrotTileJs, mandelbrotWasm, tileArgs } from '../../shared/examples/mandelbrot.js';

declare const mesh: Mesh; // inside tasks

const envStats = (tab: VolunteerTab) => volunteerEval<EnvCacheStats>(tab.page, 'v.node.envCache.stats');

describe('runtime envs on volunteer tabs', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tab: VolunteerTab;
  let m: Mesh;
  let bait: Bait;

  beforeAll(async () => {
    bait = await startBait();
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    [tab, m] = await Promise.all([openVolunteer(cl, b, { cpus: 2 }), cl.driver()]);
  }, 90_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
    bait?.close();
  });

  it('a package with dependencies, an inline module and a WASM kernel run in the tab', async () => {
    const f = m.remote(
      async function everything(title: string, args: number[]) {
        const { default: slugify } = await mesh.import('@sindresorhus/slugify');
        const stats = await mesh.import('stats');
        const { exports } = await WebAssembly.instantiate(await mesh.wasm('mandelbrot'), {});
        return [
          slugify(title),
          stats.mean([1, 2, 6]),
          (exports.tile as (...a: number[]) => number)(...args),
          typeof (globalThis as { document?: unknown }).document,
        ];
      },
      {
        runtimeEnv: {
          packages: ['@sindresorhus/slugify'],
          modules: { stats: 'export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;' },
          wasm: { mandelbrot: mandelbrotWasm() },
        },
      },
    );
    const args = [...tileArgs(5, 4, 32), 100];
    expect(await m.get(f.remote('Déjà Vu, encore!', args))).toEqual([
      'deja-vu-encore',
      3,
      mandelbrotTileJs(...(args as Parameters<typeof mandelbrotTileJs>)),
      'undefined',
    ]);
  });

  it('an actor in the tab uses a package', async () => {
    class Slugger {
      async slug(s: string) {
        const { default: slugify } = await mesh.import('@sindresorhus/slugify');
        return slugify(s);
      }
    }
    const a = m.remote(Slugger, { runtimeEnv: { packages: ['@sindresorhus/slugify'] } }).remote();
    expect(await m.get(a.slug.remote('Crème Brûlée'))).toBe('creme-brulee');
  });

  it('each artifact is fetched once by the tab across 200 tasks and two jobs; after a reload it comes from IndexedDB', async () => {
    const counted = `export const tag = 'tab-${Date.now()}';`;
    const env = { modules: { counted }, wasm: { kernel: withCustomSection(mandelbrotWasm(), counted) } };
    const work = async function work(i: number) {
      const c = await mesh.import('counted');
      const { exports } = await WebAssembly.instantiate(await mesh.wasm('kernel'), {});
      return `${c.tag}:${(exports.tile as (...a: number[]) => number)(0, 0, 0.01, 0.01, 2, 2, 10 + (i % 3))}`;
    };
    const before = await envStats(tab);
    const out1 = await m.get(Array.from({ length: 200 }, (_, i) => m.remote(work, { runtimeEnv: env }).remote(i)));
    const m2 = await cl.driver();
    const out2 = await m2.get(Array.from({ length: 100 }, (_, i) => m2.remote(work, { runtimeEnv: env }).remote(i)));
    expect(out2).toEqual(out1.slice(0, 100));
    const after = await envStats(tab);
    expect(after.fetched - before.fetched).toBe(2);
    expect(after.fromTier).toBe(before.fromTier);

    // Reload: a new node, the same IndexedDB. Give the tier write a moment to land first.
    await new Promise((r) => setTimeout(r, 500));
    const oldId = tab.nodeId;
    await tab.page.reload();
    tab = { page: tab.page, nodeId: await joined(cl, tab.page, oldId) };
    const pinned = m2.remote(work, { runtimeEnv: env, scheduling: { node: tab.nodeId, soft: false } });
    expect(await m2.get(pinned.remote(2))).toBe(out1[2]);
    const reloaded = await envStats(tab);
    expect(reloaded).toMatchObject({ fetched: 0, fromTier: 2 });
  }, 120_000);

  it('module code is held by the sandbox: fetch, WebSocket, importScripts and network imports fail, nothing reaches the network', async () => {
    const probe = `
      const url = ${JSON.stringify(bait.url)};
      const attempt = async (f) => { try { await f(); return 'escaped'; } catch (e) { return e.name + ': ' + e.message; } };
      export const atLoad = await attempt(() => fetch(url + '/at-load'));
      export const probe = (what) => {
        switch (what) {
          case 'fetch': return attempt(() => fetch(url + '/fetch'));
          case 'WebSocket': return attempt(() => new WebSocket(url.replace('http', 'ws')));
          case 'importScripts': return attempt(() => importScripts(url + '/x.js'));
          case 'import': return attempt(() => import(url + '/m.js'));
          case 'XMLHttpRequest': return attempt(() => { const x = new XMLHttpRequest(); x.open('GET', url); x.send(); });
          case 'indexedDB': return attempt(() => indexedDB.open('stolen'));
        }
      };`;
    const f = m.remote(
      async function probeModule(what: string) {
        const p = await mesh.import('probe');
        return what === 'atLoad' ? p.atLoad : await p.probe(what);
      },
      { runtimeEnv: { modules: { probe } } },
    );
    for (const what of ['atLoad', 'fetch', 'WebSocket', 'importScripts', 'XMLHttpRequest', 'indexedDB']) {
      expect(await m.get(f.remote(what)), what).toMatch(/^SandboxError: .* is not available to tasks/);
    }
    // A network import is refused by the executor's CSP (script-src allows blob: module URLs only).
    expect(await m.get(f.remote('import'))).toMatch(/^TypeError: /);
    expect(bait.hits).toBe(0);
  });
});

/** The binary with a custom section appended (still valid; other bytes, so another hash). */
function withCustomSection(wasm: Uint8Array, text: string): Uint8Array {
  const name = new TextEncoder().encode('tag');
  const payload = new TextEncoder().encode(text);
  const size = 1 + name.length + payload.length;
  if (size > 127) throw new Error('keep the tag short');
  return new Uint8Array([...wasm, 0, size, name.length, ...name, ...payload]);
}
