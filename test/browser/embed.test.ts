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
    await cl.until(
      () => embedNodes().length === 1,
      30_000,
      () => 'the embedded node to join after consent',
    );
    await page.close();
  }, 60_000);
});
