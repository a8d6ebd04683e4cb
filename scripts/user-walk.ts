// A user's walk through a running mesh, as the README tells a user to run one (`npm start`): two Chromium processes
// with a volunteer tab each, the dashboard open, jobs of several kinds through the public API and `tabmesh submit`,
// a volunteer tab closed mid-job. It prints one line per check and exits 1 if any failed; the sessions' closing
// checks run it on a fresh clone (README "Check it as a user"). Needs Debian's Chromium; peer links need the
// network namespace (`sh scripts/in-netns.sh ...` around both the coordinator and this).
//
//   node dist/scripts/user-walk.js --url http://127.0.0.1:8080 --token T [--rounds 5] [--nested 0]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect } from '../edge/index.js';
import { CHROMIUM_LAUNCH } from '../bench/chromium.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    token: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    nested: { type: 'string', default: '0' },
  },
});
const URL_ = args.url;
const TOKEN = args.token ?? '';
const ROUNDS = Number(args.rounds);
const NESTED = Number(args.nested);
if (!TOKEN || !Number.isInteger(ROUNDS) || ROUNDS < 1 || !Number.isInteger(NESTED) || NESTED < 0) {
  console.error('usage: user-walk --url URL --token T [--rounds N>=1] [--nested N>=0]');
  process.exit(2);
}
const CLI = resolve(fileURLToPath(import.meta.url), '../../../bin/tabmesh.js');

let failed = 0;
let passed = 0;
function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
}

const problems: string[] = [];
function watch(page: Page, label: string): void {
  page.on('pageerror', (e) => problems.push(`${label}: page error ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error ${m.text()}`);
  });
}

async function api<T>(path: string): Promise<T> {
  const r = await fetch(`${URL_}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

async function until<T>(f: () => Promise<T | null | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function volunteer(b: Browser, label: string): Promise<{ page: Page; nodeId: string }> {
  const page = await b.newPage();
  watch(page, label);
  await page.goto(`${URL_}/?cpuShare=1`);
  const nodeId = await until(async () => (await page.evaluate('document.body.dataset.nodeId')) as string, 30_000, `${label} to join`);
  return { page, nodeId };
}

/** One round of the jobs a user writes: each `connect` is a job of its own. */
async function jobs(round: number): Promise<void> {
  const mesh = await connect({ url: URL_, token: TOKEN });
  try {
    const square = mesh.remote((x: number) => x * x);
    const xs = Array.from({ length: 200 }, (_, i) => i);
    const squares = await mesh.get(xs.map((x) => square.remote(x)));
    check(
      `round ${round}: 200 squares`,
      squares.every((v, i) => v === i * i),
    );

    const fib = mesh.remote(async function fib(n: number): Promise<number> {
      if (n < 2) return n;
      const f = mesh.remote(fib);
      const [a, b] = await mesh.get([f.remote(n - 1), f.remote(n - 2)]);
      return a + b;
    });
    check(`round ${round}: nested fib(12)`, (await mesh.get(fib.remote(12), { timeoutMs: 120_000 })) === 144);

    class Counter {
      n = 0;
      inc(by: number): number {
        return (this.n += by);
      }
    }
    const c = mesh.remote(Counter).remote();
    const counts = await mesh.get(Array.from({ length: 50 }, () => c.inc.remote(1)));
    check(
      `round ${round}: actor counter, 50 calls in order`,
      counts.every((v, i) => v === i + 1),
    );
    mesh.kill(c);

    const bytes = new Uint8Array(8 << 20).map((_, i) => i & 0xff);
    const big = mesh.put(bytes);
    const sum = mesh.remote((b: Uint8Array) => b.reduce((s, v) => s + v, 0));
    check(`round ${round}: 8 MiB object summed by a task`, (await mesh.get(sum.remote(big))) === bytes.reduce((s, v) => s + v, 0));

    const inc = mesh.remote((x: number) => x + 1);
    let ref = inc.remote(0);
    for (let i = 1; i < 20; i++) ref = inc.remote(ref);
    check(`round ${round}: a chain of 20 refs`, (await mesh.get(ref)) === 20);

    const boom = mesh.remote(function boom(): never {
      throw new RangeError('on purpose');
    });
    const err = await mesh.get(boom.remote()).then(
      () => null,
      (e: unknown) => e as { name?: string; remoteName?: string; message?: string },
    );
    check(`round ${round}: a throwing task's error reaches the driver`, err?.remoteName === 'RangeError' && /on purpose/.test(err.message ?? ''));

    const { ready, pending } = await mesh.wait(
      xs.slice(0, 10).map((x) => square.remote(x)),
      { numReturns: 10, timeoutMs: 60_000 },
    );
    check(`round ${round}: wait for 10`, ready.length === 10 && pending.length === 0);
  } finally {
    await mesh.close();
  }
}

