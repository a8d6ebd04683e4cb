// Issue 8: limits per connection and per address. Over a limit the offending
// connection gets an error naming it and is closed; the rest of the mesh
// goes on (a legitimate driver's tasks still run).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { HostileNode, RawPeer } from './hostile.js';
import { PROTOCOL_VERSION, type Msg } from '../../shared/protocol/messages.js';
import { childTaskId, functionId, rootTaskId, putObjectId } from '../../shared/ids.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { DRIVER_ROOM, LimitKeeper } from '../../coordinator/limits/limits.js';
import { FD_RESERVE, openFileLimit, sessionBudget } from '../../coordinator/limits/open-files.js';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { BACKOFF, rejoinDelay, retryReason } from '../../shared/backoff.js';

describe('limits', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({
      nodes: 1,
      cpus: 2,
      limits: { messagesPerSec: 2000, messagesBurst: 5000, maxTasksPerJob: 2000, maxObjectBytes: 1 << 20, connectionsPerAddress: 30 },
    });
    m = await cl.driver();
  }, 60_000);
  afterAll(() => cl?.stop());

  async function stillServes(): Promise<void> {
    const f = m.remote((x: number) => x * 2);
    expect(await m.get(f.remote(21))).toBe(42);
  }

  async function driverPeer(): Promise<{ p: RawPeer; job: string }> {
    const p = await RawPeer.open(cl.url);
    p.send({ t: 'hello', role: 'driver', version: PROTOCOL_VERSION, token: cl.token });
    const w = await p.welcome();
    return { p, job: w.jobId! };
  }

  it('a node that floods signalling is refused, then disconnected; the node it targeted goes on', async () => {
    const bad = await HostileNode.join(cl.url, { cpus: 0, name: 'signal-flooder' });
    const target = [...cl.c.coordinator.gcs.nodes.values()].find((n) => n.name !== 'signal-flooder')!;
    for (let i = 0; i < 10 && !bad.peer.isClosed; i++) {
      bad.peer.send(...Array.from({ length: 200 }, (): Msg => ({ t: 'signal', peer: target.id, data: '{"g":"x","s":{"type":"offer","sdp":"junk"}}' })));
    }
    await bad.peer.closed;
    expect(bad.peer.error()).toMatchObject({ code: 'SIGNAL_FLOOD' });
    expect(bad.peer.msgs.some((x) => x.t === 'error' && x.code === 'REFUSED' && /signal rate/.test(x.message))).toBe(true);
    await stillServes();
  });

  it('a node that floods messages is disconnected with RATE_LIMITED', async () => {
    const bad = await HostileNode.join(cl.url, { cpus: 0, name: 'flooder' });
    for (let i = 0; i < 20 && !bad.peer.isClosed; i++) {
      bad.peer.send(...Array.from({ length: 1000 }, (): Msg => ({ t: 'heartbeat', running: 0, queued: 0, storeBytes: 0 })));
    }
    await bad.peer.closed;
    expect(bad.peer.error()).toMatchObject({ code: 'RATE_LIMITED' });
    await stillServes();
  });

  it('a driver that floods task requests past its queue bound is disconnected; nothing past the bound is kept', async () => {
    const { p, job } = await driverPeer();
    const f = { fnId: functionId('function', '(x) => x'), kind: 'function' as const, name: 'id', source: '(x) => x' };
    const root = rootTaskId(job as never);
    const msgs: Msg[] = [{ t: 'fn', f }];
    for (let i = 0; i < 2100; i++) {
      msgs.push({
        t: 'submit',
        spec: {
          taskId: childTaskId(root, i),
          jobId: job as never,
          parentId: root,
          fnId: f.fnId,
          name: 'id',
          args: [{ v: new Uint8Array([1]) }],
          nested: [],
          numReturns: 1,
          resources: { cpu: 1, gpu: 1 }, // never placeable: they all stay queued
          maxRetries: 0,
          attempt: 0,
          timeoutMs: 0,
          scheduling: undefined,
          actor: undefined,
        },
      });
    }
    p.send(...msgs);
    await p.closed;
    expect(p.error()).toMatchObject({ code: 'TOO_MANY_TASKS' });
    // Nothing past the bound was recorded (the job itself waits for its driver like any dropped one).
    expect(cl.c.coordinator.gcs.jobs.get(job as never)!.counts.submitted).toBe(2000);
    await stillServes();
  });

  it('an object over the size limit is refused and the connection closed', async () => {
    const { p, job } = await driverPeer();
    p.send({ t: 'put', id: putObjectId(rootTaskId(job as never), 0), size: 2 << 20, hash: 'ab'.repeat(32), refs: [] });
    await p.closed;
    expect(p.error()).toMatchObject({ code: 'OBJECT_TOO_LARGE' });
    await stillServes();
  });

  it('connections past the per-address bound are told and closed; closing one makes room', async () => {
    const open = cl.c.coordinator.sessions.size;
    const peers: RawPeer[] = [];
    for (let i = open; i < 30; i++) peers.push(await RawPeer.open(cl.url));
    const extra = await RawPeer.open(cl.url);
    await extra.closed;
    expect(extra.error()).toMatchObject({ code: 'TOO_MANY_CONNECTIONS' });
    peers.pop()!.close();
    await cl.until(() => cl.c.coordinator.sessions.size < 30);
    await new Promise((r) => setTimeout(r, 100));
    const again = await driverPeer();
    expect(again.job).toBeTruthy();
    again.p.close();
    for (const p of peers) p.close();
    await stillServes();
  });
});

