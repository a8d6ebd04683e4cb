// Soak (issue 11): `tabmesh start` (coordinator, SQLite GCS and a local edge
// node in one process) as a child process runs 20 jobs of every kind a new
// user submits, through `tabmesh submit` and POST /api/jobs: they succeed,
// throw, fail in a task, do not parse, are cancelled mid-run (DELETE and
// Ctrl+C of `tabmesh submit --cancel-on-exit`), put and read 50 MB, leave a
// 50 MB put behind; and a Node driver process exits while a node reads its
// 50 MB put. The process stays up. Then SIGTERM, start again on the same data
// folder: every ended job reads back with its status and result.
// The 50 MB kinds run once each (bench/soak.ts runs 1,000 jobs with more).
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir } from '../../bench/harness.js';
import { kindOf, mismatch, runSoak, SoakTarget, type JobView } from '../../bench/soak-workload.js';

// One cycle of bench/soak-workload.ts's kindOf: every kind in each 20, a cancel among the `tabmesh submit` jobs
// (every 8th). Each job is a process of its own: 60 (three cycles, until session 33; the file took 59 CPU-seconds)
// checked nothing more. The long soak is bench/soak.ts's.
const JOBS = 20;
let t: SoakTarget | null = null;
let data = '';

afterAll(async () => {
  await t?.stop();
  if (data) removeTempDir(data);
});

describe('soak: tabmesh start stays up through jobs of every kind', () => {
  it(`${JOBS} jobs, then a restart on the same data folder reads every ended job back`, { timeout: 600_000 }, async () => {
    data = makeTempDir('tabmesh-soak-test-');
    t = await SoakTarget.start(data);
    const heavy = new Set(['big', 'big-left', 'driver-exit']);
    // One of each 50 MB kind; the rest of the cycle as bench/soak.ts runs it.
    const seen = new Set<string>();
    const pick = (i: number) => {
      const k = kindOf(i);
      if (!heavy.has(k)) return k;
      if (seen.has(k)) return 'ok';
      seen.add(k);
      return k;
    };
    const { ran, problems } = await runSoak(t, JOBS, {
      parallel: 4,
      cliEvery: 8,
      kind: pick,
      onEnded: (k) => k % 10 === 0 && process.stderr.write(`soak: ${k} of ${JOBS} jobs ended (${Math.round(process.uptime())} s)\n`),
    });
    expect(problems).toEqual([]);
    expect(t.alive).toBe(true);
    expect(new Set(ran.map((r) => r.kind))).toEqual(new Set(['ok', 'throws', 'task-throws', 'syntax', 'cancel', 'big', 'big-left']));
    expect(ran.some((r) => r.via === 'cli' && r.kind === 'cancel')).toBe(true);
    expect((await t.call<unknown[]>('GET', '/api/events?kind=coordinator-recovered')).json).toEqual([]);

    const before = new Map<string, JobView>();
    for (const r of ran) before.set(r.id, await t.job(r.id));
    await t.stop();
    t = await SoakTarget.start(data, 'tabmesh-start (again)');
    for (const r of ran) {
      const after = await t.job(r.id);
      expect(mismatch(after, r.expect)).toBeNull();
      const b = before.get(r.id)!;
      expect({ status: after.status, result: after.result, error: after.error, durationMs: after.durationMs }).toEqual({
        status: b.status,
        result: b.result,
        error: b.error,
        durationMs: b.durationMs,
      });
    }
    // (A Node driver that exited less than jobGraceMs before the stop may come back as a driver job: it could resume.)
    const ids = new Set(ran.map((r) => r.id));
    const listed = (await t.call<{ id: string; kind: string }[]>('GET', '/api/jobs?limit=1000')).json.filter((j) => ids.has(j.id));
    expect(listed.filter((j) => j.kind !== 'submitted')).toEqual([]);
    expect(listed.length).toBe(ran.length);
    expect(t.alive).toBe(true);
  });
});
