// Real Chromium (Debian's) through playwright-core, with the flags this
// machine needs and a fresh profile per browser.
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** `ignoreHTTPSErrors`: pages served over https with a test's self-signed certificate load. */
export async function launchBrowser(opts: { ignoreHTTPSErrors?: boolean } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'tabmesh-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    ignoreHTTPSErrors: opts.ignoreHTTPSErrors === true,
  });
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
 * Starts a browser while `start` (a cluster's start, say) runs: Chromium's launch, ~1-2 CPU-seconds, overlaps the
 * coordinator's and its nodes' start. Neither is left running when the other fails.
 */
export async function withBrowser<T extends { stop(): Promise<void> }>(
  start: Promise<T>,
  opts: { ignoreHTTPSErrors?: boolean } = {},
): Promise<[T, TestBrowser]> {
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