async function submitJob(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tabmesh-walk-'));
  try {
    const file = join(dir, 'job.mjs');
    writeFileSync(
      file,
      "const sq = mesh.remote((x) => x * x);\nconst r = await mesh.get([1, 2, 3].map((x) => sq.remote(x)));\nconsole.log('squares', JSON.stringify(r));\n",
    );
    const out = await new Promise<{ code: number | null; text: string }>((done) => {
      const p = spawn(process.execPath, [CLI, 'submit', file, '--coordinator', URL_, '--token', TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d: Buffer) => (text += d.toString()));
      p.stderr.on('data', (d: Buffer) => (text += d.toString()));
      p.on('exit', (code) => done({ code, text }));
    });
    check('tabmesh submit: a job file runs and prints its result', out.code === 0 && out.text.includes('squares [1,4,9]'), out.text.trim().slice(-300));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A job of 400 short busy tasks with one volunteer tab closed while it runs: the results come back exact. */
async function closeMidJob(tab: Page): Promise<void> {
  const mesh = await connect({ url: URL_, token: TOKEN });
  try {
    const busy = mesh.remote((x: number) => {
      const end = Date.now() + 20;
      while (Date.now() < end);
      return x * 3;
    });
    const refs = Array.from({ length: 400 }, (_, i) => busy.remote(i));
    await mesh.wait(refs, { numReturns: 40, timeoutMs: 120_000 });
    await tab.close();
    const vals = await mesh.get(refs, { timeoutMs: 180_000 });
    check(
      'a volunteer tab closed mid-job: 400 results exact',
      vals.every((v, i) => v === i * 3),
    );
  } finally {
    await mesh.close();
  }
}

async function main(): Promise<void> {
  const browsers = [await chromium.launch(CHROMIUM_LAUNCH), await chromium.launch(CHROMIUM_LAUNCH)];
  try {
    const tabs = [await volunteer(browsers[0], 'tab A'), await volunteer(browsers[1], 'tab B')];
    check('two volunteer tabs joined', tabs[0].nodeId !== tabs[1].nodeId, tabs.map((t) => t.nodeId).join(', '));
    const dash = await browsers[0].newPage();
    watch(dash, 'dashboard');
    await dash.goto(`${URL_}/dashboard#token=${TOKEN}`);
    const nodes = await until(
      async () => {
        const list = await api<unknown[] | { nodes: unknown[] }>('/api/nodes');
        const n = Array.isArray(list) ? list.length : list.nodes.length;
        return n >= 3 ? n : null;
      },
      30_000,
      'three nodes listed',
    );
    check('the state API lists the local node and both tabs', nodes >= 3, `${nodes} nodes`);
    const shown = await until(
      async () => ((await dash.textContent('body')) ?? '').includes(tabs[0].nodeId.slice(0, 8)),
      30_000,
      'the dashboard to show tab A',
    ).catch(() => false);
    check("the dashboard shows tab A's node", shown);

    for (let r = 1; r <= ROUNDS; r++) await jobs(r);
    await submitJob();
    for (let i = 0; i < NESTED; i++) {
      const mesh = await connect({ url: URL_, token: TOKEN });
      try {
        const fib = mesh.remote(async function fib(n: number): Promise<number> {
          if (n < 2) return n;
          const f = mesh.remote(fib);
          const [a, b] = await mesh.get([f.remote(n - 1), f.remote(n - 2)]);
          return a + b;
        });
        const v = await mesh.get(fib.remote(10), { timeoutMs: 120_000 });
        if (v !== 55) check(`nested job ${i + 1}: fib(10)`, false, String(v));
        else passed++;
      } finally {
        await mesh.close();
      }
    }
    if (NESTED) console.log(`nested jobs: ${NESTED} run`);
    await closeMidJob(tabs[0].page);
    const jobsListed = await api<unknown[] | { jobs: unknown[] }>('/api/jobs');
    check('the state API lists the jobs', (Array.isArray(jobsListed) ? jobsListed : jobsListed.jobs).length >= ROUNDS);
    check('no page errors or console errors on the tabs and the dashboard', problems.length === 0, problems.slice(0, 5).join(' | '));
  } finally {
    await Promise.all(browsers.map((b) => b.close().catch(() => {})));
  }
  console.log(`user walk: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e: unknown) => {
  console.error('user walk failed:', e);
  process.exit(1);
});
