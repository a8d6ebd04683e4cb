// The dashboard in real Chromium, with two volunteer tabs as the mesh: run
// each example workload from the editor, follow it to 100% and its result;
// the task graph, the timeline and the trace export; Cancel; a dashboard that
// loses its socket catches up to what a fresh one shows. Screenshots go to
// test-results/.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, untilInPage, withBrowser } from '../helpers/browser.js';
import { Cluster, ROOT } from '../helpers/cluster.js';
import { openVolunteers } from '../browser/volunteers.js';
import { mandelbrotTileJs, mandelbrotWasm, tileArgs } from '../../shared/examples/mandelbrot.js';

const SHOTS = join(ROOT, 'test-results');

async function openDashboard(b: TestBrowser, cl: Cluster): Promise<Page> {
  const page = await b.newPage();
  await page.setViewportSize({ width: 1440, height: 960 });
  await page.goto(`${cl.url}/dashboard#token=${encodeURIComponent(cl.token)}`);
  await page.waitForSelector('.conn-live', { timeout: 30_000 });
  return page;
}

/** Runs an example from the editor; returns the job id once its page shows a result or an error. */
async function runExample(page: Page, example: string, opts: { keyboard?: boolean } = {}): Promise<string> {
  await page.goto(page.url().replace(/#.*$/, '#/submit'));
  await page.waitForSelector('#example');
  await page.selectOption('#example', example);
  if (opts.keyboard) {
    await page.focus('#source');
    await page.keyboard.press('Control+Enter');
  } else {
    await page.click('#run');
  }
  await page.waitForURL(/#\/jobs\/[0-9a-f]{16}$/, { timeout: 30_000 });
  return /#\/jobs\/([0-9a-f]{16})/.exec(page.url())![1];
}

async function outcome(page: Page): Promise<{ result: unknown; progress: string }> {
  await page.waitForSelector('[data-testid=result], [data-testid=error]', { timeout: 90_000 });
  const err = await page.$('[data-testid=error]');
  if (err) throw new Error(`the job failed: ${await err.textContent()}`);
  // Progress can trail the result by one live update.
  await untilInPage(page, `document.querySelector('[data-testid=progress-text]')?.textContent.startsWith('100%')`, 30_000);
  return {
    result: JSON.parse((await page.textContent('[data-testid=result]'))!),
    progress: (await page.textContent('[data-testid=progress-text]'))!,
  };
}

describe('the dashboard', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let page: Page;
  let treeJob = '';

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    // Two executors a tab: an actor holds one for its life.
    await openVolunteers(cl, b, [{ cpus: 2 }, { cpus: 2 }]);
    page = await openDashboard(b, cl);
  }, 120_000);
  afterAll(async () => {
    await b?.close();
    await cl?.stop();
  });

  it('asks for a token without one, and refuses a wrong one', async () => {
    const p = await b.newPage();
    await p.goto(`${cl.url}/dashboard`);
    await p.waitForSelector('#token');
    await p.fill('#token', 'wrong');
    await p.press('#token', 'Enter');
    await p.waitForSelector('text=Token rejected');
    await p.close();
  });

  it('shows both volunteer tabs on the overview', async () => {
    await untilInPage(page, `document.querySelectorAll('.kind-browser').length === 2`, 30_000);
    expect(await page.textContent('.stats')).toMatch(/2 tabs/);
  });

  it('runs Monte Carlo π from the editor to 100% and π', async () => {
    await runExample(page, 'pi');
    const { result, progress } = await outcome(page);
    expect(progress).toMatch(/^100% · 16 done \/ 16 tasks/);
    expect(Math.abs((result as { pi: number }).pi - Math.PI)).toBeLessThan(0.01);
    await page.screenshot({ path: join(SHOTS, 'dashboard-job.png') });
  });

  it("declares a job's WebAssembly and module files in the Submit view; its tasks compile and import them", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabmesh-submit-env-'));
    const kernel = join(dir, 'kernel.wasm');
    const helper = join(dir, 'helper.mjs');
    writeFileSync(kernel, mandelbrotWasm());
    writeFileSync(helper, 'export const twice = (x) => 2 * x;\n');
    const args = [...tileArgs(5, 4, 16), 60];
    await page.goto(page.url().replace(/#.*$/, '#/submit'));
    await page.waitForSelector('#job-wasm');
    await page.fill(
      '#source',
      `const f = mesh.remote(async function f(args) {
        const { twice } = await mesh.import('helper');
        const { exports } = await WebAssembly.instantiate(await mesh.wasm('kernel'), {});
        return [twice(21), exports.tile(...args)];
      });
      return await mesh.get(f.remote(${JSON.stringify(args)}));`,
    );
    await page.setInputFiles('#job-wasm', kernel);
    await page.setInputFiles('#job-modules', helper);
    await page.click('#run');
    await page.waitForURL(/#\/jobs\/[0-9a-f]{16}$/, { timeout: 30_000 });
    const { result } = await outcome(page);
    expect(result).toEqual([42, mandelbrotTileJs(...(args as Parameters<typeof mandelbrotTileJs>))]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the MapReduce word count', async () => {
    await runExample(page, 'wordcount');
    const { result, progress } = await outcome(page);
    expect(progress).toMatch(/^100%/);
    expect(result).toMatchObject({ words: 312 });
    expect((result as { top: [string, number][] }).top[0]).toEqual(['the', 72]);
  });

  it('runs the tree reduction by keyboard (Ctrl+Enter), and draws its task graph and timeline', async () => {
    treeJob = await runExample(page, 'tree', { keyboard: true });
    const { result, progress } = await outcome(page);
    expect(result).toEqual({ sum: (4096 * 4097) / 2 });
    expect(progress).toMatch(/^100% · 127 done \/ 127 tasks/);
    await page.click('a[role=tab][href$="/graph"]');
    await untilInPage(page, `document.querySelectorAll('svg.dag circle').length === 127`, 30_000);
    expect(await page.$$eval('svg.dag circle.fill-finished', (c) => c.length)).toBe(127);
    expect(await page.$$eval('svg.dag path.edge-data', (e) => e.length)).toBe(126);
    await page.screenshot({ path: join(SHOTS, 'dashboard-dag.png'), fullPage: true });
    await page.click('a[role=tab][href$="/timeline"]');
    await untilInPage(page, `document.querySelectorAll('svg.timeline rect.span').length === 127`, 30_000);
    // Two tabs of two executors: four rows.
    expect(await page.$$eval('svg.timeline .rowlabel', (l) => l.length)).toBe(4);
    await page.screenshot({ path: join(SHOTS, 'dashboard-timeline.png') });
  });

  it('exports the timeline as Chrome trace JSON', async () => {
    const download = page.waitForEvent('download');
    await page.click('button:has-text("Export trace")');
    // saveAs, not path(): the browser is the run's shared one, reached over playwright's protocol (a path on its side
    // is not readable here).
    const dir = mkdtempSync(join(tmpdir(), 'tabmesh-trace-'));
    const file = join(dir, 'trace.json');
    await (await download).saveAs(file);
    const text = readFileSync(file, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    const trace = JSON.parse(text) as { traceEvents: { ph: string; name: string; ts: number; dur: number; pid: number; tid: number }[] };
    const bars = trace.traceEvents.filter((e) => e.ph === 'X');
    expect(bars).toHaveLength(127);
    expect(new Set(bars.map((e) => e.name))).toEqual(new Set(['sumBlock', 'add']));
    for (const e of bars) expect(Number.isFinite(e.ts) && e.dur > 0 && e.pid > 0 && e.tid > 0).toBe(true);
    expect(trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name')).toHaveLength(2); // the two tabs
  });

  it('runs the parameter server with an actor', async () => {
    await runExample(page, 'paramserver');
    const { result } = await outcome(page);
    expect(result).toEqual({ weights: [1, 2, 3, 4] });
  }, 120_000);

  it('cancels a long job and its tasks', async () => {
    const id = await runExample(page, 'long');
    await untilInPage(page, `/[1-9]\\d* running/.test(document.querySelector('[data-testid=progress-text]')?.textContent ?? '')`, 30_000);
    await page.click('button:has-text("Cancel")');
    await page.waitForSelector('.job-title .badge.st-cancelled', { timeout: 30_000 });
    expect(cl.c.observability.runner.jobs.get(id as never)?.status).toBe('cancelled');
    await cl.until(
      () => [...cl.c.coordinator.gcs.nodes.values()].every((n) => n.inflightTasks === 0),
      30_000,
      () => 'the tabs to be free',
    );
  });

  it('lists jobs and tables by keyboard', async () => {
    await page.goto(page.url().replace(/#.*$/, '#/jobs'));
    await page.reload();
    await page.waitForSelector('table.jobs tbody tr');
    expect(await page.$$eval('table.jobs tbody tr', (r) => r.length)).toBeGreaterThanOrEqual(5);
    // Skip link first, then the sections.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.getAttribute("href")')).toBe('#/jobs');
    await page.goto(page.url().replace(/#.*$/, `#/tasks/${treeJob}`));
    await page.waitForSelector('nav.pager');
    expect(await page.textContent('nav.pager')).toMatch(/1–50 of 127/);
    await page.click('button:has-text("Next →")');
    await untilInPage(page, `document.querySelector('nav.pager').textContent.includes('51–100 of 127')`);
  });

  it('a dashboard that loses its socket reconnects and shows the same state as a fresh one', async () => {
    await page.goto(page.url().replace(/#.*$/, '#/jobs'));
    await page.evaluate('window.tabmesh.before = window.tabmesh.live.received; window.tabmesh.live.drop()');
    // Back live, with the diff received on the new socket.
    await untilInPage(page, `window.tabmesh.live.status === 'live' && window.tabmesh.live.received > window.tabmesh.before`);
    const fresh = await openDashboard(b, cl);
    const state = `JSON.stringify(['jobs', 'actors', 'logs'].map((k) => window.tabmesh.live.doc.getMap(k).toJSON()))`;
    // Every job has ended: once both have caught up, the documents' jobs, actors and logs agree.
    await untilInPage(fresh, `window.tabmesh.live.synced`);
    let a = '';
    let f = '';
    const end = Date.now() + 20_000;
    do {
      [a, f] = (await Promise.all([page.evaluate(state), fresh.evaluate(state)])) as string[];
      if (a === f) break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < end);
    expect(a).toBe(f);
    // Some throughput for the overview's screenshot: a few seconds of small batches. Its check (`svg.chart path`) needs
    // only two samples of the series, which the coordinator takes all along; 50 tasks a batch (300 until session 35)
    // still draw a bump, with a sixth of the tasks through both tabs and both dashboards' live updates.
    const busy = await cl.driver();
    const noop = busy.remote(function noop() {});
    for (let i = 0; i < 12; i++) {
      await busy.get(Array.from({ length: 50 }, () => noop.remote()));
      await new Promise((r) => setTimeout(r, 250));
    }
    await fresh.goto(fresh.url().replace(/#.*$/, '#/'));
    await fresh.waitForSelector('svg.chart path');
    await fresh.screenshot({ path: join(SHOTS, 'dashboard-overview.png'), fullPage: true });
    await fresh.goto(fresh.url().replace(/#.*$/, '#/submit'));
    await fresh.waitForSelector('#source');
    await fresh.screenshot({ path: join(SHOTS, 'dashboard-submit.png') });
  });
});
