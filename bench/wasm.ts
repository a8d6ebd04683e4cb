// Runtime env benchmark (issue 16): one WebAssembly kernel (Mandelbrot tiles,
// ~0.1 s each on this machine) run (a) as tasks on one Chromium tab with 2
// executors, (b) as tasks on an edge node with 2 executors, and (c) directly
// in Node in a piscina pool of 2 worker threads (the baseline), rounds
// interleaved in one run; then the one-time cost of loading a 1 MB bundle on a
// node that has not seen it (its first task against a warm one).
//
//   npm run build && npm run bench:wasm
//
// stdout: one JSON line per figure; stderr: diagnostics.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { Piscina } from 'piscina';
import { connect, type Mesh, type ObjectRef } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { mandelbrotTileJs, mandelbrotWasm, tileArgs } from '../shared/examples/mandelbrot.js';
import { emit, figure, interleaved, log, nowMs, pollStats, round, startCluster, type BenchCluster, runBench, timeMs } from './harness.js';
import { CHROMIUM_FLAGS, nodesOf } from './tabs.js';

const CPUS = 2;
const TASKS = 24;
const ROUNDS = 3;
/** One task: a 128×128 tile near the set's boundary, 1000 iterations at most. */
const ARGS = [...tileArgs(5, 4, 128), 1000];
const WORKER_FILE = fileURLToPath(new URL('./wasm-worker.js', import.meta.url));
declare const mesh: Mesh; // inside tasks

type Tile = { remote(args: number[]): ObjectRef<number> };

/** About 1 MB of ES module: many small functions, as a bundled library is. */
function bigModule(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const f = `export function f${i}(x) { const y = x * ${i} + ${i % 97}; return y > ${i * 3} ? y - ${i} : [y, ${JSON.stringify('v' + i)}].length + y; }\n`;
    parts.push(f);
    size += f.length;
  }
  parts.push(`export const count = ${parts.length};\n`);
  return parts.join('');
}

async function main(): Promise<void> {
  const t0 = nowMs();
  const phase = (name: string) => log(`--- ${name} (t=${round((nowMs() - t0) / 1000, 1)} s)`);
  let cl: BenchCluster | null = null;
  let m: Mesh | null = null;
  let ctx: BrowserContext | null = null;
  const pool = new Piscina({ filename: WORKER_FILE, minThreads: CPUS, maxThreads: CPUS });
  const profile = mkdtempSync(join(tmpdir(), 'tabmesh-bench-chromium-'));
  try {
    phase(`start: coordinator, an edge node with ${CPUS} executors, a Chromium tab with ${CPUS} executors, a piscina pool of ${CPUS}`);
    cl = await startCluster({ nodes: 1, cpus: CPUS });
    const edge = (await nodesOf(cl)).find((n) => n.kind === 'edge')!.id;
    ctx = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => log(`tab error: ${e.message}`));
    await page.goto(`${cl.url}/?cpus=${CPUS}&paused=false`);
    const { met } = await pollStats(cl.url, cl.token, (s) => s.nodes >= 2, { timeoutMs: 30_000, everyMs: 100 });
    if (!met) throw new Error('the tab did not join');
    const tab = (await nodesOf(cl)).find((n) => n.kind === 'browser')!.id;
    m = await connect({ url: cl.url, token: cl.token });
    const mm = m;

    const expected = mandelbrotTileJs(...(ARGS as Parameters<typeof mandelbrotTileJs>));
    const kernel = async function tile(args: number[]) {
      const { exports } = await WebAssembly.instantiate(await mesh.wasm('mandelbrot'), {});
      return (exports.tile as (...a: number[]) => number)(...args);
    };
    const on = (node: string): Tile =>
      mm.remote(kernel, { runtimeEnv: { wasm: { mandelbrot: mandelbrotWasm() } }, scheduling: { node: node as NodeId, soft: false } });
    const runs = {
      tab: async () => check(await mm.get(Array.from({ length: TASKS }, () => on(tab).remote(ARGS)))),
      edge: async () => check(await mm.get(Array.from({ length: TASKS }, () => on(edge).remote(ARGS)))),
      node: async () => check(await Promise.all(Array.from({ length: TASKS }, () => pool.run(ARGS) as Promise<number>))),
    };
    function check(out: number[]): void {
      for (const v of out) if (v !== expected) throw new Error(`a tile came back as ${v}, expected ${expected}`);
    }

    phase('warm-up: each contender runs a round (the kernel is fetched and compiled once per node / executor / thread)');
    for (const [name, f] of Object.entries(runs)) log(`warm-up ${name}: ${round(await timeMs(f))} ms`);
    const one = await timeMs(() => pool.run(ARGS));
    log(`one tile in a piscina thread: ${round(one)} ms`);

    phase(`kernel: ${TASKS} tiles per round, ${ROUNDS} interleaved rounds, best`);
    const times = await interleaved(ROUNDS, runs, { after: (name, r, ms) => log(`round ${r + 1} ${name}: ${round(ms)} ms`) });
    const rate = (xs: number[]) => (TASKS / Math.min(...xs)) * 1000;
    emit(figure('wasm.tab_tiles_per_s', rate(times.tab), 'tiles/s', rate(times.node)));
    emit(figure('wasm.edge_tiles_per_s', rate(times.edge), 'tiles/s', rate(times.node)));

    phase('one-time cost of a 1 MB bundle on a node that has not seen it: its first task against a second one');
    const source = bigModule(1 << 20);
    log(`bundle: ${source.length} bytes`);
    for (const [name, node] of [
      ['edge', edge],
      ['tab', tab],
    ] as const) {
      const f = mm.remote(
        async function useBundle(x: number) {
          const lib = await mesh.import('big');
          return lib.f7(x) + lib.count;
        },
        { runtimeEnv: { modules: { big: source } }, scheduling: { node: node as NodeId, soft: false } },
      );
      const first = await timeMs(() => mm.get(f.remote(1)));
      const warm = await timeMs(() => mm.get(f.remote(2)));
      log(`${name}: first task ${round(first)} ms, next ${round(warm)} ms`);
      emit(figure(`wasm.bundle_1mb_first_task_ms.${name}`, first, 'ms', warm));
    }
    phase('done');
  } finally {
    await m?.close().catch(() => {});
    await ctx?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await pool.destroy();
    await cl?.stop();
  }
}

runBench(main);
