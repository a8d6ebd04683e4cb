// Volunteer tabs in the benches: Chromium's flags, the coordinator's node
// list, and a tab opened on the volunteer page until the coordinator has it
// (the benches' twin of test/browser/volunteers.ts, against a child-process coordinator).
import type { BrowserContext, Page } from 'playwright-core';
import type { BenchCluster } from './cluster.js';
import { log, sleep } from './figures.js';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** GET /api/nodes: the mesh's nodes with their kind. */
export async function nodesOf(cl: BenchCluster): Promise<{ id: string; kind: string }[]> {
  const res = await fetch(new URL('/api/nodes', cl.url), { headers: { authorization: `Bearer ${cl.token}` } });
  return (await res.json()) as { id: string; kind: string }[];
}

/** Opens the volunteer page with `query` and waits until the page shows a node id the coordinator lists. */
export async function openTab(ctx: BrowserContext, cl: BenchCluster, query: string, timeoutMs = 30_000): Promise<{ page: Page; id: string }> {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => log(`tab error: ${e.message}`));
  await page.goto(`${cl.url}/?${query}`);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const id = (await page.evaluate('document.body.dataset.nodeId')) as string;
    if (id && (await nodesOf(cl)).some((n) => n.id === id)) return { page, id };
    if (Date.now() > end) throw new Error(`a tab (${query}) did not join within ${timeoutMs} ms`);
    await sleep(100);
  }
}
