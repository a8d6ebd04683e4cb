// Volunteer tabs in the benches: Chromium's flags, the coordinator's node
// list, and a tab opened on the volunteer page until the coordinator has it
// (the benches' twin of test/browser/volunteers.ts, against a child-process coordinator).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { WebSocket } from 'ws';
import type { BenchCluster } from './cluster.js';
import { CHROMIUM_FLAGS } from './chromium.js';
import { log, sleep } from './figures.js';

export { CHROMIUM_FLAGS };

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

/**
 * Volunteer tabs in Chromium processes no DevTools client is attached to, one
 * a process (headless Chromium opens one page of its command line), joined.
 * Playwright keeps the DevTools Network domain on, which copies every
 * WebSocket frame, base64, to its client: a parameter-server round on
 * WebSocket links cost Chromium 690-850 ms of CPU under it and 229-268 bare
 * (issue 17, session 11). WebRTC messages are not reported there. For figures
 * of WebSocket links; the pages cannot be scripted.
 */
export async function openBareTabs(
  cl: BenchCluster,
  queries: string[],
  opts: { debugPort?: boolean; timeoutMs?: number } = {},
): Promise<{ close(): Promise<void>; profiles: string[] }> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const before = (await nodesOf(cl)).length;
  const profiles = queries.map(() => mkdtempSync(join(tmpdir(), 'tabmesh-bench-chromium-')));
  // `debugPort`: a DevTools port (its number in the profile's DevToolsActivePort) for a client of the caller's own.
  const extra = opts.debugPort ? ['--remote-debugging-port=0'] : [];
  const procs = queries.map((q, i) =>
    // Its own process group: closing ends the browser and its helpers together.
    spawn('/usr/bin/chromium', ['--headless', ...CHROMIUM_FLAGS, ...extra, `--user-data-dir=${profiles[i]}`, `${cl.url}/?${q}`], {
      stdio: 'ignore',
      detached: true,
    }),
  );
  const groupAlive = (pid: number) => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const close = async () => {
    for (const p of procs) if (p.pid !== undefined && groupAlive(p.pid)) process.kill(-p.pid, 'SIGTERM');
    // Helpers write into the profile until they are gone.
    for (let t = 0; t < 50 && procs.some((p) => p.pid !== undefined && groupAlive(p.pid)); t++) await sleep(100);
    for (const d of profiles) {
      try {
        rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      } catch (e) {
        log(`left ${d}: ${(e as Error).message}`);
      }
    }
  };
  const end = Date.now() + timeoutMs;
  while ((await nodesOf(cl)).length < before + queries.length) {
    if (Date.now() > end) {
      await close();
      throw new Error(`${queries.length} bare tabs did not join within ${timeoutMs} ms`);
    }
    await sleep(100);
  }
  return { close, profiles };
}

/** A DevTools client of our own on a bare tab. */
export interface CdpSession {
  send(method: string, params?: object): Promise<unknown>;
  close(): void;
}

/**
 * Attaches to the page of the bare tab whose Chromium profile is `dir`
 * (openBareTabs with `debugPort`). Only the domains the caller enables are on
 * (never Network: no WebSocket frame is copied to this client).
 */
export async function cdpSession(dir: string): Promise<CdpSession> {
  const port = readFileSync(join(dir, 'DevToolsActivePort'), 'latin1').split('\n')[0];
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(targets.find((x) => x.type === 'page')!.webSocketDebuggerUrl);
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  let next = 1;
  const waiting = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    const w = m.id ? waiting.get(m.id) : undefined;
    if (!w) return;
    waiting.delete(m.id!);
    if (m.error) w.fail(new Error(m.error.message));
    else w.ok(m.result);
  });
  return {
    send: (method, params = {}) =>
      new Promise<unknown>((ok, fail) => {
        const id = next++;
        waiting.set(id, { ok, fail });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Evaluates `expr` in a bare tab's page (awaiting a promise), its value by JSON; throws what the page threw. */
export async function evaluateIn(s: CdpSession, expr: string): Promise<unknown> {
  const r = (await s.send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true })) as {
    result: { value?: unknown };
    exceptionDetails?: { text: string; exception?: { description?: string } };
  };
  if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? r.exceptionDetails.text);
  return r.result.value;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self ms by function of a CDP profile, the `top` largest. */
export function selfTimes(p: { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[] }, top: number): [string, number][] {
  const n = p.samples?.length ?? 0;
  const perSample = n ? (p.endTime - p.startTime) / 1000 / n : 0;
  const by = new Map<string, number>();
  for (const node of p.nodes) {
    const f = node.callFrame;
    const k = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    by.set(k, (by.get(k) ?? 0) + (node.hitCount ?? 0) * perSample);
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, top);
}

export type Profile = Parameters<typeof selfTimes>[0];

/** Starts the CPU profiler of the page of the Chromium whose profile folder is `dir`; the returned function stops it. */
export async function startProfiler(dir: string): Promise<() => Promise<Profile>> {
  const s = await cdpSession(dir);
  await s.send('Profiler.enable');
  await s.send('Profiler.setSamplingInterval', { interval: 500 });
  await s.send('Profiler.start');
  return async () => {
    const { profile } = (await s.send('Profiler.stop')) as { profile: Profile };
    s.close();
    return profile;
  };
}
