// A coordinator that lost its job's lease must not write the job's rows, and
// a node that moved to another coordinator keeps what it holds (issue 15).
// Real processes on a real redis-server: a coordinator paused with SIGSTOP
// past its lease while its driver is cut off from it (a GC pause, a
// partition); a coordinator SIGKILLed whose node joins the other before the
// job's driver comes back.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { unpack } from 'msgpackr';
import { useRedis } from '../helpers/redis.js';
import { edgeNodes, getJson, kill, redisCoordinator, restartablePort, stats, statsWhen, tempDir, type Coord } from '../helpers/processes.js';
import { tcpProxy, type Proxy } from '../helpers/proxy.js';
import { until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { returnObjectId, type TaskId } from '../../shared/ids.js';

/** The job grace of the case whose wait is that grace (a let-go actor's copy stopped once it passes). */
const STAY_GRACE_MS = 3000;

let mesh: Mesh | undefined;
const proxies: Proxy[] = [];
const stopped: Coord[] = [];
const redis = useRedis(async () => {
  for (const c of stopped.splice(0)) c.proc.kill('SIGCONT');
  await mesh?.close().catch(() => {});
  mesh = undefined;
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

async function events(url: string, token: string, kind: string): Promise<string[]> {
  return ((await getJson<{ message: string }[]>(url, `/api/events?kind=${kind}`, token)) ?? []).map((e) => e.message);
}

async function selfId(url: string, token: string): Promise<string> {
  const rows = await until(() => getJson<{ id: string; self: boolean }[]>(url, '/api/coordinators', token), {
    timeoutMs: 10_000,
    what: 'the coordinator list',
  });
  return rows.find((r) => r.self)!.id;
}

/** A stops (SIGSTOP) and the driver's path to it is cut, until B has taken the job over. */
async function pauseTillTakenOver(a: Coord, b: Coord, toA: Proxy, token: string): Promise<void> {
  a.proc.kill('SIGSTOP');
  stopped.push(a);
  toA.cut();
  await until(async () => (await events(b.url, token, 'job-taken-over')).length === 1, { timeoutMs: 30_000, what: 'B to take the job over' });
}

/** A resumes (SIGCONT) and finds its lease gone: its job-let-go event. */
async function resumeTillLetGo(a: Coord, token: string): Promise<string> {
  a.proc.kill('SIGCONT');
  stopped.splice(0);
  return until(async () => (await events(a.url, token, 'job-let-go'))[0], { timeoutMs: 30_000, what: 'A to let go of the job' });
}

async function linked(cs: Coord[], token: string): Promise<void> {
  for (const c of cs) {
    await until(async () => ((await getJson<unknown[]>(c.url, '/api/coordinators', token))?.length ?? 0) === cs.length, {
      timeoutMs: 15_000,
      what: `${c.url} to list ${cs.length} coordinators`,
    });
  }
}

describe('fenced writes and moved holdings', () => {
  it("a coordinator paused past its job's lease (SIGSTOP) while its driver is cut off: the other takes the job over; resumed, the paused one lets go and writes nothing of it; the results are exact", async () => {
    const token = 'fence-' + Math.random().toString(36).slice(2);
    const [a, b] = await Promise.all([redisCoordinator(redis.server.url, 'fence', token), redisCoordinator(redis.server.url, 'fence', token)]);
    await Promise.all([edgeNodes(a, token, 1, `${a.url},${b.url}`), edgeNodes(b, token, 1, `${b.url},${a.url}`)]);
    await linked([a, b], token);
    const bId = await selfId(b.url, token);
    // The driver reaches A through a path the test can cut (A's own nodes and B still reach A).
    const toA = await tcpProxy(a.url);
    proxies.push(toA);
    mesh = await connect({ url: [toA.url, b.url], token, reconnectTimeoutMs: 60_000 });
    const m = mesh;
    const job = m.jobId;
    const work = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 10));
      return i * 5 + 2;
    });
    const refs = Array.from({ length: 600 }, (_, i) => work.remote(i));
    const all = m.get(refs, { timeoutMs: 120_000 });
    await until(async () => ((await stats(a.url, token))?.tasksFinished ?? 0) >= 100, { timeoutMs: 60_000, what: 'the job to be under way on A' });

    // A stops (its node goes on running what it was given), and the driver loses its path to A.
    await pauseTillTakenOver(a, b, toA, token);
    const r = new Redis(redis.server.url);
    try {
      expect(await r.get(`fence:{${job}}:fence`)).toBe(`2:${bId}`);
      // A wakes with the job's rows still buffered and its node's reports queued: Redis refuses what it writes, or its lease renewal fails first.
      const letGo = await resumeTillLetGo(a, token);
      expect(letGo).toMatch(/another coordinator took its lease/);
      console.log(`A: ${letGo}`);
      const got = await all.catch(async (e: unknown) => {
        // The interleaving, for a flake: both coordinators' events around the takeover.
        for (const [name, c] of [
          ['A', a],
          ['B', b],
        ] as const) {
          const ev = (await getJson<{ kind: string; message: string; ts: number }[]>(c.url, '/api/events', token)) ?? [];
          console.log(
            name,
            JSON.stringify(ev.filter((x) => !/^task-(started|finished)$/.test(x.kind)).map((x) => [x.ts % 100_000, x.kind, x.message])).slice(-12_000),
          );
        }
        throw e;
      });
      expect(got).toEqual(Array.from({ length: 600 }, (_, i) => i * 5 + 2));
      // The job is B's: A holds no lease on it and lists no job of its own.
      expect(await r.get(`fence:{${job}}:lease`)).toBe(bId);
      expect((await getJson<{ self: boolean; jobs: number }[]>(a.url, '/api/coordinators', token))!.find((c) => c.self)!.jobs).toBe(0);
      await mesh.close();
      mesh = undefined;
      // B ends the job when its driver says goodbye; that row is not overwritten by A.
      await until(
        async () => {
          const row = await r.hgetBuffer(`fence:{${job}}:jobs`, job);
          return row && (unpack(row) as { state: string }).state === 'finished';
        },
        { timeoutMs: 10_000, what: "the job's row to say finished" },
      );
      expect(await r.get(`fence:{${job}}:fence`)).toBe(`2:${bId}`);
    } finally {
      r.disconnect();
    }
  }, 180_000);

  it("tasks running on the paused coordinator's node past the pause: the new owner places them there again as their next attempt, and the node reports under it (no hang)", async () => {
    const token = 'again-' + Math.random().toString(36).slice(2);
    const [a, b] = await Promise.all([redisCoordinator(redis.server.url, 'again', token), redisCoordinator(redis.server.url, 'again', token)]);
    // Only A has a node (2 CPUs): once B owns the job, it places the job's tasks there through A. B never saw the job's
    // function: it reads it from Redis with the job's rows (its first placement crashed on it).
    const [node] = await edgeNodes(a, token, 1, `${a.url},${b.url}`);
    await linked([a, b], token);
    const toA = await tcpProxy(a.url);
    proxies.push(toA);
    mesh = await connect({ url: [toA.url, b.url], token, reconnectTimeoutMs: 60_000 });
    const m = mesh;
    // The runs last until the test opens the gate (a file the node's task polls for), not a fixed 15 s: they go on
    // past the pause, the takeover and the let-go however long those take under load.
    const gate = join(tempDir('tabmesh-gate-'), 'open');
    const slow = m.remote(async (i: number, path: string) => {
      const fs = process.getBuiltinModule('node:fs');
      while (!fs.existsSync(path)) await new Promise((r) => setTimeout(r, 50));
      return i * 3;
    });
    const all = m.get([slow.remote(1, gate), slow.remote(2, gate)], { timeoutMs: 60_000 });
    await until(async () => (await getJson<unknown[]>(a.url, '/api/tasks?state=running&after=0', token))?.length === 2, {
      timeoutMs: 30_000,
      what: "both tasks to run on A's node",
    });
    await pauseTillTakenOver(a, b, toA, token);
    await resumeTillLetGo(a, token);
    // The runs on the node went on through the let-go; B's next attempts reach the node while they run. Dropped there, the
    // node reported the old attempts, which nobody waits for: the driver waited out its timeout.
    const again = /assigned again as attempt 1: its run of attempt 0 goes on for it/;
    await until(() => again.test(node.out.join('')), { timeoutMs: 30_000, what: "B's next attempt to reach the node while the runs go on" });
    writeFileSync(gate, '');
    expect(await all).toEqual([3, 6]);
    expect(node.out.join('')).toMatch(again);
  }, 180_000);

  it('a coordinator that lets a job go leaves its actors alive on its nodes: the counter moves with its node to the new owner and keeps its count', async () => {
    const token = 'letgo-' + Math.random().toString(36).slice(2);
    const [a, b] = await Promise.all([redisCoordinator(redis.server.url, 'letgo', token), redisCoordinator(redis.server.url, 'letgo', token)]);
    // A's node names B next: it moves there when A is gone for good.
    const [node] = await edgeNodes(a, token, 1, `${a.url},${b.url}`);
    await linked([a, b], token);
    const toA = await tcpProxy(a.url);
    proxies.push(toA);
    mesh = await connect({ url: [toA.url, b.url], token, reconnectTimeoutMs: 60_000 });
    const m = mesh;
    class Counter {
      n = 0;
      inc(): number {
        return ++this.n;
      }
    }
    const counter = m.remote(Counter).remote();
    for (let i = 1; i <= 3; i++) expect(await m.get(counter.inc.remote(), { timeoutMs: 30_000 })).toBe(i);

    // A stops at once (its last grouped writes may not be in Redis: B asks the node about the constructor) and stays
    // stopped past its lease while the driver's path to it is cut: B takes the job over; the actor waits for its node.
    await pauseTillTakenOver(a, b, toA, token);
    // A wakes, finds the lease gone and lets the job go: its node (still A's) keeps the actor.
    await resumeTillLetGo(a, token);
    // A goes for good; its node joins B with the actor it kept, and B attaches it.
    const aEvents = (await getJson<{ kind: string; message: string }[]>(a.url, '/api/events?limit=200', token)) ?? [];
    await kill(a);
    try {
      expect(await m.get(counter.inc.remote(), { timeoutMs: 60_000 })).toBe(4);
    } catch (e) {
      const all = (await getJson<{ kind: string; message: string; at?: number; time?: number }[]>(b.url, '/api/events?limit=200', token)) ?? [];
      console.log(JSON.stringify(all.map((x) => [x.kind, x.message, x.at ?? x.time])).slice(-6000));
      console.log('A', JSON.stringify(aEvents.map((x) => [x.kind, x.message])).slice(-4000));
      console.log('NODE', node.out.join('').slice(-3000));
      throw e;
    }
    expect(await m.get(counter.inc.remote(), { timeoutMs: 30_000 })).toBe(5);
  }, 180_000);

  it('a coordinator that lets a job go and stays: its node cannot bring the actor to the new owner, which declares it dead after its grace; the copy on the node is stopped then', async () => {
    const token = 'stay-' + Math.random().toString(36).slice(2);
    // A job grace of 3 s (the let-go actor's grace with it; 10 s by default): the wait under test, shortened.
    const short = ['--job-grace-ms', String(STAY_GRACE_MS)];
    const [a, b] = await Promise.all([
      redisCoordinator(redis.server.url, 'stay', token, 0, short),
      redisCoordinator(redis.server.url, 'stay', token, 0, short),
    ]);
    const [node] = await edgeNodes(a, token, 1, `${a.url},${b.url}`);
    await linked([a, b], token);
    const toA = await tcpProxy(a.url);
    proxies.push(toA);
    mesh = await connect({ url: [toA.url, b.url], token, reconnectTimeoutMs: 60_000 });
    const m = mesh;
    class Counter {
      n = 0;
      inc(): number {
        return ++this.n;
      }
    }
    const counter = m.remote(Counter).remote();
    expect(await m.get(counter.inc.remote(), { timeoutMs: 30_000 })).toBe(1);
    await pauseTillTakenOver(a, b, toA, token);
    await resumeTillLetGo(a, token);
    // A stays, and so does its node: the new owner's grace (STAY_GRACE_MS) passes without the host; then A stops the copy.
    const stoppedAt = await until(async () => (await events(a.url, token, 'actor-let-go-stopped'))[0], { timeoutMs: 40_000, what: 'A to stop the copy' });
    expect(stoppedAt).toContain(counter.actorId.slice(0, 12));
    await until(() => node.out.join('').includes(`actor Counter ${counter.actorId.slice(0, 8)} stopped: killed`), {
      timeoutMs: 10_000,
      what: 'the node to stop it',
    });
    await expect(m.get(counter.inc.remote(), { timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'ACTOR_DIED' });
  }, 180_000);

  it('an actor whose constructor returns while its coordinator is stopped (SIGSTOP), then killed: the new owner finds it on its node instead of failing it, and it keeps its state', async () => {
    const token = 'ctor-' + Math.random().toString(36).slice(2);
    const [a, b] = await Promise.all([redisCoordinator(redis.server.url, 'ctor', token), redisCoordinator(redis.server.url, 'ctor', token)]);
    const [node] = await edgeNodes(a, token, 1, `${a.url},${b.url}`);
    await linked([a, b], token);
    mesh = await connect({ url: [a.url, b.url], token, reconnectTimeoutMs: 60_000 });
    const m = mesh;
    class Slow {
      n: number;
      constructor(start: number) {
        // Long enough for the test to stop A after the creation was placed and before it returns.
        const end = Date.now() + 3000;
        while (Date.now() < end);
        this.n = start;
      }
      inc(): number {
        return ++this.n;
      }
    }
    const slow = m.remote(Slow).remote(40);
    const r = new Redis(redis.server.url);
    try {
      // A wrote where the constructor runs as soon as it placed it; it stops before the constructor returns.
      const placed = await until(async () => await r.hgetBuffer(`ctor:{${m.jobId}}:actors`, slow.actorId), {
        timeoutMs: 30_000,
        everyMs: 5,
        what: 'the placed actor row',
      });
      // The row goes to Redis from A's writer thread, the assign to the node at the end of A's turn: let that turn end first.
      await new Promise((r) => setTimeout(r, 500));
      a.proc.kill('SIGSTOP');
      stopped.push(a);
      expect(unpack(placed)).toMatchObject({ id: slow.actorId, placed: true });
      // The node's own word that the constructor returned (its report to A waits in A's socket).
      await until(() => node.out.join('').includes(`actor Slow ${slow.actorId.slice(0, 8)} started`), {
        timeoutMs: 30_000,
        what: 'the constructor to return on the node',
      });
      // Redis never heard of its end: the creation's output has no row, the actor row still says placed.
      expect(await r.hgetBuffer(`ctor:{${m.jobId}}:objects`, returnObjectId(slow.actorId as TaskId, 0))).toBeNull();
      expect(unpack((await r.hgetBuffer(`ctor:{${m.jobId}}:actors`, slow.actorId))!)).toMatchObject({ placed: true });
    } finally {
      r.disconnect();
    }
    stopped.splice(0);
    await kill(a);
    // The driver and the node move to B; B takes the job over and asks the node, which hosts the actor.
    expect(await m.get(slow.inc.remote(), { timeoutMs: 60_000 })).toBe(41);
    expect(await m.get(slow.inc.remote(), { timeoutMs: 30_000 })).toBe(42);
    expect(await events(b.url, token, 'actor-found')).toEqual([expect.stringMatching(/constructor was in flight .* hosts it/)]);
    expect(await events(b.url, token, 'actor-restarting')).toEqual([]);
  }, 180_000);

  it('a node that joins the other coordinator before the driver resumes keeps its objects: nothing is rebuilt from lineage', async () => {
    const token = 'moved-' + Math.random().toString(36).slice(2);
    const bPort = await restartablePort();
    const bUrl = `http://127.0.0.1:${bPort}`;
    const a = await redisCoordinator(redis.server.url, 'moved', token);
    // A's only node names B as its next coordinator; B starts later, with no node of its own.
    await edgeNodes(a, token, 1, `${a.url},${bUrl}`);
    // The driver's way to B stays shut until the node has moved.
    const toB = await tcpProxy(bUrl, { open: false });
    proxies.push(toB);
    mesh = await connect({ url: [a.url, toB.url], token, reconnectTimeoutMs: 60_000 });
    const m = mesh;
    // 200 KiB per output: stored on the node that made it, a fresh tag per run (a re-run would show).
    const make = m.remote((k: number) => ({ tag: Math.random().toString(36).slice(2), data: new Float64Array(25_600).fill(k) }));
    const read = m.remote((o: { tag: string; data: Float64Array }) => `${o.tag}:${o.data.reduce((s, x) => s + x, 0)}`);
    const made = Array.from({ length: 6 }, (_, k) => make.remote(k));
    const before = await m.get(
      made.map((x) => read.remote(x)),
      { timeoutMs: 60_000 },
    );
    expect(before.map((s) => Number(s.split(':')[1]))).toEqual([0, 1, 2, 3, 4, 5].map((k) => k * 25_600));

    const b = await redisCoordinator(redis.server.url, 'moved', token, bPort);
    await linked([a, b], token);
    await kill(a);
    // The node joins B and announces what it holds; B does not run the job yet.
    await until(async () => ((await stats(b.url, token))?.nodes ?? 0) >= 1, { timeoutMs: 30_000, what: "A's node to join B" });
    await new Promise((r) => setTimeout(r, 500));
    toB.open();
    await until(async () => (await events(b.url, token, 'job-taken-over')).length === 1, { timeoutMs: 30_000, what: 'B to take the job over' });
    const after = await m.get(
      made.map((x) => read.remote(x)),
      { timeoutMs: 60_000 },
    );
    // The same outputs, read where they were: no producer ran again.
    expect(after).toEqual(before);
    const s = await statsWhen(b.url, token, 'tasksFinished', 6);
    expect(s.tasksRebuilt).toBe(0);
    expect(s.tasksFinished).toBe(6);
    expect(await events(b.url, token, 'holdings-kept')).toEqual([expect.stringMatching(/: 6 copies announced before the takeover/)]);
  }, 180_000);
});
