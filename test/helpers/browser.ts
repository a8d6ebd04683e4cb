// Real Chromium (Debian's) through playwright-core, with the flags this machine needs. In a vitest run, one Chromium
// serves every file (browser-server.ts, the run's global setup) and a browser here is a fresh context of it; without
// that setup, a Chromium of its own with a fresh profile.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { CHROMIUM_LAUNCH } from '../../bench/chromium.js';

export { CHROMIUM_FLAGS } from '../../bench/chromium.js';

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

interface BrowserOpts {
  /** Pages served over https with a test's self-signed certificate load. */
  ignoreHTTPSErrors?: boolean;
}

/** The shared Chromium's wsEndpoint, from the run's launcher (which launches it at the first ask). */
function sharedEndpoint(launcher: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(launcher, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        res.statusCode === 200 && body.startsWith('ws://') ? resolve(body) : reject(new Error(`shared Chromium: ${res.statusCode} ${body}`)),
      );
    }).on('error', reject);
  });
}

/**
 * A browser for a test file (or a case): a new context of the run's shared Chromium, isolated from the other files'
 * contexts as two profiles are (its own storage: cookies, localStorage, IndexedDB); its close closes the context and
 * its pages' renderers. Without the run's launcher (another config), a Chromium of its own.
 */
export async function launchBrowser(opts: BrowserOpts = {}): Promise<TestBrowser> {
  const launcher = inject('tabmeshBrowser');
  if (launcher === undefined) return launchOwnBrowser(opts);
  const browser: Browser = await chromium.connect(await sharedEndpoint(launcher));
  const context = await browser.newContext({ ignoreHTTPSErrors: opts.ignoreHTTPSErrors === true }).catch(async (e: unknown) => {
    await browser.close();
    throw e;
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      await browser.close(); // disconnects; the shared Chromium stays
    },
  };
}

/** A Chromium of its own with a fresh profile (a persistent context), closed by close(). */
export async function launchOwnBrowser(opts: BrowserOpts = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'tabmesh-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { ...CHROMIUM_LAUNCH, ignoreHTTPSErrors: opts.ignoreHTTPSErrors === true });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a browser while `start` (a cluster's start, say) runs: the context (or, the first time in a run, Chromium's
 * launch) overlaps the coordinator's and its nodes' start. Neither is left running when the other fails.
 */
export async function withBrowser<T extends { stop(): Promise<void> }>(start: Promise<T>, opts: BrowserOpts = {}): Promise<[T, TestBrowser]> {
  const [a, b] = await Promise.allSettled([start, launchBrowser(opts)]);
  if (a.status === 'fulfilled' && b.status === 'fulfilled') return [a.value, b.value];
  if (a.status === 'fulfilled') await a.value.stop().catch(() => {});
  if (b.status === 'fulfilled') await b.value.close().catch(() => {});
  throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
}

/** Polls an expression in the page until it is truthy (the dashboard's CSP forbids eval, so no page.waitForFunction with a string). */
export async function untilInPage(page: Page, expr: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await page.evaluate(expr))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${expr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
