// Dashboard benchmark (issue 7): what live dashboards cost the task path, and
// how big the live document gets.
//
//   npm run build && npm run bench:dashboard
//
// A coordinator (--memory) and one edge node with 2 executors run as child
// processes; this process is the driver. Five dashboards (read-only Yjs
// replicas over the dashboard socket, the page's protocol) run in one more
// child process, so that applying updates does not take the driver's CPU.
// stdout: one JSON line per figure; stderr: diagnostics.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, type Mesh, type ObjectRef } from '../edge/index.js';
import { Replica } from '../coordinator/dashboard/replica.js';
import { emit, figure, log, nowMs, pollStats, round, startCluster, type BenchCluster } from './harness.js';

const DASHBOARDS = 5;
const THROUGHPUT_TASKS = 20_000;
const ROUNDS = 4;
const WARMUP_TASKS = 2_000;
const SIZE_TASKS = 100_000;
const SIZE_BATCH = 10_000;

type Noop = { remote(): ObjectRef<void> };

// ------------------------------------------------------------ the dashboards process

/** Child mode: N replicas; answers "size" on stdin with the replicas' document sizes. */
async function dashboards(url: string, token: string, n: number): Promise<void> {
  const rs = Array.from({ length: n }, () => new Replica(url, token));
  await Promise.all(rs.map((r) => r.connect()));
  process.stdout.write('ready\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'size') {
      const fresh = new Replica(url, token);
      await fresh.connect();
      process.stdout.write(JSON.stringify({ sizes: rs.map((r) => r.size()), fresh: fresh.size(), received: rs.map((r) => r.received) }) + '\n');
      await fresh.close();
    }
  }
}

interface DashboardsChild {
  proc: ChildProcess;
  ask(cmd: string): Promise<string>;
  stop(): Promise<void>;
}

async function startDashboards(cl: BenchCluster): Promise<DashboardsChild> {
  const file = fileURLToPath(import.meta.url);
  const proc = spawn(process.execPath, [file, '--dashboards', cl.url, cl.token, String(DASHBOARDS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout });
  const waiting: ((l: string) => void)[] = [];
  lines.on('line', (l) => waiting.shift()?.(l));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  const ready = await Promise.race([next(), new Promise<string>((_, rej) => proc.once('exit', (c) => rej(new Error(`dashboards exited (${c})`))))]);
  if (ready !== 'ready') throw new Error(`dashboards said ${ready}`);
  return {
    proc,
    ask: (cmd) => {
      const p = next();
      proc.stdin.write(cmd + '\n');
      return p;
    },
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

// ------------------------------------------------------------ the bench

async function batch(mesh: Mesh, noop: Noop, n: number): Promise<void> {
  const refs: ObjectRef<void>[] = [];
  for (let i = 0; i < n; i++) refs.push(noop.remote());
  await mesh.get(refs);
  mesh.free(refs);
}

async function drained(cl: BenchCluster): Promise<void> {
  await pollStats(cl.url, cl.token, (s) => s.tasks <= 10 && s.objects <= 10, { timeoutMs: 30_000, everyMs: 50 });
}

async function main(): Promise<void> {
  const t0 = nowMs();
  const phase = (name: string) => log(`--- ${name} (t=${round((nowMs() - t0) / 1000, 1)} s)`);
  let cl: BenchCluster | null = null;
  let mesh: Mesh | null = null;
  let dash: DashboardsChild | null = null;
  try {
    phase('start: coordinator + 1 edge node with 2 executors');
    cl = await startCluster({ nodes: 1, cpus: 2 });
    mesh = await connect({ url: cl.url, token: cl.token });
    const m = mesh;
    const noop = m.remote(function noop() {}) as Noop;
    await batch(m, noop, WARMUP_TASKS);
    await drained(cl);

    phase(`throughput: ${THROUGHPUT_TASKS} empty tasks, ${ROUNDS} interleaved rounds without and with ${DASHBOARDS} dashboards; best of each`);
    const none: number[] = [];
    const five: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let t = nowMs();
      await batch(m, noop, THROUGHPUT_TASKS);
      none.push(nowMs() - t);
      await drained(cl);
      dash = await startDashboards(cl);
      t = nowMs();
      await batch(m, noop, THROUGHPUT_TASKS);
      five.push(nowMs() - t);
      await drained(cl);
      await dash.stop();
      dash = null;
      log(`round ${r + 1}: none ${round(none[r], 0)} ms, ${DASHBOARDS} dashboards ${round(five[r], 0)} ms`);
    }
    const rate = (xs: number[]) => (THROUGHPUT_TASKS / Math.min(...xs)) * 1000;
    emit(figure('dashboard.throughput_5_dashboards', rate(five), 'tasks/s', rate(none)));

    phase(`document size: ${SIZE_TASKS} tasks with ${DASHBOARDS} dashboards open`);
    dash = await startDashboards(cl);
    const before = JSON.parse(await dash.ask('size')) as { sizes: number[]; fresh: number; received: number[] };
    log('document before:', before);
    for (let done = 0; done < SIZE_TASKS; done += SIZE_BATCH) await batch(m, noop, SIZE_BATCH);
    await drained(cl);
    // Let a couple of samples and a throughput slot pass so the replicas are current.
    await new Promise((r) => setTimeout(r, 1500));
    const after = JSON.parse(await dash.ask('size')) as { sizes: number[]; fresh: number; received: number[] };
    log('document after:', after);
    emit(figure('dashboard.doc_bytes_after_100k', Math.max(...after.sizes), 'bytes', before.fresh));
    emit(figure('dashboard.fresh_sync_bytes_after_100k', after.fresh, 'bytes', before.fresh));
    const bytesPerDashboard = (after.received.reduce((a, b) => a + b, 0) - before.received.reduce((a, b) => a + b, 0)) / DASHBOARDS;
    log(`each dashboard received ${round(bytesPerDashboard / 1024, 1)} KiB while ${SIZE_TASKS} tasks ran`);
    phase('done');
  } finally {
    await dash?.stop();
    await mesh?.close().catch(() => {});
    await cl?.stop();
  }
}

if (process.argv[2] === '--dashboards') {
  dashboards(process.argv[3], process.argv[4], Number(process.argv[5])).catch((e) => {
    process.stderr.write(`dashboards: ${(e as Error).stack}\n`);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e) => {
      log(`FAILED: ${(e as Error).stack ?? e}`);
      process.exit(1);
    },
  );
}
