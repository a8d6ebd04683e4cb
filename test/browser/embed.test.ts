// Issue 3: embed.js on a page of another site. The host page is served from a
// second local server under `localhost` (the coordinator is 127.0.0.1): another
// origin and another site; the node runs in the badge's iframe.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { openVolunteer, tasksDone } from './volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';

describe('embed.js on another origin', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let host: Server;
  let hostUrl: string;
  let mesh: Mesh;

  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 0 });
    host = createServer((req, res) => {
      const consent = req.url === '/ask' ? ' data-consent="ask"' : '';
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A host site</title></head>
        <body><h1>A site that donates compute</h1><p>Some content.</p>
        <script src="${cl.url}/embed.js" data-cpus="1" data-cpu-share="0.5"${consent} async></script></body></html>`);
    });
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    hostUrl = `http://localhost:${(host.address() as AddressInfo).port}`;
    b = await launchBrowser();
    mesh = await cl.driver();
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await cl?.stop();
    host?.closeAllConnections();
    host?.close();
  });

  const embedNodes = () => [...cl.c.coordinator.gcs.nodes.values()].filter((n) => n.name.startsWith('embed on localhost'));

  it('a host page runs tasks through embed.js; Pause stops it from taking tasks', async () => {
    const page = await b.newPage();
    await page.goto(hostUrl + '/');
    await cl.until(
      () => embedNodes().length === 1,
      30_000,
      () => 'the embedded node to join',
    );
    const node = embedNodes()[0];
    expect(node.kind).toBe('browser');
    expect(node.resources.cpu).toBe(1);

    const triple = mesh.remote(function triple(x: number) {
      return 3 * x;
    });
    expect(await mesh.get(Array.from({ length: 30 }, (_, i) => triple.remote(i)))).toEqual(Array.from({ length: 30 }, (_, i) => 3 * i));
    expect(node.tasksDone).toBe(30);

    // The badge tells the visitor, and pauses.
    const badge = page.frameLocator('iframe[title^="tabmesh"]');
    await badge.getByText('This page shares spare computing power').waitFor();
    await badge.getByRole('link', { name: /learn more/i }).waitFor();
    await badge.getByRole('button', { name: 'Pause' }).click();
    await cl.until(
      () => node.resources.cpu === 0,
      20_000,
      () => 'the coordinator to see the pause',
    );
    await badge.getByRole('button', { name: 'Resume' }).waitFor();

    // Work goes elsewhere while it is paused.
    const other = await openVolunteer(cl, b, { cpus: 1 });
    const before = node.tasksDone;
    expect(await mesh.get(Array.from({ length: 30 }, (_, i) => triple.remote(100 + i)))).toEqual(Array.from({ length: 30 }, (_, i) => 300 + 3 * i));
    expect(node.tasksDone).toBe(before);
    expect(tasksDone(cl).get(other.nodeId)).toBe(30);
    await other.page.close();
    await page.close();
  }, 90_000);

  it('with data-consent="ask" nothing starts until the visitor allows it', async () => {
    const page = await b.newPage();
    await page.goto(hostUrl + '/ask');
    const badge = page.frameLocator('iframe[title^="tabmesh"]');
    await badge.getByRole('button', { name: 'Allow' }).waitFor();
    expect(embedNodes()).toHaveLength(0);
    await badge.getByRole('button', { name: 'Allow' }).click();
    await cl
      .until(
        () => embedNodes().length === 1,
        30_000,
        () => 'the embedded node to join after consent',
      )
      .catch(async (e: Error) => {
        // What the badge went through: a click that did not land (still `asking`), or a start whose joins failed
        // (its state and events): a failure names its window, not only its timeout (it failed once in CI, session 34).
        const frame = page.frames().find((f) => f.url().includes('/embed/frame.html'));
        const t0 = Date.now();
        const said = await frame
          ?.evaluate(
            `JSON.stringify({ body: document.body.className, state: tabmeshVolunteer.state, events: tabmeshVolunteer.events.map((x) => [x.at - ${t0}, x.text]) })`,
          )
          .catch((x: Error) => x.message);
        const height = await page.evaluate(`document.querySelector('iframe[title^="tabmesh"]')?.style.height`).catch(() => '?');
        throw new Error(`${e.message}; the badge (its frame ${String(height)} high): ${String(said)}`);
      });
    await page.close();
  }, 60_000);

  it('on a page that is not cross-origin isolated, tasks read and make objects byte for byte, one copy per read (issue 17)', async () => {
    const seen = new Set(embedNodes().map((n) => n.id));
    const page = await b.newPage();
    await page.goto(hostUrl + '/');
    await cl.until(
      () => embedNodes().some((n) => !seen.has(n.id)),
      30_000,
      () => 'the embedded node to join',
    );
    const node = embedNodes().find((n) => !seen.has(n.id))!;
    // The host page sends no COOP/COEP: neither it nor the badge's frame is isolated.
    expect(await page.evaluate('crossOriginIsolated')).toBe(false);
    const frame = page.frames().find((f) => f.url().includes('/embed/frame.html'))!;
    expect(await frame.evaluate('crossOriginIsolated')).toBe(false);

    const N = 3 * 2 ** 20 + 5;
    const x = new Uint8Array(N);
    for (let i = 0; i < N; i++) x[i] = (i * 7 + (i >> 10)) & 255;
    const pinned = { scheduling: { node: node.id as NodeId, soft: false } };
    const read = mesh.remote(function read(a: Uint8Array) {
      let s = 0;
      for (let i = 0; i < a.length; i++) s = (s * 31 + a[i]) % 1_000_000_007;
      // No shared memory here: the executor got a copy of the object's bytes (a few bytes of header before the array), no more.
      const shared = typeof SharedArrayBuffer === 'function' && a.buffer instanceof SharedArrayBuffer;
      return { s, n: a.length, own: !shared && a.buffer.byteLength - a.length < 64 };
    }, pinned);
    const flip = mesh.remote(function flip(a: Uint8Array) {
      const out = new Uint8Array(a.length);
      for (let i = 0; i < a.length; i++) out[i] = 255 - a[i];
      return out;
    }, pinned);
    let s = 0;
    for (let i = 0; i < N; i++) s = (s * 31 + x[i]) % 1_000_000_007;
    const ref = mesh.put(x);
    expect(await mesh.get(read.remote(ref))).toEqual({ s, n: N, own: true });
    const got = await mesh.get(flip.remote(ref));
    expect(got.length).toBe(N);
    for (let i = 0; i < N; i++) if (got[i] !== 255 - x[i]) throw new Error(`byte ${i}: ${got[i]}, not ${255 - x[i]}`);
    await page.close();
  }, 60_000);
});
