// RedisStorage on a real redis-server and a real 3-master Cluster (issue 15):
// the key layout a Cluster shards, grouped writes, durability across a
// reopen and a Redis restart (AOF), and clear errors for what goes wrong.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisStorage } from '../../coordinator/gcs/redis-storage.js';
import type { TableName } from '../../coordinator/gcs/storage.js';
import { startRedis, startRedisCluster, type RedisCluster, type RedisServer } from '../helpers/redis.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

function rows(s: RedisStorage, table: TableName): Record<string, string> {
  return Object.fromEntries([...s.load(table)].map(([k, v]) => [k, dec.decode(v)]));
}

let redis: RedisServer;
let cluster: RedisCluster;
beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startRedisCluster(3)]);
}, 60_000);
afterAll(async () => {
  await Promise.all([redis?.destroy(), cluster?.destroy()]);
});

const opened: RedisStorage[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) {
    try {
      s.close();
    } catch {
      // a test that broke Redis on purpose
    }
  }
});
let n = 0;
function open(url: string, opts: Partial<ConstructorParameters<typeof RedisStorage>[0]> = {}): RedisStorage {
  const s = new RedisStorage({ url, prefix: `t${++n}`, ...opts });
  opened.push(s);
  return s;
}

/** `INFO commandstats` calls of one command. */
async function calls(server: RedisServer, cmd: string): Promise<number> {
  const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await server.cli('info', 'commandstats'));
  return m ? Number(m[1]) : 0;
}

