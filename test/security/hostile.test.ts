// Issue 8: hostile volunteers. A node that returns wrong results is outvoted
// by `verify` and disconnected; one that claims objects it does not have is
// caught when asked to serve them, and readers get the bytes from a real
// holder or a rebuild; trust shows in /api/nodes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { HostileNode } from './hostile.js';
import { connect } from '../../edge/index.js';

interface NodeJson {
  id: string;
  name: string;
  trust: { level: string; agreed: number; disagreed: number; offences: number; recent: string[] };
}

async function nodes(cl: Cluster): Promise<NodeJson[]> {
  const r = await cl.c.app.inject({ method: 'GET', url: '/api/nodes', headers: { authorization: `Bearer ${cl.token}` } });
  return r.json();
}

describe('verified execution against a node that lies', () => {
  let cl: Cluster;
  let bad: HostileNode | null = null;
  beforeAll(async () => {
    process.env.TABMESH_PEERS = '0';
    cl = await Cluster.start({ nodes: 2, cpus: 1, trust: { trustAfter: 3, spotCheck: 0, maxOffences: 3 } });
  }, 60_000);
  afterEach(() => bad?.close());
  afterAll(async () => {
    delete process.env.TABMESH_PEERS;
    await cl?.stop();
  });

  it('wrong results are outvoted, the job result is right, and the liar is distrusted, then disconnected', async () => {
    bad = await HostileNode.join(cl.url, { cpus: 8, name: 'liar' });
    const m = await cl.driver();
    const square = m.remote((x: number) => x * x, { verify: { replicas: 2 } });
    const refs = Array.from({ length: 24 }, (_, i) => square.remote(i));
    expect(await m.get(refs)).toEqual(Array.from({ length: 24 }, (_, i) => i * i));
    expect(bad.tasksAnswered).toBeGreaterThan(0);
    // Caught three times: disconnected with a clear error.
    await bad.peer.closed;
    expect(bad.peer.error()).toMatchObject({ t: 'error', code: 'DISTRUSTED' });
    const liar = bad.nodeId;
    await cl.until(() => !cl.c.coordinator.gcs.nodes.has(liar as never));
    const ev = await cl.c.app.inject({ method: 'GET', url: '/api/events?kind=node-offence', headers: { authorization: `Bearer ${cl.token}` } });
    expect(ev.json().length).toBeGreaterThanOrEqual(3);
    expect(ev.json()[0].message).toContain('disagreed');
    // The honest nodes agreed and are trusted now; the stats say how much was checked.
    const ns = await nodes(cl);
    expect(ns).toHaveLength(2);
    for (const n of ns) expect(n.trust.agreed).toBeGreaterThan(0);
    const stats = cl.c.coordinator.statsJson();
    expect(stats.verifiedTasks).toBeGreaterThanOrEqual(24);
    expect(stats.verifyDisagreements).toBeGreaterThan(0);
  }, 60_000);

  it('a job-wide verify runs every task twice on distinct nodes; stored results keep one copy', async () => {
    const m = await connect({ url: cl.url, token: cl.token, verify: { replicas: 2 } });
    cl.meshes.push(m);
    const big = m.remote((n: number) => new Uint8Array(n).fill(n % 251));
    const before = cl.c.coordinator.statsJson().replicasRun;
    const ref = big.remote(200_000);
    const v = await m.get(ref);
    expect(v.byteLength).toBe(200_000);
    expect(v[5]).toBe(200_000 % 251);
    expect(cl.c.coordinator.statsJson().replicasRun - before).toBeGreaterThanOrEqual(2);
    const o = cl.c.coordinator.gcs.objects.get(ref.id)!;
    expect(o.locations.size).toBe(1);
  }, 60_000);

  it('adaptive mode: once trusted, a node runs a task alone (spot checks aside); a new node is always checked', async () => {
    const m = await cl.driver();
    const inc = m.remote((x: number) => x + 1, { verify: { replicas: 2 } });
    await m.get(Array.from({ length: 8 }, (_, i) => inc.remote(i)));
    expect((await nodes(cl)).every((n) => n.trust.level === 'trusted')).toBe(true);
    const unchecked = cl.c.coordinator.statsJson().verifyUnchecked;
    const adaptive = inc.options({ verify: { replicas: 2, adaptive: true } });
    expect(await m.get(Array.from({ length: 10 }, (_, i) => adaptive.remote(100 + i)))).toEqual(Array.from({ length: 10 }, (_, i) => 101 + i));
    expect(cl.c.coordinator.statsJson().verifyUnchecked - unchecked).toBeGreaterThan(0);
  }, 60_000);
});

describe('a node that claims objects it does not have', () => {
  let cl: Cluster;
  let bad: HostileNode | null = null;
  beforeAll(async () => {
    process.env.TABMESH_PEERS = '0';
    cl = await Cluster.start({ nodes: 2, cpus: 1, trust: { maxOffences: 3 } });
  }, 60_000);
  afterAll(async () => {
    bad?.close();
    delete process.env.TABMESH_PEERS;
    await cl?.stop();
  });

  it('is caught when asked to serve; readers get the bytes from a real holder or a rebuild', async () => {
    const m = await connect({ url: cl.url, token: cl.token, peers: false });
    cl.meshes.push(m);
    const [a, b] = [...cl.c.coordinator.gcs.nodes.values()];
    const make = m.remote((seed: number) => new Uint8Array(300_000).fill(seed));
    const use = m.remote((x: Uint8Array) => x.byteLength);
    // X: made on A, then copied to B by a task there. Y: only on A.
    const onA = make.options({ scheduling: { node: a.id, soft: true } });
    const x = onA.remote(1);
    const y = onA.remote(2);
    await m.wait([x, y], { numReturns: 2 });
    const g = cl.c.coordinator.gcs;
    const ox = g.objects.get(x.id)!;
    const oy = g.objects.get(y.id)!;
    bad = await HostileNode.join(cl.url, { cpus: 0, name: 'claimer', serve: (id) => (id === x.id ? 'fail' : 'garbage') });
    bad.claim([
      { id: x.id, size: ox.size, hash: ox.hash },
      { id: y.id, size: oy.size, hash: oy.hash },
    ]);
    await cl.until(() => ox.locations.size === 2 && oy.locations.size === 2);
    expect(await m.get(use.options({ scheduling: { node: b.id } }).remote(x))).toBe(300_000);
    await cl.until(() => ox.locations.size === 3);
    // A goes: the claimer is now listed first for both.
    const nodeA = cl.nodes[0];
    const aId = a.id;
    await nodeA.kill();
    await cl.until(() => !g.nodes.has(aId));
    const [vx, vy] = await m.get([x, y]);
    expect(vx.byteLength).toBe(300_000);
    expect(vx[0]).toBe(1);
    expect(vy.byteLength).toBe(300_000);
    expect(vy[7]).toBe(2);
    expect(bad.served).toBeGreaterThanOrEqual(2);
    const claimer = (await nodes(cl)).find((n) => n.name === 'claimer')!;
    expect(claimer.trust.offences).toBeGreaterThanOrEqual(2);
    expect(claimer.trust.recent.join(' ')).toMatch(/could not serve/);
    expect(claimer.trust.recent.join(' ')).toMatch(/wrong hash/);
    // A result for a task it never held is a third offence: out.
    bad.forge('ab'.repeat(16));
    await bad.peer.closed;
    expect(bad.peer.error()).toMatchObject({ code: 'DISTRUSTED' });
    expect(await m.get(use.remote(y))).toBe(300_000);
  }, 90_000);
});
