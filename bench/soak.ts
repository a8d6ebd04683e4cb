// Soak benchmark (issue 11): `tabmesh start` (coordinator, durable GCS and a
// local edge node in one process) runs 1,000 jobs of every kind a new user
// submits (bench/soak-workload.ts), 3 at a time. Figures: jobs per second,
// and the process's RSS at start and end (it must not grow without bound),
// with its memory every EVERY jobs (RSS, JS heap, ArrayBuffers, GCS rows) to
// tell a plateau from a leak. No baseline: the figure is the process staying
// up and flat.
//
//   npm run build && npm run bench:soak [-- JOBS [EVERY]]
//
// With TABMESH_SOAK_URL, TABMESH_TOKEN and TABMESH_SOAK_PID it soaks a
// `tabmesh start` already running (in the same network namespace: run both
// under one scripts/in-netns.sh) and leaves it running, so that browsers and
// other drivers can use it at the same time.
import { emit, fetchStats, figure, log, makeTempDir, MB, runBench, sleep } from './harness.js';
import { runSoak, SoakTarget } from './soak-workload.js';

const JOBS = Number(process.argv[2] ?? 1000);
const EVERY = Number(process.argv[3] ?? 100);

/** One line of the process's memory: what a leak would grow (JS heap, ArrayBuffers, GCS rows) next to RSS. */
async function memoryLine(t: SoakTarget, jobs: number, secs: number): Promise<string> {
  const s = await fetchStats(t.url, t.token);
  const mb = (x: number) => (x / MB).toFixed(0);
  return `${jobs} jobs, ${secs.toFixed(0)} s: RSS ${mb(s.rssBytes)} MB, JS heap ${mb(s.heapUsedBytes)} MB, ArrayBuffers ${mb(s.arrayBuffersBytes)} MB, ${t.openFds() ?? '?'} open fds; GCS: ${s.tasks} tasks, ${s.objects} objects, ${s.functions} functions`;
}

/** The running `tabmesh start` named by the environment, else a new one. */
async function target(): Promise<SoakTarget> {
  const url = process.env.TABMESH_SOAK_URL;
  if (!url) return SoakTarget.start(makeTempDir('tabmesh-soak-'));
  const token = process.env.TABMESH_TOKEN;
  const pid = Number(process.env.TABMESH_SOAK_PID);
  if (!token || !Number.isInteger(pid) || pid < 1) throw new Error('TABMESH_SOAK_URL needs TABMESH_TOKEN and TABMESH_SOAK_PID (its process id)');
  return SoakTarget.attach(url, token, pid);
}
runBench(async () => {
  if (!Number.isInteger(JOBS) || JOBS < 1) throw new Error(`JOBS must be a positive integer, not ${process.argv[2]}`);
  if (!Number.isInteger(EVERY) || EVERY < 1) throw new Error(`EVERY must be a positive integer, not ${process.argv[3]}`);
  const t = await target();
  try {
    await sleep(2000);
    const rssStart = await t.rssBytes();
    const t0 = Date.now();
    log(await memoryLine(t, 0, 0));
    const { ran, problems, ms } = await runSoak(t, JOBS, {
      parallel: 3,
      cliEvery: 25,
      onEnded: (k) => {
        if (k % EVERY === 0) memoryLine(t, k, (Date.now() - t0) / 1000).then(log, (e: Error) => log(`${k} jobs: no stats (${e.message})`));
      },
    });
    const secs = (Date.now() - t0) / 1000;
    if (!t.alive) throw new Error(`tabmesh start died:\n${t.child?.output.join('').slice(-4000) ?? ''}`);
    await sleep(5000);
    const rssEnd = await t.rssBytes();
    log(await memoryLine(t, JOBS, (Date.now() - t0) / 1000));
    emit(figure('soak: jobs of every kind through tabmesh start', JOBS / secs, 'jobs/s'));
    emit(figure('soak: tabmesh start RSS at start', rssStart / MB, 'MB'));
    emit(figure(`soak: tabmesh start RSS after ${JOBS} jobs`, rssEnd / MB, 'MB', rssStart / MB));
    for (const [kind, xs] of Object.entries(ms))
      log(`${kind}: ${xs.length} in ${Math.round(xs.reduce((a, b) => a + b, 0) / xs.length)} ms on average (submit to end)`);
    log(`${ran.length} submitted jobs, ${JOBS - ran.length} driver processes; ${problems.length} problem(s)`);
    for (const p of problems.slice(0, 20)) log(`problem: ${p}`);
    if (problems.length) throw new Error(`${problems.length} job(s) did not end as expected`);
  } finally {
    await t.stop();
  }
});
