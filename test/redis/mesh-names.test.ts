// Named actors across a mesh of coordinators (session 38; Ray: a named actor is global within its namespace, found
// from any driver, its name unique cluster-wide). Two real coordinators on one real Redis, drivers on both.
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { RunningCoordinator } from '../../coordinator/server.js';
import { startCoordinator } from '../../coordinator/server.js';
import { startEdgeNode, type EdgeNode } from '../../edge/node.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { TaskError } from '../../shared/index.js';
import { closeInProcess, linkedInProcess, twoCoordinators, type CoordinatorRow } from '../helpers/mesh.js';
import { edgeNodes, getJson, kill, redisCoordinator } from '../helpers/processes.js';
import { until } from '../helpers/poll.js';
import { startRedisCluster, useRedis } from '../helpers/redis.js';

const drivers: Mesh[] = [];
const inProcess: (RunningCoordinator | EdgeNode)[] = [];
const redis = useRedis(async () => {
  for (const d of drivers.splice(0)) await d.close().catch(() => {});
  await closeInProcess(inProcess);
});

class Counter {
  n = 0;
  inc(): number {
    return ++this.n;
  }
}

async function driver(url: string, token: string, namespace?: string): Promise<Mesh> {
  const m = await connect({ url, token, namespace });
  drivers.push(m);
  return m;
}

/** Creates actor `name` from `m` and calls it once: its count (1), or the creation's error. */
async function create(m: Mesh, name: string, namespace?: string): Promise<number | TaskError> {
  const h = m.remote(Counter).options({ name, namespace }).remote();
  return m.get(h.inc.remote(), { timeoutMs: 60_000 }).catch((e: unknown) => e as TaskError);
}

/** The claim of `name` in Redis ('' when none): `<coordinator id> <actor id>`. */
async function claim(prefix: string, name: string, namespace = ''): Promise<string> {
  // Not through redis-cli: a process argument cannot hold the NUL between namespace and name.
  const r = new Redis(redis.server.url);
  try {
    return (await r.hget(`${prefix}:{mesh}:actor-names`, `${namespace}\u0000${name}`)) ?? '';
  } finally {
    r.disconnect();
  }
}

describe('named actors across two coordinators', () => {
  it('a name is unique mesh-wide, found and listed from the other coordinator, and free again after a kill', async () => {
    const prefix = 'names';
    const { a, b, token } = await linkedInProcess(redis.server.url, prefix, inProcess);
    const onA = await driver(a.url, token);
    const onB = await driver(b.url, token);

    expect(await create(onA, 'counter')).toBe(1);
    // B's driver cannot take the name A's live actor holds: the creation fails as on one coordinator.
    const dup = await create(onB, 'counter');
    expect(dup).toMatchObject({ remoteName: 'ActorNameTakenError' });
    expect((dup as TaskError).remoteMessage).toContain(a.url);
    // Another namespace is another name.
    expect(await create(onB, 'counter', 'other')).toBe(1);
    // Names are keyed `namespace\0name`: a NUL in either would make two names one.
    expect(await create(onB, 'other\u0000counter')).toMatchObject({ remoteName: 'ValueError' });

    // B's driver finds where it lives: its calls are not routed over the links, the error names A's URL.
    const lookup = (await onB.getActor('counter').catch((e: unknown) => e)) as Error;
    expect(lookup).toMatchObject({ code: 'ACTOR_DIED' });
    expect(lookup.message).toContain(a.url);
    const none = (await onB.getActor('no-such-actor').catch((e: unknown) => e)) as Error;
    expect(none.message).not.toContain(a.url);
    // Listed from either side, in every namespace (Ray's list_named_actors(all_namespaces=True)).
    const all = (m: Mesh) => m.listNamedActors({ allNamespaces: true }).then((l) => l.map((n) => `${n.namespace}/${n.name}`).sort());
    expect(await all(onB)).toEqual(['/counter', 'other/counter']);
    expect(await all(onA)).toEqual(['/counter', 'other/counter']);
    expect((await onB.listNamedActors()).sort()).toEqual(['counter']);

    // Killed at A, its name is free: B's driver takes it, and A's cannot take it back while B's lives.
    onA.kill(await onA.getActor<Counter>('counter'));
    await until(async () => (await claim(prefix, 'counter')) === '', { timeoutMs: 20_000, what: "the killed actor's claim to go" });
    expect(await create(onB, 'counter')).toBe(1);
    expect(await create(onA, 'counter')).toMatchObject({ remoteName: 'ActorNameTakenError' });
    expect((await claim(prefix, 'counter')).startsWith(`${b.coordinator.meshId} `)).toBe(true);
  }, 120_000);

  it('two drivers on two coordinators create one name at the same moment: exactly one actor gets it', async () => {
    const { a, b, token } = await linkedInProcess(redis.server.url, 'race', inProcess);
    const onA = await driver(a.url, token);
    const onB = await driver(b.url, token);
    for (let i = 0; i < 5; i++) {
      const got = await Promise.all([create(onA, `racer-${i}`), create(onB, `racer-${i}`)]);
      const won = got.filter((g) => g === 1);
      const lost = got.filter((g) => g !== 1);
      expect(won.length, JSON.stringify(got)).toBe(1);
      expect(lost[0]).toMatchObject({ remoteName: 'ActorNameTakenError' });
    }
  }, 120_000);

  it("its coordinator is killed: the actor's name is not stuck (held while a takeover could claim it, then free)", async () => {
    const prefix = 'names-dead';
    const token = 'nd-' + Math.random().toString(36).slice(2);
    const a = await redisCoordinator(redis.server.url, prefix, token);
    // The node knows only A: the actor goes with A's end (nothing can adopt it).
    await edgeNodes(a, token, 1);
    const jobGraceMs = 2_000;
    const b = await startCoordinator({ redis: { url: redis.server.url, prefix }, port: 0, token, httpLimits: false, jobGraceMs });
    inProcess.push(b);
    inProcess.push(await startEdgeNode({ coordinator: b.url, cpus: 2, reconnect: false }));
    const onA = await driver(a.url, token);
    expect(await create(onA, 'keeper')).toBe(1);
    const onB = await driver(b.url, token);
    // While A lives, B's driver cannot take the name.
    await until(() => b.coordinator.mesh?.list().length === 2, { timeoutMs: 20_000, what: 'B to see A' });
    expect(await create(onB, 'keeper')).toMatchObject({ remoteName: 'ActorNameTakenError' });
    const held = await claim(prefix, 'keeper');
    await kill(a);
    // Its claim holds for B's job grace and two silences past A's last beat, then B's driver may take it.
    let tries = 0;
    const took: unknown[] = [];
    await until(async () => (tries++, took.push(await create(onB, 'keeper')), took.at(-1) === 1), {
      timeoutMs: 60_000,
      everyMs: 500,
      what: () => `B's driver to take the name after A's death (${tries} tries, the last ${String(took.at(-1))}; claim ${held})`,
    });
    expect((await claim(prefix, 'keeper')).startsWith(`${b.coordinator.meshId} `)).toBe(true);
  }, 180_000);
});

