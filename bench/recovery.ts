// Recovery benchmarks (issue 6), in one run:
//   (a) a MapReduce word count (64 chunks of ~1 MB) on 4 volunteer tabs, with
//       no faults (baseline) and with two tabs closed mid-job;
//   (b) time from an edge node's death (SIGKILL) to its first task running on
//       another node.
//
//   npm run build && npm run bench:recovery
//
// stdout: one JSON line per figure; stderr: diagnostics.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { connect, type Mesh } from '../edge/index.js';
import { countLocally, makeChunks, submitWordCount } from './wordcount.js';
import { emit, figure, log, nowMs, percentile, pollStats, round, startCluster, type BenchCluster, runBench } from './harness.js';
import { CHROMIUM_FLAGS } from './tabs.js';

const TABS = 4;
const DEATHS = 3;

interface TaskView {
  id: string;
  name: string;
  state: string;
  node: string | null;
  attempt: number;
  startedAt: number;
}

async function api<T>(cl: BenchCluster, path: string): Promise<T> {
  const r = await fetch(`${cl.url}${path}`, { headers: { authorization: `Bearer ${cl.token}` } });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return (await r.json()) as T;
}

async function until<T>(f: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function same(a: Map<string, number>, b: Map<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

async function wordCount(
  cl: BenchCluster,
  m: Mesh,
  chunks: ReturnType<Mesh['put']>[],
  expected: Map<string, number>,
  faults?: (pages: Page[]) => Promise<void>,
  pages?: Page[],
): Promise<number> {
  const t = nowMs();
  const reduces = submitWordCount(m, chunks as never);
  const closing = faults?.(pages!);
  const parts = await m.get(reduces, { timeoutMs: 300_000 });
  const ms = nowMs() - t;
  await closing;
  const got = new Map<string, number>();
  for (const p of parts) for (const [w, n] of p) got.set(w, (got.get(w) ?? 0) + n);
  if (!same(got, expected)) throw new Error('word counts differ from the single-process count');
  m.free(reduces);
  void cl;
  return ms;
}

async function main(): Promise<void> {
  let cl: BenchCluster | null = null;
  let mesh: Mesh | null = null;
  let ctx: BrowserContext | null = null;
  const profile = mkdtempSync(join(tmpdir(), 'tabmesh-bench-chromium-'));
  try {
    // ---------------------------------------------------------------- (a)
    log('(a) MapReduce word count on 4 tabs: no faults, then two tabs closed mid-job');
    const text = makeChunks();
    const expected = countLocally(text);
    cl = await startCluster({ nodes: 0 });
    ctx = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS });
    const openTab = async () => {
      const p = await ctx!.newPage();
      await p.goto(`${cl!.url}/?cpus=1&cpuShare=1&paused=false`);
      return p;
    };
    const pages: Page[] = [];
    for (let i = 0; i < TABS; i++) pages.push(await openTab());
    const c0 = cl;
    if (!(await pollStats(c0.url, c0.token, (s) => s.nodes >= TABS, { timeoutMs: 60_000, everyMs: 100 })).met) throw new Error('tabs did not join');
    mesh = await connect({ url: cl.url, token: cl.token });
    const m = mesh;
    const chunks = text.map((x) => m.put(x));
    // Warm-up: every tab has the chunks it fetches cached after this, in both runs alike.
    await wordCount(cl, m, chunks, expected);
    const base = await wordCount(cl, m, chunks, expected);
    log(`no faults: ${round(base)} ms`);
    const c = cl;
    const faulted = await wordCount(
      c,
      m,
      chunks,
      expected,
      async (p) => {
        const before = (await api<Record<string, number>>(c, '/api/stats')).tasksFinished;
        await until(async () => (await api<Record<string, number>>(c, '/api/stats')).tasksFinished >= before + 16 && true, 120_000, 'maps to progress');
        await p[0].close();
        log('closed tab 1 while maps run');
        await until(async () => (await api<TaskView[]>(c, '/api/tasks?name=reduce&state=running')).length > 0, 120_000, 'reduces to start');
        await p[1].close();
        log('closed tab 2 after reduces started');
      },
      pages,
    );
    log(`two tabs closed: ${round(faulted)} ms`);
    emit(figure('recovery.mapreduce_two_tabs_closed_ms', faulted, 'ms', base));
    await mesh.close();
    mesh = null;
    await ctx.close();
    ctx = null;

    // ---------------------------------------------------------------- (b)
    log(`(b) an edge node dies (SIGKILL): time to its first task running elsewhere, ${DEATHS} times`);
    mesh = await connect({ url: cl.url, token: cl.token });
    const m2 = mesh;
    await cl.addNode(2);
    const times: number[] = [];
    for (let i = 0; i < DEATHS; i++) {
      const victim = await cl.addNode(2);
      const nodes = await api<{ id: string; name: string }[]>(cl, '/api/nodes');
      const victimId = nodes.at(-1)!.id;
      const long = m2.remote(async function longTask(ms: number) {
        await new Promise((r) => setTimeout(r, ms));
        return ms;
      });
      const refs = Array.from({ length: 2 }, () => long.options({ scheduling: { node: victimId, soft: true } }).remote(30_000));
      const cl2 = cl;
      await until(
        async () => (await api<TaskView[]>(cl2, '/api/tasks?name=longTask&state=running')).filter((t) => t.node === victimId).length >= 2,
        30_000,
        'tasks to run on the victim',
      );
      const t0 = Date.now();
      victim.proc.kill('SIGKILL');
      const moved = await until(
        async () =>
          (await api<TaskView[]>(cl2, '/api/tasks?name=longTask&state=running')).find((t) => t.attempt >= 1 && t.node !== victimId && t.startedAt > 0),
        30_000,
        'a re-queued task to start elsewhere',
      );
      times.push(moved.startedAt - t0);
      log(`death ${i + 1}: first task running elsewhere after ${moved.startedAt - t0} ms`);
      for (const r of refs) m2.cancel(r, { force: true });
      m2.free(refs);
    }
    emit(figure('recovery.node_death_to_task_elsewhere_ms', percentile(times, 50), 'ms'));
  } finally {
    await mesh?.close().catch(() => {});
    await ctx?.close().catch(() => {});
    await cl?.stop();
    rmSync(profile, { recursive: true, force: true });
  }
}

runBench(main);
