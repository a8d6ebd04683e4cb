// Helpers of the browser-node tests: volunteer tabs in real Chromium joined to
// an in-process coordinator.
import type { Page } from 'playwright-core';
import type { Cluster } from '../helpers/cluster.js';
import type { TestBrowser } from '../helpers/browser.js';
import { until } from '../helpers/poll.js';

export interface VolunteerTab {
  page: Page;
  nodeId: string;
}

/**
 * Opens the volunteer page (with URL overrides) and waits until its node joined.
 * Tests run tabs at a full CPU share unless they say otherwise (a page's own default is 50%).
 */
export async function openVolunteer(
  cl: Cluster,
  b: TestBrowser,
  params: Record<string, string | number> = {},
  /** The page's origin when not the coordinator's own: `localhost` gives a tab its own storage in a shared browser. */
  base = cl.url,
): Promise<VolunteerTab> {
  const page = await b.newPage();
  const q = new URLSearchParams(Object.entries({ cpuShare: 1, ...params }).map(([k, v]) => [k, String(v)]));
  await page.goto(`${base}/?${q}`);
  const nodeId = await joined(cl, page);
  return { page, nodeId };
}

/**
 * Opens one volunteer page per entry of `params` at once, each waiting for its own node to join (one after another
 * cost a page load and a join each, a few seconds under load); the tabs come back in the order of `params`.
 */
export function openVolunteers(cl: Cluster, b: TestBrowser, params: Array<Record<string, string | number>>): Promise<VolunteerTab[]> {
  return Promise.all(params.map((p) => openVolunteer(cl, b, p)));
}

/** Waits until the page shows a node id the coordinator knows. */
export async function joined(cl: Cluster, page: Page, notId?: string): Promise<string> {
  let id = '';
  return until(
    async () => {
      id = (await page.evaluate('document.body.dataset.nodeId')) as string;
      return id && id !== notId && cl.c.coordinator.gcs.nodes.has(id as never) ? id : null;
    },
    { timeoutMs: 30_000, everyMs: 100, what: () => `the volunteer page to join (node id ${JSON.stringify(id)})` },
  );
}

/** Tasks each node finished, by node id. */
export function tasksDone(cl: Cluster): Map<string, number> {
  return new Map([...cl.c.coordinator.gcs.nodes.values()].map((n) => [n.id as string, n.tasksDone]));
}

/** Evaluates an expression about the page's live volunteer (window.tabmeshVolunteer). */
export function volunteerEval<T>(page: Page, expr: string): Promise<T> {
  return page.evaluate(`(() => { const v = window.tabmeshVolunteer; return ${expr}; })()`) as Promise<T>;
}

/** What Chromium does to a background tab's timers, and what the page then sees. */
export const HIDDEN = `(() => {
  const st = window.setTimeout.bind(window), si = window.setInterval.bind(window);
  window.setTimeout = (f, ms, ...a) => st(f, Math.max(Number(ms) || 0, 1000), ...a);
  window.setInterval = (f, ms, ...a) => si(f, Math.max(Number(ms) || 0, 1000), ...a);
  Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
  Object.defineProperty(document, 'hidden', { get: () => true });
})()`;

/** Wraps the page's crypto.subtle.digest before the page loads: window.__digested counts the bytes digested on its main thread. */
export const COUNT_DIGESTS = `(() => {
  const s = crypto.subtle;
  const digest = s.digest.bind(s);
  window.__digested = 0;
  s.digest = (alg, data) => { window.__digested += data.byteLength; return digest(alg, data); };
})()`;
