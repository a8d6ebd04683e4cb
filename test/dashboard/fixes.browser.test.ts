// Issue 11, what a new user noticed on the dashboard, in real Chromium against
// a coordinator and one edge node with 2 executors: the timeline has a row per
// executor slot (nested tasks once gave 57 rows), a wrong #token= says "token
// rejected", failed, cancelled and empty jobs never read 100%, Tab indents in
// the editor, the Objects view filters by minSize, ended jobs' tasks, objects
// and actors stay listed, the nodes table fits 1280 px, a favicon, and a page
// that says so when the coordinator is down. Screenshots go to test-results/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, untilInPage, withBrowser } from '../helpers/browser.js';
import { Cluster, ROOT } from '../helpers/cluster.js';
import { connect } from '../../edge/index.js';
import { call, ended, submit } from './helpers.js';

const SHOTS = join(ROOT, 'test-results');

/** Runs fib(9) (109 nested tasks: each waits in get for two more) and 12 squares as a driver's job; returns its id once ended. */
async function nestedJob(cl: Cluster): Promise<string> {
  const mesh = await connect({ url: cl.url, token: cl.token });
  const fib = mesh.remote(async function fib(n: number): Promise<number> {
    const end = Date.now() + 15;
    while (Date.now() < end);
    if (n < 2) return n;
    const f = mesh.remote(fib);
    const [a, b] = await mesh.get([f.remote(n - 1), f.remote(n - 2)]);
    return a + b;
  });
  const square = mesh.remote(function square(x: number) {
    const end = Date.now() + 40;
    while (Date.now() < end);
    return x * x;
  });
  await mesh.get(Array.from({ length: 12 }, (_, i) => square.remote(i)));
  expect(await mesh.get(fib.remote(9))).toBe(34);
  const id = mesh.jobId;
  await mesh.close();
  return id;
}

