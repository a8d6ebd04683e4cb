// The dashboard's Tasks list (#/tasks: the recent tasks across jobs) in real Chromium, with task groups on (their
// default, issue 14 session 28): a grouped job that just ended shows its members on the first page, as the tasks
// they are (most recent first, after older ended tasks), not after every ended task. A coordinator, one edge node
// with 2 executors, two drivers. A screenshot goes to test-results/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, untilInPage, withBrowser } from '../helpers/browser.js';
import { Cluster, ROOT } from '../helpers/cluster.js';
import { plainThenSquares } from './helpers.js';

const SHOTS = join(ROOT, 'test-results');

describe("the dashboard's Tasks list with task groups", () => {
  let cl: Cluster;
  let b: TestBrowser;
  let page: Page;

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
    await cl?.stop();
  });

  it("shows a grouped job's members that just ended on its first page, as tasks: name, state, job, node, run time", async () => {
    // Older: 60 plain tasks (groups off), then 500 grouped squares (one group), each ended and freed.
    const { m, ids, groups } = await plainThenSquares(cl);
    expect(groups).toBe(1);

    await page.goto(`${cl.url}/dashboard#/tasks`);
    await page.waitForSelector('nav.pager');
    await untilInPage(page, `document.querySelector('nav.pager').textContent.includes('1–50 of 560')`);
    const rows = await page.$$eval('main table tbody tr', (trs) =>
      trs.map((tr) => {
        const td = [...tr.querySelectorAll('td')];
        return {
          id: td[0].querySelector('[title]')?.getAttribute('title') ?? '',
          name: td[1].textContent,
          state: td[2].textContent,
          job: td[3].textContent,
          node: td[4].querySelector('[title]')?.getAttribute('title') ?? null,
          ran: td[7].textContent,
        };
      }),
    );
    await page.screenshot({ path: join(SHOTS, 'dashboard-tasks-groups.png'), fullPage: true });
    expect(rows).toHaveLength(50);
    const nodeId = [...cl.c.coordinator.gcs.nodes.keys()][0];
    for (const r of rows) {
      expect(ids.has(r.id)).toBe(true);
      expect(r).toMatchObject({ name: 'sq', state: 'finished', job: m.jobId, node: nodeId });
      expect(r.ran).toMatch(/^\d+ ms$/); // whole ms (a member's start is its end less a fractional measure)
    }
    // The older plain tasks follow the members (pages 11 and 12).
    await page.click('button:has-text("Next →")');
    await untilInPage(page, `document.querySelector('nav.pager').textContent.includes('51–100 of 560')`);
    expect(await page.$$eval('main table tbody tr td:nth-child(2)', (tds) => tds.every((td) => td.textContent === 'sq'))).toBe(true);
  });
});