describe('RedisStorage on one redis-server', () => {
  it("keeps a job's rows in one hash per table under the job's hash tag", async () => {
    const s = open(redis.url, { prefix: 'layout' });
    expect(s.cluster).toBe(false);
    s.put('tasks', 'task-1', bytes('t1'), 'job1');
    s.put('objects', 'obj-1', bytes('o1'), 'job1');
    s.put('jobs', 'job1', bytes('j'), 'job1');
    s.put('functions', 'fn', bytes('f'));
    s.flush();
    const keys = (await redis.cli('--scan', '--pattern', 'layout:*')).split('\n').filter(Boolean).sort();
    expect(keys).toEqual(['layout:{_}:functions', 'layout:{job1}:jobs', 'layout:{job1}:objects', 'layout:{job1}:tasks']);
    expect((await redis.cli('hget', 'layout:{job1}:tasks', 'task-1')).trim()).toBe('t1');
    // A delete with the row's group removes it from Redis.
    s.delete('tasks', 'task-1', 'job1');
    s.flush();
    expect((await redis.cli('hexists', 'layout:{job1}:tasks', 'task-1')).trim()).toBe('0');
  });

  it('writes 50,000 rows of one job with a handful of commands, not one per row', async () => {
    // A 60 s bound on each call (10 s by default): it counts commands, not time; at load 35-45 (session 36) reading the
    // 40,000 rows back took over 10 s.
    const s = open(redis.url, { maxBuffered: 20_000, flushIntervalMs: 60_000, timeoutMs: 60_000 });
    const before = await calls(redis, 'hset');
    const value = bytes('x'.repeat(64));
    for (let i = 0; i < 50_000; i++) s.put('tasks', `task-${i}`, value, 'bigjob');
    for (let i = 0; i < 10_000; i++) s.delete('tasks', `task-${i}`, 'bigjob');
    s.flush();
    expect(s.stats.rowsWritten).toBe(60_000);
    expect(s.stats.flushes).toBeLessThanOrEqual(4);
    expect((await calls(redis, 'hset')) - before).toBeLessThanOrEqual(4);
    expect([...s.load('tasks')].length).toBe(40_000);
  });

  it('keeps rows across close and reopen, and a second storage reads what the first flushed', () => {
    const a = open(redis.url, { prefix: 'reopen', flushIntervalMs: 60_000 });
    a.put('tasks', 't1', bytes('one'), 'j');
    a.put('tasks', 't2', bytes('two'), 'j');
    a.flush();
    a.put('tasks', 'tail', bytes('unflushed'), 'j');
    // Another coordinator process (or this one restarted): flushed rows only.
    const b = open(redis.url, { prefix: 'reopen' });
    expect(rows(b, 'tasks')).toEqual({ t1: 'one', t2: 'two' });
    a.delete('tasks', 't1', 'j');
    a.close(); // flushes its tail
    expect(rows(b, 'tasks')).toEqual({ t2: 'two', tail: 'unflushed' });
  });

  it('flushes on its own after flushIntervalMs', async () => {
    const s = open(redis.url, { prefix: 'timer', flushIntervalMs: 5 });
    s.put('kv', 'k', bytes('v'));
    expect(s.stats.flushes).toBe(0);
    const end = Date.now() + 10_000;
    while ((await redis.cli('hget', 'timer:{_}:kv', 'k')).trim() !== 'v') {
      if (Date.now() > end) throw new Error('the timer flush never reached Redis');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(s.stats.flushes).toBe(1);
  });

  it('rows flushed before Redis is killed survive its restart (AOF), and writes go on after it', async () => {
    const own = await startRedis();
    try {
      const s = new RedisStorage({ url: own.url, prefix: 'aof', timeoutMs: 20_000 });
      s.put('jobs', 'j1', bytes('job'), 'j1');
      s.put('objects', 'o1', bytes('result'), 'j1');
      s.flush();
      // appendfsync everysec: a write is on disk within about a second.
      await new Promise((r) => setTimeout(r, 1500));
      await own.restart(); // SIGKILL, then start on the same folder
      s.put('objects', 'o2', bytes('after'), 'j1');
      s.flush(); // the connection comes back by itself
      s.close();
      await own.stop(); // SIGTERM: fsync and exit
      await own.restart();
      const again = new RedisStorage({ url: own.url, prefix: 'aof' });
      expect(rows(again, 'jobs')).toEqual({ j1: 'job' });
      expect(rows(again, 'objects')).toEqual({ o1: 'result', o2: 'after' });
      again.close();
    } finally {
      await own.destroy();
    }
  }, 60_000);

  it('a write Redis refuses is reported, with its reason: by flush, also after a timer flush; never thrown into a put', async () => {
    await redis.cli('set', 'refuse:{_}:kv', 'not a hash');
    const s = open(redis.url, { prefix: 'refuse', flushIntervalMs: 1 });
    s.put('kv', 'k', bytes('v'));
    s.put('tasks', 't', bytes('fine'), 'j');
    expect(() => s.flush()).toThrow(expect.objectContaining({ code: 'GCS_UNAVAILABLE', message: expect.stringMatching(/WRONGTYPE/) }));
    // Another job's rows in the same batch were written.
    expect((await redis.cli('hget', 'refuse:{j}:tasks', 't')).trim()).toBe('fine');
    s.put('kv', 'k2', bytes('v')); // the timer flush is refused in the background
    await new Promise((r) => setTimeout(r, 200));
    // A put goes on (issue 14, session 16: a refusal thrown into a change left a task half admitted) ...
    for (let i = 0; i < 10; i++) s.put('kv', `k${i + 3}`, bytes('v'));
    // ... and the next flush reports it.
    expect(() => s.flush()).toThrow(expect.objectContaining({ code: 'GCS_UNAVAILABLE', message: expect.stringMatching(/WRONGTYPE/) }));
  });
});

describe('RedisStorage writes fenced by a lease (issue 15)', () => {
  /** Waits for the worker's answer to reach the storage: takeFenced reads what it posted. */
  async function fencedSoon(s: RedisStorage): Promise<string[]> {
    for (let i = 0; i < 100; i++) {
      const got = s.takeFenced();
      if (got.length) return got;
      await new Promise((r) => setTimeout(r, 20));
    }
    return [];
  }

  async function fencedCase(url: string, cli: (...a: string[]) => Promise<string>): Promise<void> {
    const s = open(url, { prefix: 'fence', flushIntervalMs: 60_000 });
    await cli('set', 'fence:{jobA}:fence', '1:coordA');
    s.fence('jobA', '1:coordA');
    // Over 512 rows (the script's runs) of sets and deletes, with the token Redis holds: applied.
    for (let i = 0; i < 1500; i++) s.put('tasks', `t${i}`, bytes(`a${i}`), 'jobA');
    s.flush();
    for (let i = 0; i < 700; i++) s.delete('tasks', `t${i}`, 'jobA');
    s.put('objects', 'o1', bytes('a-object'), 'jobA');
    s.flush();
    expect((await cli('hlen', 'fence:{jobA}:tasks')).trim()).toBe('800');
    expect((await cli('hget', 'fence:{jobA}:tasks', 't1499')).trim()).toBe('a1499');
    expect(s.takeFenced()).toEqual([]);

    // Another coordinator takes the lease (epoch 2) and writes the job's rows.
    await cli('set', 'fence:{jobA}:fence', '2:coordB');
    await cli('hset', 'fence:{jobA}:tasks', 't1499', 'b1499');
    // The old owner's late writes, in one batch with another job's and a row of no job: only the fenced job's are refused.
    s.put('tasks', 't1499', bytes('late'), 'jobA');
    s.delete('objects', 'o1', 'jobA');
    s.put('tasks', 'x', bytes('other'), 'jobB');
    s.put('kv', 'k', bytes('kv'));
    s.flush();
    expect(await fencedSoon(s)).toEqual(['jobA']);
    expect(s.stats.fencedWrites).toBe(1);
    expect((await cli('hget', 'fence:{jobA}:tasks', 't1499')).trim()).toBe('b1499');
    expect((await cli('hget', 'fence:{jobA}:objects', 'o1')).trim()).toBe('a-object');
    expect((await cli('hget', 'fence:{jobB}:tasks', 'x')).trim()).toBe('other');
    expect((await cli('hget', 'fence:{_}:kv', 'k')).trim()).toBe('kv');
    // Later writes of the refused job are dropped here, without a round trip; said once.
    s.put('tasks', 't1499', bytes('later'), 'jobA');
    s.flush();
    expect((await cli('hget', 'fence:{jobA}:tasks', 't1499')).trim()).toBe('b1499');
    expect(s.takeFenced()).toEqual([]);
    expect(s.stats.fencedWrites).toBe(1);
    // Fenced again with the token it holds now (it took the job back): its writes apply.
    await cli('set', 'fence:{jobA}:fence', '3:coordA');
    s.fence('jobA', '3:coordA');
    s.put('tasks', 't1499', bytes('back'), 'jobA');
    s.flush();
    expect((await cli('hget', 'fence:{jobA}:tasks', 't1499')).trim()).toBe('back');
    // Other cases count the Cluster's keys.
    s.close();
    for (const k of ['fence:{jobA}:fence', 'fence:{jobA}:tasks', 'fence:{jobA}:objects', 'fence:{jobB}:tasks', 'fence:{_}:kv']) await cli('del', k);
  }

  it("a job's writes apply while Redis holds its token; once another takes its lease they are refused, other jobs' rows in the same batch are not", async () => {
    await fencedCase(redis.url, (...a) => redis.cli(...a));
  });

  it("the same on a 3-master Cluster (the fence shares the job's slot)", async () => {
    await fencedCase(cluster.url, (...a) => cluster.servers[0].cli('-c', ...a));
  });
});

describe('RedisStorage on a 3-master Cluster', () => {
  it('finds the Cluster behind one URL and spreads jobs over its masters', async () => {
    const s = open(cluster.url, { prefix: 'spread' });
    expect(s.cluster).toBe(true);
    expect(s.masters).toBe(3);
    for (let j = 0; j < 60; j++) {
      for (let i = 0; i < 20; i++) s.put('tasks', `task-${j}-${i}`, bytes(`${j}.${i}`), `job${j}`);
      s.put('objects', `obj-${j}`, bytes(`o${j}`), `job${j}`);
    }
    s.flush();
    const perMaster = await Promise.all(cluster.servers.map(async (m) => Number((await m.cli('dbsize')).trim())));
    expect(perMaster.filter((k) => k > 0).length).toBe(3);
    expect(perMaster.reduce((a, b) => a + b, 0)).toBe(120);
    // A job's tables share a slot.
    const slot = async (key: string) => (await cluster.servers[0].cli('cluster', 'keyslot', key)).trim();
    expect(await slot('spread:{job7}:tasks')).toBe(await slot('spread:{job7}:objects'));
    const again = open(cluster.url, { prefix: 'spread' });
    expect([...again.load('tasks')].length).toBe(1200);
    expect(rows(again, 'objects')['obj-59']).toBe('o59');
  });
});

describe('RedisStorage errors', () => {
  it('rejects a bad URL, a bad prefix and bad options with BAD_ARGUMENT', () => {
    expect(() => new RedisStorage({ url: 'localhost:6379' })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => new RedisStorage({ url: 'http://127.0.0.1:6379' })).toThrow(/redis:\/\//);
    expect(() => new RedisStorage({ url: redis.url, prefix: 'a b' })).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => new RedisStorage({ url: redis.url, maxBuffered: 0 })).toThrow(/maxBuffered/);
    const s = open(redis.url);
    expect(() => s.put('kv', 'k', bytes('v'), 'a}b')).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });

  it('a worker thread that dies makes every later call fail with GCS_UNAVAILABLE, not a silent loss', async () => {
    const s = open(redis.url);
    await (s as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await new Promise((r) => setTimeout(r, 50)); // the exit event
    expect(() => s.put('kv', 'k', bytes('v'))).toThrow(
      expect.objectContaining({ code: 'GCS_UNAVAILABLE', message: expect.stringMatching(/worker thread stopped/) }),
    );
    expect(() => s.flush()).toThrow(/worker thread stopped/);
    expect(() => s.close()).not.toThrow(); // nothing was buffered
    expect(() => s.close()).not.toThrow();
  });

  it('says so when Redis cannot be reached', async () => {
    const gone = await startRedis();
    const url = gone.url;
    await gone.destroy();
    expect(() => new RedisStorage({ url, timeoutMs: 3000 })).toThrow(
      expect.objectContaining({ code: 'GCS_UNAVAILABLE', message: expect.stringContaining(`cannot reach Redis at ${url}`) }),
    );
  });

  it('an explicit flush while Redis is down times out with GCS_UNAVAILABLE and keeps the rows for when it is back', async () => {
    const own = await startRedis();
    try {
      const s = new RedisStorage({ url: own.url, prefix: 'down', timeoutMs: 1000 });
      await own.kill();
      s.put('kv', 'k', bytes('kept'));
      expect(() => s.flush()).toThrow(expect.objectContaining({ code: 'GCS_UNAVAILABLE', message: expect.stringMatching(/timed out/) }));
      await own.restart();
      const end = Date.now() + 20_000;
      while ((await own.cli('hget', 'down:{_}:kv', 'k')).trim() !== 'kept') {
        if (Date.now() > end) throw new Error('the row never reached Redis after it came back');
        await new Promise((r) => setTimeout(r, 50));
      }
      s.close();
    } finally {
      await own.destroy();
    }
  }, 60_000);
});
