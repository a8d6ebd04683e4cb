// Browser node benchmark (issue 3): throughput of empty tasks run by one
// headless Chromium tab with 2 executors, against the same run on an edge
// node with 2 executors (the baseline), in one run.
//
//   npm run build && npm run bench:browser
//
// A coordinator (--memory) and an edge node run as child processes, the tab
// in Chromium (playwright-core, Debian's /usr/bin/chromium); this process is
// the driver. Both nodes are joined throughout; each round pins its tasks to
// one of them (node affinity), rounds interleaved. stdout: one JSON line per
// figure; stderr: diagnostics.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { connect, type Mesh, type ObjectRef } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { emit, figure, interleaved, log, nowMs, pollStats, round, startCluster, type BenchCluster, runBench } from './harness.js';
import { CHROMIUM_FLAGS, nodesOf, openTab } from './tabs.js';

const TASKS = 20_000;
const ROUNDS = 3;
const WARMUP = 2_000;
const CPUS = 2;
/** As test/helpers/browser.ts: what Chromium needs on this machine. */
type Noop = { remote(): ObjectRef<void> };

async function batch(mesh: Mesh, f: Noop, n: number): Promise<ObjectRef<void>[]> {
  const refs: ObjectRef<void>[] = [];
  for (let i = 0; i < n; i++) refs.push(f.remote());
  await mesh.get(refs);
  return refs;
}

async function main(): Promise<void> {
  const t0 = nowMs();
  const phase = (name: string) => log(`--- ${name} (t=${round((nowMs() - t0) / 1000, 1)} s)`);
  let cl: BenchCluster | null = null;
  let mesh: Mesh | null = null;
  let ctx: BrowserContext | null = null;
  const profile = mkdtempSync(join(tmpdir(), 'tabmesh-bench-chromium-'));
  try {
    phase(`start: coordinator, one edge node with ${CPUS} executors, one Chromium tab with ${CPUS} executors`);
    cl = await startCluster({ nodes: 1, cpus: CPUS });
    const edge = (await nodesOf(cl)).find((n) => n.kind === 'edge')!.id;
    ctx = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS });
    const { id: tab } = await openTab(ctx, cl, `cpus=${CPUS}&cpuShare=1&paused=false`);
    const c = cl;
    log(`edge node ${edge}, tab node ${tab}`);

    mesh = await connect({ url: cl.url, token: cl.token });
    const m = mesh;
    const noop = function noop() {};
    const on = (node: string) => m.remote(noop, { scheduling: { node: node as NodeId, soft: false } }) as Noop;
    const contenders = { tab: on(tab), edge: on(edge) };

    phase(`warm-up: ${WARMUP} tasks on each`);
    for (const [name, f] of Object.entries(contenders)) {
      const t = nowMs();
      m.free(await batch(m, f, WARMUP));
      log(`warm-up ${name}: ${round(nowMs() - t)} ms`);
    }

    phase(`throughput: ${TASKS} empty tasks at once, best of ${ROUNDS} interleaved rounds`);
    let refs: ObjectRef<void>[] = [];
    const times = await interleaved(
      ROUNDS,
      {
        tab: async () => {
          refs = await batch(m, contenders.tab, TASKS);
        },
        edge: async () => {
          refs = await batch(m, contenders.edge, TASKS);
        },
      },
      {
        after: async (name, r, ms) => {
          m.free(refs);
          refs = [];
          const d = await pollStats(c.url, c.token, (s) => s.tasks <= 10 && s.objects <= 10, { timeoutMs: 30_000, everyMs: 50 });
          log(`round ${r + 1} ${name}: ${round(ms)} ms = ${Math.round((TASKS / ms) * 1000)} tasks/s (drained: ${d.met})`);
        },
      },
    );
    const best = (xs: number[]) => (TASKS / Math.min(...xs)) * 1000;
    log(`rounds ms: tab ${times.tab.map((x) => round(x, 0))}, edge ${times.edge.map((x) => round(x, 0))}`);
    emit(figure('browser.throughput', best(times.tab), 'tasks/s', best(times.edge)));
    phase('done');
  } finally {
    await mesh?.close().catch(() => {});
    await ctx?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await cl?.stop();
  }
}

runBench(main);