describe('a named actor taken over with its job', () => {
  it('its coordinator is SIGKILLed, its driver resumes on the other: the actor keeps its name and state there', async () => {
    const token = 'nt-' + Math.random().toString(36).slice(2);
    const prefix = 'names-takeover';
    const [a, b] = await twoCoordinators(redis.server.url, prefix, token);
    const m = await connect({ url: [a.url, b.url], token, reconnectTimeoutMs: 60_000 });
    drivers.push(m);
    const h = m.remote(Counter).options({ name: 'survivor' }).remote();
    expect(await m.get(h.inc.remote())).toBe(1);
    const bId = (await getJson<CoordinatorRow[]>(b.url, '/api/coordinators', token))!.find((r) => r.self)!.id;
    const aId = (await claim(prefix, 'survivor')).split(' ')[0];
    expect(aId).not.toBe(bId);
    await kill(a);
    // Sent while the driver has no coordinator: the job is taken over at B and the actor's node (which names B) joins it.
    expect(await m.get(h.inc.remote(), { timeoutMs: 60_000 })).toBe(2);
    // B's takeover claimed the name again for the same actor: B's drivers find it, and cannot take its name.
    await until(async () => (await claim(prefix, 'survivor')).startsWith(`${bId} `), { timeoutMs: 20_000, what: 'the claim to move to B' });
    const other = await driver(b.url, token);
    const found = await other.getActor<Counter>('survivor');
    expect(await other.get(found.inc.remote(), { timeoutMs: 30_000 })).toBe(3);
    expect(await create(other, 'survivor')).toMatchObject({ remoteName: 'ActorNameTakenError' });
  }, 180_000);
});

describe('named actors when a coordinator closes cleanly', () => {
  it("its claims outlive it by its lease (a takeover may claim them again), then its actor's name is free", async () => {
    const prefix = 'names-close';
    // A's lease on its claims: its job grace (1 s) and two silences (2 s each) past its last beat.
    const { a, b, token } = await linkedInProcess(redis.server.url, prefix, inProcess, { jobGraceMs: 1_000 });
    const onA = await driver(a.url, token);
    const onB = await driver(b.url, token);
    expect(await create(onA, 'kept')).toBe(1);
    const aId = a.coordinator.meshId!;
    await a.close();
    // Gone from the registry at once (its goodbye), yet its name holds: a rolling restart does not free it.
    expect(await create(onB, 'kept')).toMatchObject({ remoteName: 'ActorNameTakenError' });
    let last: unknown;
    await until(async () => (last = await create(onB, 'kept')) === 1, {
      timeoutMs: 60_000,
      everyMs: 500,
      what: () => `B's driver to take the name after A's lease (the last try: ${String(last)}; claim ${aId})`,
    });
  }, 120_000);
});

