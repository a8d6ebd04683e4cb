import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { SqliteStorage } from '../../coordinator/gcs/sqlite-storage.js';
import { RedisStorage } from '../../coordinator/gcs/redis-storage.js';
import type { GcsStorage, TableName } from '../../coordinator/gcs/storage.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../helpers/redis.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

/** A table's rows as key -> decoded string, sorted by key. */
function rows(s: GcsStorage, table: TableName): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = [...s.load(table)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of entries) {
    expect(v).toBeInstanceOf(Uint8Array);
    out[k] = dec.decode(v);
  }
  return out;
}

let dir: string;
const opened: GcsStorage[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tabmesh-gcs-'));
});
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function track<T extends GcsStorage>(s: T): T {
  opened.push(s);
  return s;
}

// Redis (issue 15): one real server and one 3-master Cluster for the file;
// each storage gets a key prefix of its own.
let redis: RedisServer | undefined;
let cluster: RedisCluster | undefined;
beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.destroy(), cluster?.destroy()]);
});
let prefixes = 0;
const prefix = () => `contract${++prefixes}`;

const backends: [string, () => GcsStorage][] = [
  ['MemoryStorage', () => track(new MemoryStorage())],
  ['SqliteStorage', () => track(new SqliteStorage(join(dir, 'gcs.db')))],
  ['RedisStorage', () => track(new RedisStorage({ url: redis!.url, prefix: prefix() }))],
  ['RedisStorage on a 3-master Cluster', () => track(new RedisStorage({ url: cluster!.url, prefix: prefix() }))],
];

describe.each(backends)('%s', (_name, make) => {
  it('round-trips put and load', () => {
    const s = make();
    s.put('tasks', 't1', bytes('one'));
    s.put('tasks', 't2', bytes('two'));
    s.put('objects', 'o1', new Uint8Array([0, 1, 255]));
    expect(rows(s, 'tasks')).toEqual({ t1: 'one', t2: 'two' });
    expect([...s.load('objects')].map(([k, v]) => [k, [...v]])).toEqual([['o1', [0, 1, 255]]]);
    s.flush();
    expect(rows(s, 'tasks')).toEqual({ t1: 'one', t2: 'two' });
  });

  it('keeps the last write to a key, before and after a flush', () => {
    const s = make();
    s.put('kv', 'a', bytes('1'));
    s.put('kv', 'a', bytes('2'));
    expect(rows(s, 'kv')).toEqual({ a: '2' });
    s.put('kv', 'a', bytes('3'));
    s.flush();
    s.put('kv', 'a', bytes('4'));
    expect(rows(s, 'kv')).toEqual({ a: '4' });
  });

  it('deletes rows, buffered or flushed', () => {
    const s = make();
    s.put('jobs', 'j1', bytes('x'));
    s.put('jobs', 'j2', bytes('y'));
    s.flush();
    s.delete('jobs', 'j1');
    s.put('jobs', 'j3', bytes('z'));
    s.delete('jobs', 'j3');
    s.delete('jobs', 'missing');
    expect(rows(s, 'jobs')).toEqual({ j2: 'y' });
    s.put('jobs', 'j1', bytes('back'));
    expect(rows(s, 'jobs')).toEqual({ j1: 'back', j2: 'y' });
  });

  it('loads an empty table as no rows', () => {
    const s = make();
    s.put('tasks', 't', bytes('x'));
    expect([...s.load('events')]).toEqual([]);
    expect([...s.load('functions')]).toEqual([]);
  });

  it('copies values, so a reused buffer does not change stored rows', () => {
    const s = make();
    const buf = Buffer.from('aaa');
    s.put('kv', 'k', buf);
    buf.write('bbb');
    expect(rows(s, 'kv')).toEqual({ k: 'aaa' });
  });

  it('throws when used after close', () => {
    const s = make();
    s.put('kv', 'k', bytes('v'));
    s.close();
    expect(() => s.put('kv', 'k', bytes('v'))).toThrow(/closed/);
    expect(() => s.delete('kv', 'k')).toThrow(/closed/);
    expect(() => s.load('kv')).toThrow(/closed/);
    expect(() => s.flush()).toThrow(/closed/);
    expect(() => s.close()).not.toThrow();
  });
});

describe('MemoryStorage', () => {
  it('is not durable', () => {
    expect(new MemoryStorage().durable).toBe(false);
  });
});

