// The bounded histories of what left the GCS (dashboard/recent.ts): the most
// recent first, an id added again counts once and moves to the front, the
// oldest go past the count or the age; and ids kept there are their own
// strings (ownId), equal to the originals.
import { describe, expect, it } from 'vitest';
import { Recent, freedObject, freedView } from '../../coordinator/dashboard/recent.js';
import { objectView } from '../../coordinator/http/views.js';
import type { ObjectRecord } from '../../coordinator/gcs/tables.js';
import { childTaskId, newJobId, ownId, putObjectId, returnObjectId, rootTaskId, type ObjectId } from '../../shared/ids.js';
import { objectRecord } from '../helpers/task-record.js';

describe('Recent (ended records)', () => {
  it('lists the most recent first and keeps at most `max`, dropping the oldest', () => {
    const r = new Recent<number>(60_000, 3);
    for (let i = 1; i <= 5; i++) r.add(`id${i}`, i, 1000 + i);
    expect(r.size).toBe(3);
    expect(r.list(2000)).toEqual([5, 4, 3]);
  });

  it('an id added again counts once, with its newest view, at the front', () => {
    const r = new Recent<string>(60_000, 3);
    r.add('a', 'a1', 1);
    r.add('b', 'b1', 2);
    r.add('a', 'a2', 3);
    expect(r.size).toBe(2);
    expect(r.list(10)).toEqual(['a2', 'b1']);
    r.add('c', 'c1', 4);
    r.add('d', 'd1', 5);
    // b is now the oldest: it goes, a (re-added after it) stays.
    expect(r.list(10)).toEqual(['d1', 'c1', 'a2']);
  });

  it('forgets entries older than keepMs when listed, but not a re-added id whose old entry expired', () => {
    const r = new Recent<string>(100, 10);
    r.add('a', 'a1', 0);
    r.add('b', 'b1', 50);
    r.add('a', 'a2', 120);
    expect(r.list(160)).toEqual(['a2']);
    expect(r.size).toBe(1);
    expect(r.list(1000)).toEqual([]);
    expect(r.size).toBe(0);
  });

  it('a burst of 20,000 between two reads files only the newest it keeps (session 17)', () => {
    const r = new Recent<number>(1e9, 100);
    for (let i = 0; i < 20_000; i++) r.add(`t${i}`, i, i);
    expect(r.list(20_000)).toEqual(Array.from({ length: 100 }, (_, k) => 19_999 - k));
    expect(r.size).toBe(100);
    // Filed one by one, all 20,000 were (and 19,900 taken out again); now only the 100 kept.
    expect(r.filed).toBe(100);
  });

  it('stays bounded and in order through many more adds than it keeps (the ring compacts)', () => {
    const r = new Recent<number>(1e9, 100);
    for (let i = 0; i < 20_000; i++) r.add(`t${i % 150}`, i, i);
    expect(r.size).toBe(100);
    const got = r.list(20_000);
    expect(got).toEqual(Array.from({ length: 100 }, (_, k) => 19_999 - k));
  });
});

describe('a freed object kept compact (EndedRecords.objects)', () => {
  const job = newJobId();
  const task = childTaskId(rootTaskId(job), 3);
  const record = (id: ObjectId, more: Partial<ObjectRecord> = {}): ObjectRecord => objectRecord(id, job, more);

  it('lists the same row objectView built when it was freed: a task output, a put, an inline value, a failure', () => {
    const cases = [
      record(returnObjectId(task, 0)),
      record(putObjectId(task, 1), { v: new Uint8Array(8), refs: 2 }),
      record(returnObjectId(task, 1), { state: 'failed', failure: { name: 'TaskError', message: 'boom', code: 'TASK_ERROR' } as ObjectRecord['failure'] }),
    ];
    for (const o of cases) expect(freedView(freedObject(o))).toEqual(objectView(o, true));
    const r = new Recent(60_000, 10, freedView);
    for (const o of cases) r.add(o.id, freedObject(o), 1);
    expect(r.list(2)).toEqual(cases.map((o) => objectView(o, true)).reverse());
  });
});

describe('ownId', () => {
  it('returns an equal string', () => {
    const id = 'ab'.repeat(16);
    const sliced = ('x' + id + 'y').slice(1, -1);
    expect(ownId(sliced)).toBe(id);
    expect(ownId('')).toBe('');
  });
});
