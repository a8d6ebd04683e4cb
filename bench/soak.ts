// Soak benchmark (issue 11): `tabmesh start` (coordinator, durable GCS and a
// local edge node in one process) runs 1,000 jobs of every kind a new user
// submits (bench/soak-workload.ts), 3 at a time. Figures: jobs per second,
// and the process's RSS at start and end (it must not grow without bound).
// No baseline: the figure is the process staying up and flat.
//
//   npm run build && npm run bench:soak [-- JOBS]
import { emit, figure, log, makeTempDir, MB, runBench, sleep } from './harness.js';
import { runSoak, SoakTarget } from './soak-workload.js';

const JOBS = Number(process.argv[2] ?? 1000);

runBench(async () => {
  if (!Number.isInteger(JOBS) || JOBS < 1) throw new Error(`JOBS must be a positive integer, not ${process.argv[2]}`);
  const t = await SoakTarget.start(makeTempDir('tabmesh-soak-'));
  try {
    await sleep(2000);
    const rssStart = await t.rssBytes();
    const t0 = Date.now();
    const { ran, problems, ms } = await runSoak(t, JOBS, {
      parallel: 3,
      cliEvery: 25,
      onEnded: (k) => {
        if (k % 100 === 0) log(`${k} jobs ended in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      },
    });
    const secs = (Date.now() - t0) / 1000;
    if (!t.alive) throw new Error(`tabmesh start died:\n${t.child.output.join('').slice(-4000)}`);
    await sleep(5000);
    const rssEnd = await t.rssBytes();
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