describe('the mesh name table in Redis (coordinator/mesh/actor-names.ts)', () => {
  it("a claim holds while its coordinator's lease runs; the same actor's claim always succeeds; lapsed leases are forgotten", async () => {
    const { MeshActorNames } = await import('../../coordinator/mesh/actor-names.js');
    const r = new Redis(redis.server.url);
    try {
      const prefix = 'table';
      const leases = `${prefix}:{mesh}:name-leases`;
      const now = async () => {
        const [s, us] = await r.time();
        return Number(s) * 1000 + Math.floor(Number(us) / 1000);
      };
      /** Coordinator `id`'s lease runs until `ms` from now (negative: lapsed that long ago). */
      const lease = async (id: string, ms: number) => r.hset(leases, id, String((await now()) + ms));
      const x = new MeshActorNames(r, prefix, 'aa', 5_000);
      const y = new MeshActorNames(r, prefix, 'bb', 5_000);
      expect(await x.claim('', 'n', 'a1')).toEqual({ taken: false });
      expect(await y.claim('', 'n', 'b1')).toEqual({ taken: true, holder: { coordinator: 'aa', actor: 'a1' } });
      expect(await y.leased(['aa', 'bb', 'cc'])).toEqual(new Set(['aa', 'bb']));
      // A takeover of the same actor moves the claim; the old holder's release then leaves it alone.
      expect(await y.claim('', 'n', 'a1')).toEqual({ taken: false });
      await x.release('', 'n', 'a1');
      expect(await y.holder('', 'n')).toEqual({ coordinator: 'bb', actor: 'a1' });
      await y.release('', 'n', 'a1');
      expect(await y.holder('', 'n')).toBeUndefined();
      // Its lease running (renewed by its beat): held; lapsed, or gone: free.
      expect(await x.claim('', 'm', 'a2')).toEqual({ taken: false });
      await lease('aa', 1_000);
      expect((await y.claim('', 'm', 'b2')).taken).toBe(true);
      await x.renew();
      expect((await y.claim('', 'm', 'b2')).taken).toBe(true);
      await lease('aa', -1);
      expect(await y.claim('', 'm', 'b2')).toEqual({ taken: false });
      expect(await x.claim('', 'o', 'a3')).toEqual({ taken: false });
      await r.hdel(leases, 'aa');
      expect(await y.claim('', 'o', 'b3')).toEqual({ taken: false });
      // A value that is not ours to read is nobody's claim; names are per namespace.
      await r.hset(`${prefix}:{mesh}:actor-names`, '\u0000junk', 'not a claim');
      expect(await y.claim('', 'junk', 'b4')).toEqual({ taken: false });
      expect(await x.claim('ns', 'o', 'a5')).toEqual({ taken: false });
      expect((await y.all()).map((n) => `${n.namespace}/${n.name}`).sort()).toEqual(['/junk', '/m', '/o', 'ns/o']);
      // A lease lapsed for over an hour is forgotten by a beat (the first of a coordinator prunes).
      await lease('cc', -2 * 3_600_000);
      await new MeshActorNames(r, prefix, 'dd', 5_000).renew();
      expect(await r.hexists(leases, 'cc')).toBe(0);
      expect(await r.hexists(leases, 'dd')).toBe(1);
    } finally {
      r.disconnect();
    }
  });
});

describe('named actors on a Redis Cluster', () => {
  it('two coordinators on a 3-master Cluster: one name, one actor; found from the other; free after a kill', async () => {
    const cluster = await startRedisCluster(3);
    try {
      const { a, b, token } = await linkedInProcess(cluster.url, 'cl-names', inProcess);
      const onA = await driver(a.url, token);
      const onB = await driver(b.url, token);
      expect(await create(onB, 'solo')).toBe(1);
      expect(await create(onA, 'solo')).toMatchObject({ remoteName: 'ActorNameTakenError' });
      expect(((await onA.getActor('solo').catch((e: unknown) => e)) as Error).message).toContain(b.url);
      onB.kill(await onB.getActor<Counter>('solo'));
      // The release reaches Redis after the kill: A's driver may find the name taken for a moment.
      await until(async () => (await create(onA, 'solo')) === 1, { timeoutMs: 30_000, everyMs: 200, what: "A's driver to take the name B's kill freed" });
    } finally {
      for (const d of drivers.splice(0)) await d.close().catch(() => {});
      await closeInProcess(inProcess);
      await cluster.destroy();
    }
  }, 180_000);
});