describe('SqliteStorage', () => {
  const file = () => join(dir, 'nested', 'deeper', 'gcs.db');

  it('is durable and creates the parent folder', () => {
    const s = track(new SqliteStorage(file()));
    expect(s.durable).toBe(true);
    s.put('kv', 'k', bytes('v'));
    s.close();
    const again = track(new SqliteStorage(file()));
    expect(rows(again, 'kv')).toEqual({ k: 'v' });
  });

  it('keeps rows across close and reopen', () => {
    const s = new SqliteStorage(file());
    s.put('tasks', 't1', bytes('one'));
    s.put('tasks', 't2', bytes('two'));
    s.put('objects', 'o1', bytes('obj'));
    s.flush();
    s.delete('tasks', 't2');
    s.put('tasks', 't1', bytes('uno'));
    s.close(); // flushes the buffered tail

    const r = track(new SqliteStorage(file()));
    expect(rows(r, 'tasks')).toEqual({ t1: 'uno' });
    expect(rows(r, 'objects')).toEqual({ o1: 'obj' });
    expect(rows(r, 'events')).toEqual({});
  });

  it('groups 50,000 puts into few transactions', () => {
    const s = track(new SqliteStorage(file()));
    const value = bytes('x'.repeat(64));
    for (let i = 0; i < 50_000; i++) s.put('tasks', `task-${i}`, value);
    s.flush();
    expect(s.stats.rowsWritten).toBe(50_000);
    expect(s.stats.flushes).toBeGreaterThan(0);
    expect(s.stats.flushes).toBeLessThan(10);
    expect([...s.load('tasks')].length).toBe(50_000);
  });

  it('flushes at once when maxBuffered changes are pending', () => {
    const s = track(new SqliteStorage(file(), { flushIntervalMs: 60_000, maxBuffered: 100 }));
    for (let i = 0; i < 250; i++) s.put('kv', `k${i}`, bytes('v'));
    expect(s.stats).toMatchObject({ flushes: 2, rowsWritten: 200 });
    // Rewriting one key does not grow the buffer.
    for (let i = 0; i < 500; i++) s.put('kv', 'same', bytes(String(i)));
    expect(s.stats.flushes).toBe(2);
  });

  it('flushes on its own after flushIntervalMs', async () => {
    const s = track(new SqliteStorage(file(), { flushIntervalMs: 5 }));
    s.put('kv', 'k', bytes('v'));
    expect(s.stats.flushes).toBe(0);
    // The 5 ms timer fires on its own; a loaded machine may take a while to run it (no flush() call here).
    await vi.waitFor(() => expect(s.stats).toMatchObject({ flushes: 1, rowsWritten: 1 }), { timeout: 10_000, interval: 5 });
    const other = track(new SqliteStorage(file()));
    expect(rows(other, 'kv')).toEqual({ k: 'v' });
  });

  it('compacts its log to the live rows: rewrites and deletes leave no garbage behind', () => {
    const f = file();
    const s = track(new SqliteStorage(f, { flushIntervalMs: 60_000, maxBuffered: 1000 }));
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 1000; i++) s.put('tasks', `t${i}`, bytes(`r${round}`));
      s.flush();
    }
    for (let i = 0; i < 500; i++) s.delete('tasks', `t${i}`);
    s.flush();
    expect(s.stats.logRows).toBe(5500);
    s.compact();
    expect(s.stats.logRows).toBe(500);
    expect(s.stats.compactions).toBe(1);
    const live = rows(s, 'tasks');
    expect(Object.keys(live)).toHaveLength(500);
    expect(live.t999).toBe('r4');
    s.close();
    const again = track(new SqliteStorage(f));
    expect(Object.keys(rows(again, 'tasks'))).toHaveLength(500);
  });

  it('loses at most the unflushed tail when the process dies without close', () => {
    const first = track(new SqliteStorage(file(), { flushIntervalMs: 60_000 }));
    first.put('tasks', 'flushed-1', bytes('a'));
    first.put('tasks', 'flushed-2', bytes('b'));
    first.flush();
    first.put('tasks', 'tail', bytes('c'));
    first.delete('tasks', 'flushed-1');

    // A second connection stands in for the restarted process; the first is
    // never closed, as if the process had been killed.
    const second = track(new SqliteStorage(file()));
    expect(rows(second, 'tasks')).toEqual({ 'flushed-1': 'a', 'flushed-2': 'b' });
    expect(second.stats.flushes).toBe(0);
  });

  // Issue 14, session 15: the writes run in a worker thread (sqlite-worker.ts).
  it('reports a write SQLite refused on the next call, and writes it, before anything newer, once SQLite takes it', () => {
    const f = file();
    const s = track(new SqliteStorage(f, { flushIntervalMs: 60_000 }));
    s.put('kv', 'first', bytes('1'));
    s.flush();
    // Another connection takes the log away: the worker's next INSERT fails.
    const other = new Database(f);
    other.exec('ALTER TABLE log RENAME TO hidden');
    s.put('kv', 'second', bytes('2'));
    expect(() => s.flush()).toThrow(expect.objectContaining({ code: 'GCS_UNAVAILABLE', message: expect.stringMatching(/refused a write: .*log/) }));
    s.delete('kv', 'first');
    expect(() => s.flush()).toThrow(expect.objectContaining({ code: 'GCS_UNAVAILABLE' })); // still refused: both batches kept, in order
    other.exec('ALTER TABLE hidden RENAME TO log');
    other.close();
    s.put('kv', 'third', bytes('3'));
    s.flush(); // the refused batches go first, then this one
    expect(rows(s, 'kv')).toEqual({ second: '2', third: '3' });
  });

  // Issue 14, session 16: a refusal spell (a full disk) is bounded and loses nothing.
  it('while SQLite refuses writes, keeps them in order, holds new work back past maxKeptRows, and writes them on its own once it can', async () => {
    const f = file();
    const s = track(new SqliteStorage(f, { flushIntervalMs: 60_000, maxKeptRows: 100 }));
    s.put('kv', 'before', bytes('0'));
    s.flush();
    const other = new Database(f);
    other.exec('ALTER TABLE log RENAME TO hidden');
    for (let i = 0; i < 60; i++) s.put('tasks', `a${i}`, bytes(`a${i}`));
    s.flushSoon();
    await vi.waitFor(() => expect(s.keptRows).toBe(60));
    expect(s.backlog()).toBeUndefined(); // refused, but under the bound
    // Changes go on while refused: neither put nor delete throws the refusal into its caller.
    for (let i = 0; i < 60; i++) s.put('tasks', `b${i}`, bytes(`b${i}`));
    s.delete('tasks', 'a0');
    s.flushSoon();
    await vi.waitFor(() => expect(s.keptRows).toBe(121));
    expect(s.backlog()).toMatch(/^SQLite file .* refused a write: .*log.*; 121 changes wait in memory \(at most 100 before new work is refused\)$/);
    other.exec('ALTER TABLE hidden RENAME TO log');
    other.close();
    // No new call: the writer thread tries again by itself.
    await vi.waitFor(() => expect(s.keptRows).toBe(0), { timeout: 10_000 });
    expect(s.backlog()).toBeUndefined();
    expect(() => s.flush()).toThrow(/refused a write/); // the refusal is still reported once
    const live = rows(s, 'tasks');
    expect(Object.keys(live)).toHaveLength(119);
    expect(live.a0).toBeUndefined();
    expect(live.b59).toBe('b59');
    expect(rows(s, 'kv')).toEqual({ before: '0' });
  });

  it('close hands over and writes everything buffered, several batches in flight', () => {
    const f = file();
    const s = new SqliteStorage(f, { flushIntervalMs: 60_000, maxBuffered: 1000 });
    for (let i = 0; i < 10_500; i++) s.put('tasks', `t${i}`, bytes(`v${i}`));
    expect(s.stats.flushes).toBe(10); // handed over without waiting; the last 500 still buffered
    s.close();
    const again = track(new SqliteStorage(f));
    const live = rows(again, 'tasks');
    expect(Object.keys(live)).toHaveLength(10_500);
    expect(live.t10499).toBe('v10499');
  });

  it('a process killed with SIGKILL keeps what it flushed and loses only its unflushed tail', async () => {
    const f = file();
    const module = pathToFileURL(join(process.cwd(), 'dist/coordinator/gcs/sqlite-storage.js')).href;
    const script = `
      const { SqliteStorage } = await import(${JSON.stringify(module)});
      const s = new SqliteStorage(${JSON.stringify(f)}, { flushIntervalMs: 60_000 });
      for (let i = 0; i < 5000; i++) s.put('tasks', 'kept' + i, new TextEncoder().encode('v' + i));
      s.flush();
      s.put('tasks', 'tail', new TextEncoder().encode('lost'));
      s.delete('tasks', 'kept0');
      process.stdout.write('flushed\\n');
      setInterval(() => {}, 1000);
    `;
    // A file, not `-e`: a worker thread inherits `--input-type`, which it refuses.
    const scriptFile = join(dir, 'writer.mjs');
    writeFileSync(scriptFile, script);
    const child = spawn(process.execPath, [scriptFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('flushed') && resolve());
        child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it flushed`)));
      });
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    const after = track(new SqliteStorage(f));
    const live = rows(after, 'tasks');
    expect(Object.keys(live)).toHaveLength(5000);
    expect(live.kept0).toBe('v0');
    expect(live.tail).toBeUndefined();
  });

  it('rejects bad options', () => {
    expect(() => new SqliteStorage(file(), { maxBuffered: 0 })).toThrow(/maxBuffered/);
    expect(() => new SqliteStorage(file(), { flushIntervalMs: -1 })).toThrow(/flushIntervalMs/);
  });
});
