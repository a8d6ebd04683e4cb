// Issue 11, the volunteer page and embed.js as a new user met them: a page
// that lends "spare" power works half the time by default, a cancelled task
// is not one the tab failed, and a host page hears `tabmesh:status` on
// window. Real Chromium; the host page is another origin (localhost vs
// 127.0.0.1), as in test/browser/embed.test.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskCancelledError } from '../../shared/errors.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { joined, volunteerEval } from '../browser/volunteers.js';

describe('the volunteer page and embed.js', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let host: Server;
  let hostUrl: string;
  let mesh: Mesh;

  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 0 });
    host = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      // The host listens on window, the way its authors would, before embed.js loads.
      res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A host site</title></head>
        <body><h1>A host</h1>
        <script>
          window.heard = { window: [], document: 0 };
          window.addEventListener('tabmesh:status', (e) => window.heard.window.push(e.detail.state));
          document.addEventListener('tabmesh:status', () => window.heard.document++);
        </script>
        <script src="${cl.url}/embed.js" data-cpus="1" async></script></body></html>`);
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

  it('the volunteer page lends half the CPU time by default, and says so', async () => {
    const page = await b.newPage();
    await page.goto(`${cl.url}/`); // no URL overrides: the page's own defaults
    await joined(cl, page);
    expect(await volunteerEval<number>(page, 'v.settings.cpuShare')).toBe(0.5);
    expect(await page.inputValue('#share')).toBe('50');
    expect(await page.textContent('#share-out')).toBe('50%');
    expect(await page.textContent('#s-executors-sub')).toBe('50% of the time');
    await page.close();
  });

  it('a task cancelled on the tab is counted as cancelled, not failed', async () => {
    const page = await b.newPage();
    await page.goto(`${cl.url}/?cpus=1&cpuShare=1`);
    const nodeId = await joined(cl, page);
    const nap = mesh.remote(async function nap(ms: number) {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    });
    const boom = mesh.remote(function boom() {
      throw new Error('a real failure');
    });
    const ref = nap.options({ scheduling: { node: nodeId, soft: false } }).remote(60_000);
    await cl.until(
      () => [...cl.c.coordinator.gcs.tasks.values()].some((t) => t.spec.name === 'nap' && t.state === 'running'),
      30_000,
      () => 'the nap to run on the tab',
    );
    mesh.cancel(ref, { force: true }); // a timer cannot be interrupted: the executor is stopped
    await expect(mesh.get(ref)).rejects.toBeInstanceOf(TaskCancelledError);
    await cl.until(
      () => cl.c.coordinator.gcs.nodes.get(nodeId as never)?.inflightTasks === 0,
      20_000,
      () => 'the tab to be free',
    );
    await page.locator('#s-failed', { hasText: '1 cancelled' }).waitFor({ timeout: 10_000 });
    expect(await page.textContent('#s-failed')).toBe('none failed · 1 cancelled');
    // A real failure still counts as one.
    await expect(mesh.get(boom.options({ scheduling: { node: nodeId, soft: false } }).remote())).rejects.toThrow(/a real failure/);
    await page.locator('#s-failed', { hasText: '1 failed' }).waitFor({ timeout: 10_000 });
    expect(await volunteerEval<[number, number]>(page, '[v.stats().tasksFailed, v.stats().tasksCancelled]')).toEqual([1, 1]);
    await page.close();
  }, 90_000);

  it('embed.js: tabmesh:status reaches window (once per status, through document)', async () => {
    const page = await b.newPage();
    await page.goto(hostUrl + '/');
    await cl.until(
      () => [...cl.c.coordinator.gcs.nodes.values()].some((n) => n.name.startsWith('embed on localhost')),
      30_000,
      () => 'the embedded node to join',
    );
    const end = Date.now() + 20_000;
    let heard = { window: [] as string[], document: 0 };
    while (Date.now() < end) {
      heard = (await page.evaluate('window.heard')) as typeof heard;
      if (heard.window.includes('connected')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(heard.window).toContain('connected');
    expect(heard.document).toBe(heard.window.length);
    await page.close();
  });
});
