// Issue 17, session 11: a tab hashes the large results of its tasks with
// WebCrypto (native, off the page's main thread), not with the portable
// JavaScript SHA-256 on that thread: a parameter-server round spent 138 ms of
// a tab's main thread hashing its eight 1 MiB gradients there; an actor's
// results too, its calls still reported in their order. The page's
// crypto.subtle.digest is wrapped before the volunteer page loads, to count
// what goes through it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { COUNT_DIGESTS, joined } from './volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';

const MB = 2 ** 20;

describe("a tab's task results", () => {
  /** Bytes WebCrypto digested: on the page's main thread, and in the hasher worker of an isolated tab (shared memory). */
  const hashed = () => page.evaluate('window.__digested + window.tabmeshVolunteer.hasher.bytes') as Promise<number>;
  let cl: Cluster;
  let b: TestBrowser;
  let page: Page;
  let tab: NodeId;
  let mesh: Mesh;

  beforeAll(async () => {
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    page = await b.newPage();
    await page.addInitScript(COUNT_DIGESTS);
    await page.goto(`${cl.url}/?cpuShare=1&cpus=1`);
    tab = (await joined(cl, page)) as NodeId;
    mesh = await cl.driver();
  }, 60_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
  });

  it('four 1 MiB results are hashed by WebCrypto; the driver reads them checked, byte for byte', async () => {
    const make = mesh.remote(
      function make(n: number, seed: number) {
        const x = new Uint8Array(n);
        for (let i = 0; i < n; i++) x[i] = (i * seed + (i >> 12)) & 255;
        return x;
      },
      { scheduling: { node: tab, soft: false } },
    );
    const before = await hashed();
    const refs = [1, 2, 3, 4].map((k) => make.remote(MB, k));
    const got = await mesh.get(refs);
    const digested = (await hashed()) - before;
    // Each result's bytes once (its leaves), whatever else the tab digested meanwhile.
    expect(digested).toBeGreaterThanOrEqual(4 * MB);
    got.forEach((x, j) => {
      expect(x.length).toBe(MB);
      for (let i = 0; i < MB; i += 4093) expect(x[i]).toBe((i * (j + 1) + (i >> 12)) & 255);
    });
  });

  it("an actor's 1 MiB results are hashed by WebCrypto too; its calls end in order, large and small alike", async () => {
    class Weights {
      calls = 0;
      big(k: number) {
        this.calls++;
        return new Uint8Array(2 ** 20).fill(k);
      }
      small() {
        return ++this.calls;
      }
    }
    const w = mesh.remote(Weights, { scheduling: { node: tab, soft: false } }).remote();
    const before = await hashed();
    const refs = [w.big.remote(1), w.small.remote(), w.big.remote(2), w.small.remote(), w.big.remote(3), w.small.remote()];
    const got = await mesh.get(refs as never[]);
    const digested = (await hashed()) - before;
    expect(digested).toBeGreaterThanOrEqual(3 * MB);
    expect([2, 4, 6].map((i) => got[i - 1])).toEqual([2, 4, 6]);
    [0, 2, 4].forEach((i, k) => {
      const x = got[i] as Uint8Array;
      expect(x.length).toBe(MB);
      expect(x[0] === k + 1 && x[MB - 1] === k + 1).toBe(true);
    });
  });

  it("a task's 1 MiB puts are hashed by WebCrypto too (issue 17, session 12); what the task sends next waits for them", async () => {
    const pinned = { scheduling: { node: tab, soft: false } };
    const producer = mesh.remote(async function producer(k: number) {
      const a = new Uint8Array(2 ** 20).fill(k);
      const b = new Uint8Array(2 ** 20).fill(k + 1);
      const ra = mesh.put(a);
      const rb = mesh.put(b);
      // A child given the put's ref at once: the coordinator must know of the put before it.
      const child = mesh
        .remote(function sum(x: Uint8Array) {
          let s = 0;
          for (let i = 0; i < x.length; i++) s += x[i];
          return s;
        })
        .remote(ra);
      return { ra, rb, s: await mesh.get(child) };
    }, pinned);
    const before = await hashed();
    const got = await mesh.get(producer.remote(5));
    const digested = (await hashed()) - before;
    expect(digested).toBeGreaterThanOrEqual(2 * MB);
    expect(got.s).toBe(5 * MB);
    const [a, b] = await mesh.get([got.ra, got.rb]);
    expect(a.length === MB && a.every((v) => v === 5)).toBe(true);
    expect(b.length === MB && b.every((v) => v === 6)).toBe(true);
  });
});