// Issue 14: many volunteers share one address (a campus, an office behind
// NAT). Open connections are bounded high; what stops a flood from one
// address is the rate of new connections and each connection's own limits.
describe('per-address limits for volunteers behind one NAT address', () => {
  it('thousands of connections from one address are fine when they arrive at a sane rate; a burst past the bucket is refused', () => {
    const k = new LimitKeeper({ connectionsPerSecPerAddress: 100, connectionsBurstPerAddress: 1000 });
    let now = 1_000_000;
    // 5,000 tabs behind one address, 100 a second: nobody is refused.
    for (let i = 0; i < 5000; i++) {
      expect(k.opened('10.0.0.1', now)).toBeNull();
      now += 10;
    }
    // Now 1,000 more at once: the burst is spent, then the next is told to slow down.
    const refused: string[] = [];
    for (let i = 0; i < 1001; i++) {
      const b = k.opened('10.0.0.1', now);
      if (b) refused.push(b.code);
    }
    expect(refused).toEqual(['CONNECTING_TOO_FAST']);
    // Another address is not affected.
    expect(k.opened('10.0.0.2', now)).toBeNull();
    // A second later, 100 more may come.
    now += 1000;
    for (let i = 0; i < 100; i++) expect(k.opened('10.0.0.1', now)).toBeNull();
    expect(k.opened('10.0.0.1', now)?.code).toBe('CONNECTING_TOO_FAST');
    expect(k.breaches.CONNECTING_TOO_FAST).toBe(2);
  });

  it('the bound on open connections from one address still holds, and closing makes room', () => {
    const k = new LimitKeeper({ connectionsPerAddress: 3, connectionsPerSecPerAddress: 1e6, connectionsBurstPerAddress: 1e6 });
    for (let i = 0; i < 3; i++) expect(k.opened('a', 0)).toBeNull();
    expect(k.opened('a', 0)?.code).toBe('TOO_MANY_CONNECTIONS');
    k.closed('a', 0); // the refused one
    k.closed('a', 0);
    expect(k.opened('a', 0)).toBeNull();
  });

  it('an address with nothing open is forgotten once its bucket is full again (the table does not grow with every address ever seen)', () => {
    const k = new LimitKeeper({ connectionsPerSecPerAddress: 10, connectionsBurstPerAddress: 10 });
    for (let i = 0; i < 100; i++) {
      k.opened(`10.1.0.${i}`, 0);
      k.closed(`10.1.0.${i}`, 5000);
    }
    expect(k.addressesTracked).toBe(0);
  });

  it('the defaults let 10,000 tabs behind one address join at once, and a mesh of them all come back after a restart', () => {
    // The bound on all sessions comes from this process's open-file limit (tested below), not from these defaults.
    const k = new LimitKeeper({ maxSessions: Infinity });
    expect(k.limits.connectionsPerAddress).toBeGreaterThanOrEqual(10_000);
    let now = 1_000_000;
    // 10,000 tabs within 10 s (the bench's join: about 250 hellos a second): nobody is refused.
    for (let i = 0; i < 10_000; i++) {
      expect(k.opened('10.0.0.1', now)).toBeNull();
      now += 1;
    }
    // All of them drop and come back 30 s later, within one second: the bucket has refilled.
    for (let i = 0; i < 10_000; i++) k.closed('10.0.0.1', now);
    now += 30_000;
    for (let i = 0; i < 10_000; i++) expect(k.opened('10.0.0.1', now + i / 10)).toBeNull();
    // A flood still stops: past the burst, new connections come at the sustained rate only.
    let refused = 0;
    for (let i = 0; i < 2000; i++) if (k.opened('10.0.0.1', now + 1000)) refused++;
    expect(refused).toBeGreaterThan(1000);
  });

  it('a reconnect storm past the burst is admitted at the configured rate: each refused connection is told its slot and comes back once', () => {
    // 1,000 nodes behind one address come back at once to a coordinator allowing bursts of 100 and 100 a second.
    const rate = 100;
    const burst = 100;
    const k = new LimitKeeper({ connectionsPerSecPerAddress: rate, connectionsBurstPerAddress: burst, maxSessions: Infinity });
    const t0 = 1_000_000;
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // Each node's next attempt (a simulated clock: node i first tries at t0 + i/10 ms).
    const waiting = Array.from({ length: 1000 }, (_, i) => ({ i, at: t0 + i / 10, attempt: 0 }));
    const refusedOf = new Array<number>(1000).fill(0);
    const admittedAt: number[] = [];
    while (waiting.length) {
      waiting.sort((a, b) => a.at - b.at);
      const w = waiting.shift()!;
      const b = k.opened('10.9.0.1', w.at);
      if (!b) {
        admittedAt.push(w.at);
        continue;
      }
      expect(b.code).toBe('CONNECTING_TOO_FAST');
      refusedOf[w.i]++;
      // The node's own wait (edge/node.ts, tabs, bench:scale): the hint in the close reason, else its backoff.
      const why = `connection closed (1008 ${b.retryAfterMs !== undefined ? retryReason(b.code, b.retryAfterMs) : b.code})`;
      waiting.push({ i: w.i, at: w.at + rejoinDelay({ ...BACKOFF.nodeRejoin, random }, w.attempt, why), attempt: w.attempt + 1 });
    }
    // Every node got in, and never faster than the bucket allows (its burst, then its rate).
    expect(admittedAt).toHaveLength(1000);
    admittedAt.forEach((at, n) => expect(n + 1).toBeLessThanOrEqual(burst + Math.floor(((at - t0) * rate) / 1000) + 1));
    // Nor slower: the last of the 900 past the burst got in within their 9 s at the rate (a slot or two of slack).
    expect(admittedAt[admittedAt.length - 1] - t0).toBeLessThan(((1000 - burst) * 1000) / rate + 100);
    // Each refused node came back at its slot: refused once (a few twice, when the jitter put them behind a later slot).
    const refusals = refusedOf.reduce((a, b) => a + b, 0);
    expect(refusedOf.filter((n) => n === 1).length).toBeGreaterThanOrEqual(900 - 50);
    expect(Math.max(...refusedOf)).toBeLessThanOrEqual(3);
    expect(refusals).toBeLessThan(1000);
    expect(k.breaches.CONNECTING_TOO_FAST).toBe(refusals);
  });

  it('the open-file limit bounds all sessions with a reserve kept; past it COORDINATOR_FULL, and closing makes room', () => {
    const text =
      'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            20000                20000                files     \n';
    expect(openFileLimit(text)).toBe(20000);
    expect(openFileLimit('Max open files            unlimited            unlimited            files\n')).toBeUndefined();
    expect(sessionBudget(20000)).toBe(20000 - FD_RESERVE);
    expect(sessionBudget(100)).toBe(64);
    expect(sessionBudget(undefined)).toBe(Infinity);
    // This process's own limit is read (Linux), and the default follows it.
    if (process.platform === 'linux') expect(new LimitKeeper().limits.maxSessions).toBe(sessionBudget(openFileLimit()));
    const k = new LimitKeeper({ maxSessions: 5 });
    for (let i = 0; i < 5; i++) expect(k.opened(`10.2.0.${i}`, 0)).toBeNull();
    expect(k.opened('10.2.0.9', 0)?.code).toBe('COORDINATOR_FULL');
    k.closed('10.2.0.9', 0); // the refused one
    expect(k.opened('10.2.0.9', 0)?.code).toBe('COORDINATOR_FULL');
    k.closed('10.2.0.9', 0);
    k.closed('10.2.0.0', 0);
    expect(k.opened('10.2.0.9', 0)).toBeNull();
    expect(k.breaches.COORDINATOR_FULL).toBe(2);
  });

  it('a coordinator at its session bound tells the next connection COORDINATOR_FULL and keeps serving', async () => {
    const c = await startCoordinator({ port: 0, memory: true, token: 't', limits: { maxSessions: 2 } });
    try {
      const peers = [await RawPeer.open(c.url), await RawPeer.open(c.url)];
      const extra = await RawPeer.open(c.url);
      await extra.closed;
      expect(extra.error()).toMatchObject({ code: 'COORDINATOR_FULL' });
      expect(extra.error()?.message).toMatch(/ulimit -n/);
      expect(peers.every((p) => !p.isClosed)).toBe(true);
      const stats = (await (await fetch(`${c.url}/api/stats`, { headers: { authorization: 'Bearer t' } })).json()) as { limitBreaches: number };
      expect(stats.limitBreaches).toBe(1);
      peers[0].close();
      await peers[0].closed;
      const again = await RawPeer.open(c.url);
      again.send({ t: 'hello', role: 'driver', version: PROTOCOL_VERSION, token: 't' });
      expect((await again.welcome()).jobId).toBeTruthy();
      again.close();
      peers[1].close();
    } finally {
      await c.close();
    }
  });

  it('a coordinator full of nodes keeps room for drivers: the node past its bound less DRIVER_ROOM is refused at hello, a driver gets in', async () => {
    const k = new LimitKeeper({ maxSessions: 200 });
    for (let i = 0; i < 200 - DRIVER_ROOM; i++) {
      expect(k.opened(`10.3.0.${i}`, 0)).toBeNull();
      expect(k.nodeMayJoin()).toBeNull();
    }
    expect(k.opened('10.3.1.0', 0)).toBeNull();
    expect(k.nodeMayJoin()?.code).toBe('COORDINATOR_FULL');
    // A small bound keeps an eighth of it.
    const small = new LimitKeeper({ maxSessions: 16 });
    for (let i = 0; i < 14; i++) small.opened('10.3.2.1', 0);
    expect(small.nodeMayJoin()).toBeNull();
    small.opened('10.3.2.1', 0);
    expect(small.nodeMayJoin()?.code).toBe('COORDINATOR_FULL');

    const c = await startCoordinator({ port: 0, memory: true, token: 't', limits: { maxSessions: 16 } });
    try {
      const node = async (i: number) => {
        const p = await RawPeer.open(c.url);
        p.send({ t: 'hello', role: 'node', version: PROTOCOL_VERSION, node: { kind: 'edge', name: `full${i}`, resources: { cpu: 1 }, storeBytes: 0 } });
        return p;
      };
      const nodes: RawPeer[] = [];
      for (let i = 0; i < 14; i++) {
        nodes.push(await node(i));
        expect((await nodes[i].welcome()).nodeId).toBeTruthy();
      }
      const extra = await node(14);
      await extra.closed;
      expect(extra.error()).toMatchObject({ code: 'COORDINATOR_FULL' });
      expect(extra.error()?.message).toMatch(/kept for drivers/);
      const driver = await RawPeer.open(c.url);
      driver.send({ t: 'hello', role: 'driver', version: PROTOCOL_VERSION, token: 't' });
      expect((await driver.welcome()).jobId).toBeTruthy();
      expect(nodes.every((p) => !p.isClosed)).toBe(true);
      driver.close();
      for (const p of nodes) p.close();
    } finally {
      await c.close();
    }
  });

  describe('over real sockets', () => {
    let c: RunningCoordinator;
    beforeAll(async () => {
      c = await startCoordinator({
        port: 0,
        memory: true,
        token: 't',
        limits: { connectionsPerSecPerAddress: 0.001, connectionsBurstPerAddress: 40 },
        httpLimits: { max: 20, windowMs: 60_000 },
      });
    });
    afterAll(() => c?.close());

    it('WebSocket upgrades do not count as HTTP requests; a connection flood is refused with CONNECTING_TOO_FAST', async () => {
      const peers: RawPeer[] = [];
      for (let i = 0; i < 40; i++) peers.push(await RawPeer.open(c.url));
      // 40 upgrades, over the HTTP limit of 20: the API still answers.
      expect((await fetch(`${c.url}/api/stats`, { headers: { authorization: 'Bearer t' } })).status).toBe(200);
      const extra = await RawPeer.open(c.url);
      await extra.closed;
      expect(extra.error()).toMatchObject({ code: 'CONNECTING_TOO_FAST' });
      // The ones already open are not affected.
      expect(peers.every((p) => !p.isClosed)).toBe(true);
      for (const p of peers) p.close();
      // Plain HTTP is still limited.
      const codes: number[] = [];
      for (let i = 0; i < 25; i++) codes.push((await fetch(`${c.url}/api/stats`, { headers: { authorization: 'Bearer t' } })).status);
      expect(codes).toContain(429);
    });
  });
});