describe('the dashboard, as a new user found it', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let page: Page;
  let stopped = false;

  const open = async (hash: string) => {
    await page.goto(`${cl.url}/dashboard#${hash}`);
    await page.waitForSelector('main .view');
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [cl, b] = await withBrowser(Cluster.start({ nodes: 1, cpus: 2 }));
    page = await b.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${cl.url}/dashboard#token=${encodeURIComponent(cl.token)}`);
    await page.waitForSelector('.conn-live', { timeout: 30_000 });
  }, 90_000);
  afterAll(async () => {
    await b?.close();
    if (!stopped) await cl?.stop();
  });

  it('draws a row per executor slot that exists (2), with nested tasks inside their parents', async () => {
    const id = await nestedJob(cl);
    const { rows, bars } = (await call(cl, 'GET', `/api/timeline?job=${id}&format=bars`)).json;
    expect(rows).toHaveLength(2);
    expect(bars).toHaveLength(12 + 109); // fib(9) makes 109 tasks
    expect(new Set(bars.map((x: { lane: number }) => x.lane))).toEqual(new Set([0, 1]));
    expect(bars.some((x: { depth: number }) => x.depth > 0)).toBe(true);

    await open(`/jobs/${id}/timeline`);
    // A thin span per task; solid, what each slot ran (every task ran on its own for a while: none is hidden).
    await untilInPage(page, `document.querySelectorAll('svg.timeline rect.span').length === 121`);
    expect(await page.$$eval('svg.timeline rect.bar', (r) => new Set(r.map((e) => e.getAttribute('data-task'))).size)).toBe(121);
    expect(await page.$$eval('svg.timeline .rowlabel', (l) => l.map((e) => e.textContent))).toEqual(['executor 0', 'executor 1']);
    // The node's full name labels its rows; the axis is labelled and has ticks.
    const nodeName = [...cl.c.coordinator.gcs.nodes.values()][0].name;
    expect(await page.$eval('svg.timeline .grouplabel', (t) => t.lastChild!.textContent)).toBe(nodeName);
    expect(await page.textContent('svg.timeline .axis-title')).toBe('time since the first task started');
    expect(await page.$$eval('svg.timeline text.axis', (t) => t.length)).toBeGreaterThanOrEqual(3);
    // Coloured by function: one colour each; the legend names both.
    const fills = await page.$$eval('svg.timeline rect.bar', (r) => [...new Set(r.map((e) => `${e.getAttribute('data-fn')}=${e.getAttribute('fill')}`))]);
    expect(fills).toHaveLength(2);
    expect(await page.textContent('figcaption .legend')).toMatch(/fib.*square|square.*fib/);
    await page.screenshot({ path: join(SHOTS, 'dashboard-timeline-slots.png'), fullPage: true });
    await page.check('input[name=colour-by][value=state]');
    await untilInPage(page, `document.querySelectorAll('svg.timeline rect.span.fill-finished').length === 121`);
    await page.screenshot({ path: join(SHOTS, 'dashboard-timeline-by-state.png'), fullPage: true });
  });

  it("lists an ended job's tasks, freed objects and dead actors, and filters objects by minSize", async () => {
    const mesh = await connect({ url: cl.url, token: cl.token });
    const big = mesh.put(new Uint8Array(300_000));
    mesh.put('small');
    class Counter {
      n = 0;
      inc() {
        return ++this.n;
      }
    }
    const counter = mesh.remote(Counter).remote();
    expect(await mesh.get(counter.inc.remote())).toBe(1);
    const len = mesh.remote(function len(a: Uint8Array) {
      return a.length;
    });
    expect(await mesh.get(len.remote(big))).toBe(300_000);
    const id = mesh.jobId;
    await mesh.close();
    await cl.until(
      () => ![...cl.c.coordinator.gcs.objects.values()].some((o) => o.job === id),
      20_000,
      () => 'the job to free its objects',
    );
    const objs = (await call(cl, 'GET', `/api/objects?job=${id}`)).json;
    expect(objs.length).toBeGreaterThanOrEqual(2);
    expect(objs.every((o: { state: string }) => o.state === 'freed')).toBe(true);
    expect((await call(cl, 'GET', `/api/actors?job=${id}`)).json).toMatchObject([{ className: 'Counter', state: 'dead' }]);
    const tasks = (await call(cl, 'GET', `/api/tasks?name=len`)).json;
    expect(tasks.some((t: { job: string; state: string }) => t.job === id && t.state === 'finished')).toBe(true);

    await open('/objects');
    await page.fill('#f-job', id);
    await page.fill('#f-minSize', '256 KiB');
    await page.click('form.filters button[type=submit]');
    await untilInPage(page, `document.querySelector('nav.pager')?.textContent.includes('1–1 of 1')`);
    expect(await page.textContent('table tbody tr')).toMatch(/freed.*29\d KiB/);
    await page.fill('#f-minSize', 'lots');
    await page.click('form.filters button[type=submit]');
    await page.waitForSelector('text=min size: give bytes');
  });

  it('fits the nodes table in 1280 px, and has a favicon', async () => {
    await open('/');
    await page.waitForSelector('.kind-edge');
    const wrap = await page.$eval('.card[aria-label=Nodes] .table-wrap', (w) => ({ scroll: w.scrollWidth, client: w.clientWidth }));
    expect(wrap.scroll).toBeLessThanOrEqual(wrap.client);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
    await page.screenshot({ path: join(SHOTS, 'dashboard-overview-1280.png'), fullPage: true });
    const href = await page.getAttribute('link[rel=icon]', 'href');
    const icon = await page.evaluate(`fetch(${JSON.stringify(href)}).then((r) => r.status + ' ' + r.headers.get('content-type'))`);
    expect(icon).toBe('200 image/svg+xml');
    const ico = await fetch(`${cl.url}/favicon.ico`);
    expect(ico.status).toBe(200);
  });

  it('the editor: Tab indents, Escape then Tab leaves, line numbers, and an edited example is renamed', async () => {
    await open('/submit');
    await page.selectOption('#example', 'pi');
    expect(await page.inputValue('#job-name')).toBe('Monte Carlo π');
    const lines = await page.$eval('#source', (t) => (t as HTMLTextAreaElement).value.split('\n').length);
    expect(await page.$eval('.gutter', (g) => g.textContent.split('\n').length)).toBe(lines);
    await page.focus('#source');
    await page.$eval('#source', (t) => (t as HTMLTextAreaElement).setSelectionRange(0, 0));
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).toBe('source');
    expect(await page.$eval('#source', (t) => (t as HTMLTextAreaElement).value.startsWith('  // Monte Carlo'))).toBe(true);
    expect(await page.inputValue('#job-name')).toBe('my job');
    await page.keyboard.press('Shift+Tab');
    expect(await page.$eval('#source', (t) => (t as HTMLTextAreaElement).value.startsWith('// Monte Carlo'))).toBe(true);
    expect(await page.inputValue('#job-name')).toBe('Monte Carlo π'); // the example's code again
    await page.keyboard.press('Enter');
    expect(await page.$eval('.gutter', (g) => g.textContent.split('\n').length)).toBe(lines + 1);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).not.toBe('source');
    await page.screenshot({ path: join(SHOTS, 'dashboard-editor.png') });
  });

  it('says "token rejected" for a wrong #token=', async () => {
    const p = await b.newPage();
    await p.goto(`${cl.url}/dashboard#token=not-the-token`);
    await p.waitForSelector('text=Token rejected');
    expect(await p.isVisible('#token')).toBe(true);
    await p.close();
  });

  it('failed, cancelled and empty jobs never read 100%; cancelled has its own colour', async () => {
    const failed = await submit(
      cl,
      `const ok = mesh.remote(function ok(i) { return i; });
       const bad = mesh.remote(function bad() { throw new RangeError('on purpose'); });
       await mesh.get(Array.from({ length: 6 }, (_, i) => ok.remote(i)));
       return await mesh.get(bad.remote());`,
      'fails on purpose',
    );
    const empty = await submit(cl, `return 42;`, 'no tasks');
    const cancelled = await submit(
      cl,
      `const nap = mesh.remote(async function nap() { await new Promise((r) => setTimeout(r, 60000)); }); await mesh.get([nap.remote(), nap.remote()]);`,
      'cancel me',
    );
    await cl.until(
      () => (cl.c.coordinator.gcs.jobs.get(cancelled as never)?.counts.submitted ?? 0) === 2,
      30_000,
      () => 'the naps to be submitted',
    );
    await call(cl, 'DELETE', `/api/jobs/${cancelled}`);
    for (const id of [failed, empty, cancelled]) await ended(cl, id);

    const progress = async (id: string) => {
      await open(`/jobs/${id}`);
      await untilInPage(page, `document.querySelector('.job-title .badge')?.textContent !== 'running'`);
      return (await page.textContent('[data-testid=progress-text]'))!;
    };
    const f = await progress(failed);
    expect(f).toMatch(/^failed · 6 done \/ 7 tasks/);
    await page.screenshot({ path: join(SHOTS, 'dashboard-job-failed.png'), fullPage: true });
    expect(await progress(empty)).toMatch(/^no tasks · 0 done \/ 0 tasks/);
    const c = await progress(cancelled);
    expect(c).toMatch(/^cancelled · 0 done \/ 2 tasks .* 2 cancelled$/);
    await page.screenshot({ path: join(SHOTS, 'dashboard-job-cancelled.png') });
    // The bar's cancelled part, the badge and the task graph share one colour.
    // One expression: the head is redrawn live, so an element handle may be detached by the time it is read.
    const colour = (sel: string, prop: string) =>
      page.evaluate(`getComputedStyle(document.querySelector(${JSON.stringify(sel)})).getPropertyValue(${JSON.stringify(prop)})`);
    const amber = await colour('.job-title .badge.st-cancelled', 'background-color');
    expect(await colour('.progress-cancelled', 'background-color')).toBe(amber);
    for (const id of [failed, empty, cancelled]) {
      await open('/jobs');
      await untilInPage(page, `!!document.querySelector('a[href="#/jobs/${id}"]')`);
      const cell = await page.$eval(`tr:has(a[href="#/jobs/${id}"]) .progress-cell`, (e) => e.textContent);
      expect(cell).not.toMatch(/100%/);
    }
    await page.screenshot({ path: join(SHOTS, 'dashboard-jobs.png'), fullPage: true });
  });

  it("a driver session's page shows its first failed task and how the session ended", async () => {
    const mesh = await connect({ url: cl.url, token: cl.token });
    const bad = mesh.remote(function bad() {
      throw new RangeError('no luck');
    });
    await expect(mesh.get(bad.remote())).rejects.toThrow(/no luck/);
    const id = mesh.jobId;
    await mesh.close();
    await open(`/jobs/${id}`);
    await untilInPage(page, `!!document.querySelector('[data-testid=ended]')`);
    expect(await page.textContent('[data-testid=error]')).toBe('first failed task bad: RangeError: no luck');
    expect(await page.textContent('[data-testid=ended]')).toBe('Ended: its driver closed the session.');
    await page.screenshot({ path: join(SHOTS, 'dashboard-driver-session.png') });
  });

  it('says the coordinator is down instead of showing stale numbers', async () => {
    await open('/');
    await page.waitForSelector('.stats');
    await cl.stop();
    stopped = true;
    await page.waitForSelector('[data-testid=coordinator-down]:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('[data-testid=coordinator-down]')).toMatch(/coordinator at .* is not reachable/);
    expect(await page.isHidden('main')).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'dashboard-coordinator-down.png') });
  });
});
