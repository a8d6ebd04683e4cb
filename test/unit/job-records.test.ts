// Durable records of submitted jobs (coordinator/jobs/records.ts, issue 11):
// what is written reads back; rows that are not records are refused with a reason.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { SqliteStorage } from '../../coordinator/gcs/sqlite-storage.js';
import { decodeJobRow, encodeJobRow, JobRecords, logTail, PERSISTED_LOG_BYTES } from '../../coordinator/jobs/records.js';
import type { SubmittedJob } from '../../coordinator/jobs/runner.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

function job(over: Partial<SubmittedJob> = {}): SubmittedJob {
  return {
    id: '0123456789abcdef' as never,
    name: 'j',
    source: 'return 1;',
    status: 'succeeded',
    submittedAt: 1000,
    endedAt: 2000,
    result: { a: [1, 'x', null] },
    error: null,
    log: [{ seq: 1, ts: 1500, level: 'log', text: 'hi' }],
    logSeq: 1,
    timeoutMs: 60_000,
    worker: null,
    counts: { submitted: 3, finished: 2, failed: 1, cancelled: 0 },
    runs: 1,
    ...over,
  };
}

describe('job records', () => {
  it('a record reads back as written, without its process', () => {
    const j = job({ status: 'failed', error: { name: 'RangeError', message: 'no', stack: 'RangeError: no' } });
    const { worker: _w, ...rest } = j;
    expect(decodeJobRow(encodeJobRow(j))).toEqual(rest);
  });

  it('keeps the most recent log lines within PERSISTED_LOG_BYTES', () => {
    const line = 'x'.repeat(1000);
    const log = Array.from({ length: 600 }, (_, i) => ({ seq: i + 1, ts: i, level: 'log' as const, text: line }));
    const kept = logTail(log);
    expect(kept.length).toBe(Math.floor(PERSISTED_LOG_BYTES / 1000));
    expect(kept.at(-1)!.seq).toBe(600);
    expect((decodeJobRow(encodeJobRow(job({ log, logSeq: 600 }))) as { log: unknown[] }).log).toHaveLength(kept.length);
  });

  it('refuses rows that are not records, saying why', () => {
    const good = packr.unpack(encodeJobRow(job())) as Record<string, unknown>;
    const bad = (patch: Record<string, unknown>) => decodeJobRow(packr.pack({ ...good, ...patch }));
    expect(decodeJobRow(new Uint8Array([0xc1]))).toBeInstanceOf(Error);
    expect(decodeJobRow(packr.pack([1, 2]))).toBeInstanceOf(Error);
    expect((bad({ id: '../etc' }) as Error).message).toMatch(/bad id/);
    expect((bad({ status: 'exploded' }) as Error).message).toMatch(/bad status/);
    expect((bad({ submittedAt: 'yesterday' }) as Error).message).toMatch(/numbers/);
    expect((bad({ error: { name: 1 } }) as Error).message).toMatch(/bad error/);
    expect((bad({ counts: { submitted: 1 } }) as Error).message).toMatch(/bad counts/);
    expect((bad({ log: [{ seq: 1, ts: 1, level: 'shout', text: 'x' }] }) as Error).message).toMatch(/bad log/);
    expect(bad({})).not.toBeInstanceOf(Error);
  });

  it('a durable storage keeps them across a reopen and drops unreadable rows; a memory one writes nothing', () => {
    const file = `/tmp/tabmesh-job-records-${process.pid}-${Date.now()}.sqlite`;
    let s = new SqliteStorage(file);
    const r = new JobRecords(s);
    r.save(job());
    r.save(job({ id: 'ffffffffffffffff' as never, submittedAt: 500, status: 'running' }));
    r.drop('ffffffffffffffff' as never);
    r.save(job({ id: 'eeeeeeeeeeeeeeee' as never, submittedAt: 100 }));
    s.put('submitted', 'junk', new Uint8Array([1, 2, 3]));
    s.close();
    s = new SqliteStorage(file);
    const dropped: string[] = [];
    const rows = new JobRecords(s).load((key) => dropped.push(key));
    expect(rows.map((x) => x.id)).toEqual(['eeeeeeeeeeeeeeee', '0123456789abcdef']);
    expect(dropped).toEqual(['junk']);
    expect([...s.load('submitted')].map(([k]) => k).sort()).toEqual(['0123456789abcdef', 'eeeeeeeeeeeeeeee']);
    s.close();
    const m = new MemoryStorage();
    new JobRecords(m).save(job());
    expect([...m.load('submitted')]).toEqual([]);
  });
});
