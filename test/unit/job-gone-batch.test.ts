// A freed task's row delete and its job's `gone` that counts it (coordinator/gcs/job-gone.ts) leave in one batch even
// when that delete fills the write buffer (Gcs.dropTask holds size flushes over both writes): a batch with the delete
// and the job's old row, then a kill before the next batch, lost the task from the job's counts at the restart.
// A real SqliteStorage flushing at every change (maxBuffered 1), read back by a second one on the same file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pack, Packr } from 'msgpackr';
import { Coordinator } from '../../coordinator/coordinator.js';
import { readGone } from '../../coordinator/gcs/job-gone.js';
import { SqliteStorage } from '../../coordinator/gcs/sqlite-storage.js';
import { newJobId, returnObjectId } from '../../shared/ids.js';
import { until } from '../helpers/poll.js';
import { fn, fnId, plainSpec } from '../helpers/white-box.js';

const rows = new Packr({ useRecords: false, mapsAsObjects: true });
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanups.splice(0).reverse()) f();
});

describe("a freed task's count and its row's delete", () => {
  it('leave in one batch when the delete fills the buffer: once the delete is stored, so is the count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabmesh-gone-batch-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'gcs.db');
    const job = newJobId();
    const t = plainSpec(job, 0);
    const out = returnObjectId(t.taskId, 0);
    const zero = { submitted: 0, finished: 0, failed: 0, cancelled: 0 };
    // A running job with one finished task, as a coordinator stopped mid-job left them.
    const storage = new SqliteStorage(file, { maxBuffered: 1, flushIntervalMs: 60_000 });
    storage.put('jobs', job, rows.pack({ id: job, state: 'running', startedAt: 1, endedAt: 0, counts: zero, gone: zero, secret: 'x' }), job);
    storage.put('tasks', t.taskId, rows.pack({ spec: t, state: 'queued', submittedAt: 1 }), job);
    storage.put('objects', out, rows.pack({ id: out, job, state: 'ready', size: 1, hash: '', v: pack(7), failure: null, contains: [] }), job);
    storage.flush();
    const co = new Coordinator({ storage, recoveryGraceMs: 60_000 });
    cleanups.push(() => co.close());
    co.gcs.addFunction({ ...fn, fnId });
    expect(co.gcs.jobs.get(job)?.counts).toEqual({ ...zero, submitted: 1, finished: 1 });

    // The recovery's hold goes (nobody else holds the output): the output is freed, the task with it.
    co.dir.decRef(out);
    expect(co.gcs.tasks.has(t.taskId)).toBe(false);
    // What a restart would read now (no flush asked: only the batches that left for their size).
    const reader = new SqliteStorage(file);
    cleanups.push(() => reader.close());
    await until(() => ![...reader.load('tasks')].some(([k]) => k === t.taskId), { what: "the task row's delete to be stored" });
    const row = [...reader.load('jobs')].find(([k]) => k === job)?.[1];
    // Without the hold: the job's row of before the drop (gone 0): a restart counted the task nowhere.
    expect(readGone((rows.unpack(row!) as { gone: unknown }).gone)).toEqual({ ...zero, submitted: 1, finished: 1 });
  });
});
