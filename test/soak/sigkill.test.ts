// `tabmesh start` killed with SIGKILL (issue 11: a crash, an OOM kill, a power
// cut of the process) and started again on the same data folder: every job
// that had ended reads back as it ended, and the job that was running runs
// again from its source under the same id and finishes; none of them comes
// back as a bare `driver` job. Only the second start logs coordinator-recovered.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDir, sleep } from '../../bench/harness.js';
import { mismatch, program, SoakTarget, type Expected, type JobView } from '../../bench/soak-workload.js';
import { RUNNING_SAVE_MS } from '../../coordinator/jobs/records.js';

let t: SoakTarget | null = null;
let data = '';

afterAll(async () => {
  await t?.stop();
  if (data) removeTempDir(data);
});

/**
 * Runs until it is killed, then uses the mesh: its result says it finished. Its first run waits for a gate (a file
 * its task on the local node polls for) that the test opens once it killed the process, so the second run goes on at
 * once: a fixed 8 s wait had each run sleep 8 s (the job cannot tell its runs apart), and at load could end first.
 */
const slowJob = (gate: string) => `console.log('slow job begins');
const gate = mesh.remote(async function gate(path) {
  const fs = process.getBuiltinModule('node:fs');
  while (!fs.existsSync(path)) await new Promise((r) => setTimeout(r, 50));
  return true;
});
await mesh.get(gate.remote(${JSON.stringify(gate)}));
const sq = mesh.remote(function sq(x) { return x * x; });
return { squared: await mesh.get(sq.remote(7)) };`;

describe('tabmesh start killed with SIGKILL', () => {
  it('keeps every ended job, and runs the job it was running again from its source', { timeout: 300_000 }, async () => {
    data = makeTempDir('tabmesh-sigkill-test-');
    t = await SoakTarget.start(data);
    const ended: { id: string; expect: Expected }[] = [];
    for (const [i, kind] of (['ok', 'throws', 'syntax', 'task-throws', 'ok'] as const).entries()) {
      const p = program(kind, i);
      ended.push({ id: await t.submitHttp(p.source, `before-kill-${i}-${kind}`), expect: p.expect });
    }
    const before = new Map<string, JobView>();
    for (const e of ended) before.set(e.id, await t.waitEnded(e.id));
    const gate = join(data, 'gate-open');
    const slow = await t.submitHttp(slowJob(gate), 'slow');
    for (let k = 0; (await t.job(slow)).logLines === 0; k++) {
      if (k > 600) throw new Error('the slow job never started');
      await sleep(50);
    }
    // A running job's log is written at most every RUNNING_SAVE_MS: let its first line reach the disk.
    await sleep(RUNNING_SAVE_MS + 500);
    expect((await t.job(slow)).status).toBe('running');
    expect((await t.call<unknown[]>('GET', '/api/events?kind=coordinator-recovered')).json).toEqual([]);

    await t.kill();
    writeFileSync(gate, '');
    t = await SoakTarget.start(data, 'tabmesh-start (after SIGKILL)');
    for (const e of ended) {
      const after = await t.job(e.id);
      expect(mismatch(after, e.expect)).toBeNull();
      const b = before.get(e.id)!;
      expect({ status: after.status, result: after.result, error: after.error, durationMs: after.durationMs, progress: after.progress }).toEqual({
        status: b.status,
        result: b.result,
        error: b.error,
        durationMs: b.durationMs,
        progress: b.progress,
      });
    }
    const again = await t.waitEnded(slow);
    expect(mismatch(again, { status: 'succeeded', result: { squared: 49 } })).toBeNull();
    const log = (await t.call<{ text: string }[]>('GET', `/api/jobs/${slow}/log`)).json.map((l) => l.text);
    expect(log.filter((l) => l === 'slow job begins')).toHaveLength(2);
    expect(log.some((l) => l.startsWith('the coordinator restarted while this job ran: running it again from its source (run 2 of at most'))).toBe(true);
    const ids = new Set([...ended.map((e) => e.id), slow]);
    const listed = (await t.call<{ id: string; kind: string }[]>('GET', '/api/jobs?limit=1000')).json.filter((j) => ids.has(j.id));
    expect(listed.map((j) => j.kind)).toEqual(Array(ids.size).fill('submitted'));
    expect((await t.call<unknown[]>('GET', '/api/events?kind=coordinator-recovered')).json).toHaveLength(1);
    expect(t.alive).toBe(true);
  });
});
