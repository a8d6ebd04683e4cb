// The driver API from the browser build, in real Chromium, against a real
// coordinator and edge node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { launchBrowser } from '../helpers/browser.js';

describe('the browser build of the driver API', () => {
  let cl: Cluster;
  let b: Awaited<ReturnType<typeof launchBrowser>>;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    b = await launchBrowser();
  });
  afterAll(async () => {
    await b?.close();
    await cl?.stop();
  });

  it('a page imports the API, submits tasks, puts and gets values, and sees task errors', async () => {
    const page = await b.newPage();
    await page.goto(cl.url + '/about.html'); // not / : that page joins the mesh as a node
    // A string, so that the test runner's transforms leave the page's import() alone.
    const out = await page.evaluate(`(async (token) => {
      const { connect, TaskError } = await import('/lib/tabmesh.js');
      const mesh = await connect({ url: location.origin, token });
      const square = mesh.remote((x) => x * x);
      const refs = [1, 2, 3].map((x) => square.remote(x));
      const squares = await mesh.get(refs);
      const big = mesh.put(new Float64Array(100000).fill(2)); // larger than inline: served by the page
      const sum = mesh.remote((a) => a.reduce((s, x) => s + x, 0));
      const total = await mesh.get(sum.remote(big));
      const boom = mesh.remote(function boom() { throw new Error('from a task'); });
      const err = await mesh.get(boom.remote()).catch((e) => e);
      await mesh.close();
      return { squares, total, isTaskError: err instanceof TaskError, msg: err.remoteMessage };
    })(${JSON.stringify(cl.token)})`);
    expect(out).toEqual({ squares: [1, 4, 9], total: 200_000, isTaskError: true, msg: 'from a task' });
  });
});
