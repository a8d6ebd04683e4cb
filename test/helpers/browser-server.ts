// One Chromium for the whole vitest run (issue 14, session 36), a vitest globalSetup: a launch cost ~3 CPU-seconds
// under load and ~30 test files each launched their own (more than one for the files that launch a case). The run's
// main process serves a loopback URL; the first worker to ask launches Chromium (playwright's launchServer) and every
// ask gets its wsEndpoint, so a run with no browser file (test/unit alone) launches none. launchBrowser
// (browser.ts) connects and opens a context of its own, and its close closes that context (and its renderers).
// Should Chromium die, the next ask launches another.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserServer } from 'playwright-core';
import type { TestProject } from 'vitest/node';
import { CHROMIUM_LAUNCH } from '../../bench/chromium.js';
import { treePids } from '../../bench/cpu.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** GET answers the shared Chromium's wsEndpoint (launching it at the first ask). */
    tabmeshBrowser?: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  // Projects that extend the root config inherit this file: the root's run serves them all (they inherit its provide).
  if (!project.isRootProject()) return undefined;
  let server: Promise<BrowserServer> | undefined;
  let launches = 0;
  const seen: number[] = []; // Chromium's process count at each ask: renderers a closed context left would pile up
  const launch = (): Promise<BrowserServer> => {
    launches++;
    const p = chromium.launchServer(CHROMIUM_LAUNCH);
    const forget = () => {
      if (server === p) server = undefined;
    };
    p.then((s) => s.on('close', forget), forget);
    return p;
  };
  const http = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/ws') {
      res.writeHead(404).end();
      return;
    }
    (server ??= launch()).then(
      (s) => {
        const pid = s.process().pid;
        if (pid !== undefined) seen.push(treePids(pid).length);
        res.end(s.wsEndpoint());
      },
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  project.provide('tabmeshBrowser', `http://127.0.0.1:${(http.address() as AddressInfo).port}/ws`);
  return async () => {
    http.close();
    const s = await server?.catch(() => undefined);
    if (!s) return;
    const pid = s.process().pid;
    const left = pid === undefined ? 0 : treePids(pid).length;
    console.log(
      `shared Chromium: ${launches} launch(es), ${seen.length} contexts asked for; its processes at each ask ${Math.min(...seen)}-${Math.max(...seen)}, at the end ${left}`,
    );
    await s.close();
  };
}
