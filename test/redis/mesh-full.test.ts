// A full coordinator sends a joining node on (issue 14, 20,000 nodes): two
// coordinators on one real redis-server; the one at its connection bound
// refuses the next node with COORDINATOR_FULL naming the other (the live one
// with the most room, from the mesh's records in Redis), and the node joins
// there at once instead of backing off on the full one. Records in Redis that
// name no coordinator URL are never named. A driver meets COORDINATOR_FULL
// only past the connections kept for drivers, and follows the same way.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { startEdgeNode, type EdgeNode } from '../../edge/node.js';
import { connect, type Mesh } from '../../edge/index.js';
import { DRIVER_ROOM } from '../../coordinator/limits/limits.js';
import { PROTOCOL_VERSION } from '../../shared/protocol/messages.js';
import { hashKey } from '../../coordinator/gcs/redis-wire.js';
import { RawPeer } from '../security/hostile.js';
import { useRedis } from '../helpers/redis.js';
import { until } from '../helpers/poll.js';

const token = 't';
const cleanups: (() => Promise<unknown> | void)[] = [];
const redis = useRedis(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

/** A coordinator of mesh `prefix`; `maxSessions` small for the one to fill. */
async function coordinator(prefix: string, maxSessions?: number): Promise<RunningCoordinator> {
  const c = await startCoordinator({
    redis: { url: redis.server.url, prefix },
    port: 0,
    token,
    httpLimits: false,
    ...(maxSessions ? { limits: { maxSessions } } : {}),
  });
  cleanups.push(() => c.close());
  return c;
}

interface Row {
  url: string;
  room: number;
  nodes: number;
  self: boolean;
}
async function rows(c: RunningCoordinator): Promise<Row[]> {
  const r = await fetch(`${c.url}/api/coordinators`, { headers: { authorization: `Bearer ${token}` } });
  return (await r.json()) as Row[];
}
async function stats(c: RunningCoordinator): Promise<Record<string, number>> {
  return (await (await fetch(`${c.url}/api/stats`, { headers: { authorization: `Bearer ${token}` } })).json()) as Record<string, number>;
}

/** Fills `c` with raw nodes up to its node bound (maxSessions less the room kept for drivers). */
async function fill(c: RunningCoordinator, maxSessions: number): Promise<void> {
  const room = Math.min(DRIVER_ROOM, Math.floor(maxSessions / 8));
  for (let i = 0; i < maxSessions - room; i++) {
    const p = await RawPeer.open(c.url);
    cleanups.push(() => p.close());
    p.send({ t: 'hello', role: 'node', version: PROTOCOL_VERSION, node: { kind: 'edge', name: `filler${i}`, resources: { cpu: 1 }, storeBytes: 0 } });
    await p.welcome();
  }
}

describe('a full coordinator sends joining nodes on to the coordinator of its mesh with room', () => {
  it('an edge node given only the full coordinator joins the other one at once; the full one refused it once', async () => {
    const MAX = 16;
    const a = await coordinator('full1', MAX);
    const b = await coordinator('full1');
    // Each lists the other with its room (A's bound is small, B's is the open-file limit's).
    await until(async () => (await rows(a)).length === 2 && (await rows(b)).length === 2, { timeoutMs: 10_000, what: 'both coordinators to list each other' });
    await fill(a, MAX);
    // A's next record says it is full; B's has room.
    // 30 s: a wait on a condition costs a quick beat nothing; at load 25-35 (session 36, isolated and shared alike) 5 s ran out.
    await until(async () => (await rows(b)).find((r) => !r.self)?.room === 0, { timeoutMs: 30_000, what: "A's record to say it is full" });
    expect((await rows(a)).find((r) => !r.self)!.room).toBeGreaterThan(0);

    const node: EdgeNode = await startEdgeNode({ coordinator: a.url, cpus: 1, reconnect: false, name: 'sent-on' });
    cleanups.push(() => node.leave());
    expect(node.coordinatorUrl).toBe(b.url);
    const sb = await stats(b);
    expect(sb.nodes).toBe(1);
    const sa = await stats(a);
    // Refused once, naming B: not a backoff on A.
    expect(sa.limit_COORDINATOR_FULL).toBe(1);
    expect(sa.fullSentOn).toBe(1);
    expect(sa.nodes).toBe(MAX - Math.min(DRIVER_ROOM, Math.floor(MAX / 8)));

    // The raw refusal says where to go, in its close reason and its message.
    const extra = await RawPeer.open(a.url);
    extra.send({ t: 'hello', role: 'node', version: PROTOCOL_VERSION, node: { kind: 'edge', name: 'extra', resources: { cpu: 1 }, storeBytes: 0 } });
    const closed = await extra.closed;
    expect(closed.reason).toBe(`COORDINATOR_FULL next=${b.url}`);
    expect(extra.error()).toMatchObject({ code: 'COORDINATOR_FULL' });
    expect(extra.error()!.message).toContain(b.url);
  }, 60_000);

  it('a driver given only the full coordinator, past the connections kept for drivers, connects to the other one at once', async () => {
    const MAX = 16;
    const a = await coordinator('full3', MAX);
    const b = await coordinator('full3');
    await until(async () => (await rows(a)).length === 2 && (await rows(b)).length === 2, { timeoutMs: 10_000, what: 'both coordinators to list each other' });
    await fill(a, MAX);
    // The connections kept for drivers: drivers still get in.
    const room = Math.min(DRIVER_ROOM, Math.floor(MAX / 8));
    const drivers: Mesh[] = [];
    for (let i = 0; i < room; i++) {
      const d = await connect({ url: a.url, token, peers: false });
      cleanups.push(() => d.close());
      drivers.push(d);
    }
    expect((await stats(a)).drivers).toBe(room);
    expect((await stats(a)).limit_COORDINATOR_FULL ?? 0).toBe(0);
    // A is full now; the next driver is refused there with B's URL and connects to B.
    const d = await connect({ url: a.url, token, peers: false, connectTimeoutMs: 10_000 });
    cleanups.push(() => d.close());
    const sa = await stats(a);
    expect(sa.limit_COORDINATOR_FULL).toBe(1);
    expect(sa.fullSentOn).toBe(1);
    expect(sa.drivers).toBe(room);
    expect((await stats(b)).drivers).toBe(1);
  }, 60_000);

  it("each coordinator's scheduler counts the other's nodes (its record's) for packing, and its own count in the record is a running total", async () => {
    const a = await coordinator('full4');
    const b = await coordinator('full4');
    await until(async () => (await rows(a)).length === 2 && (await rows(b)).length === 2, { timeoutMs: 10_000, what: 'both coordinators to list each other' });
    for (let i = 0; i < 3; i++) {
      const n = await startEdgeNode({ coordinator: b.url, cpus: 2, reconnect: false, name: `b${i}` });
      cleanups.push(() => n.leave());
    }
    // B's record says 3 nodes, 6 CPUs (its running totals); A's scheduler counts them as the mesh's; B counts none of A's.
    await until(async () => a.coordinator.scheduler.linkedNodes === 3, { timeoutMs: 10_000, what: "A to count B's 3 nodes" });
    const rb = (await rows(a)).find((r) => !r.self)!;
    expect(rb.nodes).toBe(3);
    expect((rb as Row & { cpus: number }).cpus).toBe(6);
    expect(b.coordinator.scheduler.linkedNodes).toBe(0);
    // A node leaves: the totals and the other's count follow.
    await cleanups.pop()!();
    await until(async () => a.coordinator.scheduler.linkedNodes === 2, { timeoutMs: 10_000, what: "A to count B's 2 nodes" });
  }, 60_000);

  it('a link the other coordinator dropped (its loop stalled past the dead window) comes back: our agent says hello again', async () => {
    const a = await coordinator('full5');
    const b = await coordinator('full5');
    await until(async () => (await stats(a)).meshLinks === 1 && (await stats(b)).meshLinks === 1, { timeoutMs: 10_000, what: 'both linked' });
    // A closes its session for B's agent, as its tick does for a coordinator it judged gone (white-box).
    const links = (a.coordinator.mesh as unknown as { links: { sessions(): { ws: { close(code: number): void } }[] } }).links;
    expect(links.sessions()).toHaveLength(1);
    for (const s of links.sessions()) s.ws.close(1006);
    expect((await stats(a)).meshLinks).toBe(0);
    // B's agent hears it (agentEnd), or its next frame is refused as a new connection's ("the first message must be
    // hello"): it says hello again.
    await until(async () => (await stats(a)).meshLinks === 1, { timeoutMs: 15_000, what: "B's link back on A" });
  }, 60_000);

  it('records in Redis that name no coordinator URL, or no room, are never named; with no other room the refusal names nowhere', async () => {
    const MAX = 16;
    const a = await coordinator('full2', MAX);
    await fill(a, MAX);
    // Forged records of "coordinators" with huge room: a URL with credentials, another scheme, no room field.
    const r = new Redis(redis.server.url);
    cleanups.push(() => r.quit());
    const forge = async () => {
      const now = Date.now();
      const rec = (id: string, url: string, room?: number) =>
        JSON.stringify({ id, url, nodes: 0, cpus: 0, jobs: 0, load: 0, ...(room === undefined ? {} : { room }), startedAt: now, at: now, beat: now });
      await r.hset(
        hashKey('full2', 'mesh', 'coordinators'),
        'forged1',
        rec('forged1', 'http://user:pw@evil.example:1/', 1e9),
        'forged2',
        rec('forged2', 'javascript:alert(1)', 1e9),
        'forged3',
        rec('forged3', 'http://127.0.0.1:1', undefined),
      );
    };
    await forge();
    // A has read them (a beat) while they look alive.
    await until(async () => (await rows(a)).length === 4, { timeoutMs: 5_000, what: 'A to read the forged records' });
    const p = await RawPeer.open(a.url);
    p.send({ t: 'hello', role: 'node', version: PROTOCOL_VERSION, node: { kind: 'edge', name: 'x', resources: { cpu: 1 }, storeBytes: 0 } });
    expect((await p.closed).reason).toBe('COORDINATOR_FULL');
    expect((await stats(a)).fullSentOn).toBe(0);
  }, 60_000);
});
