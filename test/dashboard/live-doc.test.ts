// The live cluster document over the dashboard socket (real sockets, real
// y-protocols): auth, catch-up by diff after a reconnect, read-only, bounded.
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { Replica } from '../../coordinator/dashboard/replica.js';
import { MAX_EVENTS, MAX_JOBS } from '../../coordinator/dashboard/cluster-doc.js';
import { MSG_AUTH, MSG_SYNC } from '../../coordinator/dashboard/sync-socket.js';
import { ended, submit } from './helpers.js';

const VIEWER = 'viewer-token-for-live-doc';

describe('the live cluster document', () => {
  let cl: Cluster;
  const replicas: Replica[] = [];
  const replica = (token = cl.token, doc?: Y.Doc) => {
    const r = new Replica(cl.url, token, doc);
    replicas.push(r);
    return r;
  };
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2, viewerToken: VIEWER, sampleMs: 50 });
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await cl?.stop();
  });

  it('with no dashboard connected nothing is sampled but the throughput ring; the first dashboard syncs what happened meanwhile', async () => {
    const obs = cl.c.observability;
    expect(obs.hub.size).toBe(0);
    const samples = obs.doc.samples;
    const ticks = obs.doc.unwatchedTicks;
    const id = await submit(cl, `const f = mesh.remote((x) => x + 1); return await mesh.get([1, 2].map((x) => f.remote(x)));`, 'unseen');
    await ended(cl, id);
    await cl.until(
      () => obs.doc.unwatchedTicks >= ticks + 2,
      20_000,
      () => `throughput ticks (${obs.doc.unwatchedTicks})`,
    );
    expect(obs.doc.samples).toBe(samples);
    expect(obs.doc.jobs.has(id)).toBe(false);
    expect(obs.doc.series.size).toBeGreaterThan(0);
    // Its sync step 2 comes after a whole sample: the job and the node are there at once (no waiting for updates).
    const a = replica();
    await a.connect();
    expect(obs.doc.samples).toBeGreaterThan(samples); // the connect's (and the 50 ms timer's, once it is connected)
    expect(a.doc.getMap('jobs').get(id)).toMatchObject({ name: 'unseen', status: 'succeeded', finished: 2 });
    expect(Object.values(a.doc.getMap('nodes').toJSON())).toEqual([expect.objectContaining({ kind: 'edge', state: 'alive', cpus: 2 })]);
    await a.close();
  });

  it('a dashboard with a driver or viewer token syncs; a bad token is closed with 4401', async () => {
    const a = replica();
    await a.connect();
    expect(a.role).toBe('driver');
    await cl.until(
      () => a.doc.getMap('nodes').size > 0,
      20_000,
      () => 'the node in the live view',
    );
    expect(Object.values(a.doc.getMap('nodes').toJSON())).toEqual([expect.objectContaining({ kind: 'edge', state: 'alive', cpus: 2 })]);
    const v = replica(VIEWER);
    await v.connect();
    expect(v.role).toBe('viewer');
    const bad = replica('wrong');
    await expect(bad.connect()).rejects.toThrow(/4401/);
    expect(bad.closeCode).toBe(4401);
  });

  it('a socket that sends a sync message before auth is closed with 4401', async () => {
    const ws = new WebSocket(cl.url.replace('http', 'ws') + '/dashboard/ws');
    await new Promise((r) => ws.once('open', r));
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_SYNC);
    syncProtocol.writeSyncStep1(e, new Y.Doc());
    ws.send(encoding.toUint8Array(e));
    const code = await new Promise((r) => ws.once('close', r));
    expect(code).toBe(4401);
  });

  it('shows a job progress live, and a dashboard that reconnects catches up by diff to the same state as a fresh one', async () => {
    const a = replica();
    await a.connect();
    const firstSync = a.received;
    const id = await submit(cl, `const f = mesh.remote((x) => x + 1); return await mesh.get([1, 2, 3].map((x) => f.remote(x)));`, 'adder');
    const jobs = a.doc.getMap('jobs') as Y.Map<{ status: string; finished: number; submitted: number }>;
    await cl.until(
      () => jobs.get(id)?.status === 'succeeded' && jobs.get(id)?.finished === 3,
      30_000,
      () => `live job view ${JSON.stringify(jobs.get(id))}`,
    );
    await a.close();

    // While it is away: more work, node changes, events.
    const id2 = await submit(cl, `const f = mesh.remote((x) => x * 2); return await mesh.get([1, 2].map((x) => f.remote(x)));`, 'doubler');
    await ended(cl, id2);
    await cl.addNode({ cpus: 1, name: 'late-node' });

    // Freeze the document so that both replicas can be compared.
    const obs = cl.c.observability;
    obs.doc.sample();
    obs.doc.stop();
    try {
      const again = replica(cl.token, a.doc);
      await again.connect();
      const fresh = replica();
      await fresh.connect();
      expect(again.doc.toJSON()).toEqual(fresh.doc.toJSON());
      expect(again.doc.toJSON()).toEqual(obs.doc.doc.toJSON());
      expect((again.doc.getMap('jobs').get(id2) as { status: string }).status).toBe('succeeded');
      expect(Object.values(again.doc.getMap('nodes').toJSON()).map((n) => (n as { name: string }).name)).toContain('late-node');
      // The diff is smaller than the whole document a fresh dashboard gets.
      expect(again.received).toBeLessThan(fresh.received);
      expect(firstSync).toBeGreaterThan(0);
    } finally {
      obs.doc.start(50);
    }
  });

  it("shows a driver session's first failed task as its error, live and after the session ends", async () => {
    const a = replica();
    await a.connect();
    const mesh = await cl.driver();
    const bad = mesh.remote(function bad() {
      throw new RangeError('no luck');
    });
    await expect(mesh.get(bad.remote())).rejects.toThrow(/no luck/);
    const jobs = a.doc.getMap('jobs') as Y.Map<{ kind: string; error: string; ended: string; running: number }>;
    const id = mesh.jobId;
    await cl.until(
      () => jobs.get(id)?.error !== undefined && jobs.get(id)!.error !== '',
      30_000,
      () => `live job view ${JSON.stringify(jobs.get(id))}`,
    );
    expect(jobs.get(id)).toMatchObject({ kind: 'driver', error: 'first failed task bad: RangeError: no luck', running: 0, ended: '' });
    await mesh.close();
    // Ended: how the session ended is shown beside its first failure (the state API's endReason).
    await cl.until(
      () => jobs.get(id)?.ended !== '',
      30_000,
      () => `live job view ${JSON.stringify(jobs.get(id))}`,
    );
    expect(jobs.get(id)).toMatchObject({ status: 'finished', error: 'first failed task bad: RangeError: no luck', ended: 'its driver closed the session' });
  });

  it('is read-only for dashboards: their updates are ignored', async () => {
    const a = replica();
    await a.connect();
    const before = cl.c.observability.doc.doc.getMap('jobs').size;
    const foreign = new Y.Doc();
    foreign.getMap('jobs').set('ffffffffffffffff', { name: 'forged' } as never);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_SYNC);
    syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(foreign));
    a.ws!.send(encoding.toUint8Array(e));
    // A round trip later (the server handles messages in order), nothing changed.
    const probe = replica();
    await probe.connect();
    expect(cl.c.observability.doc.doc.getMap('jobs').has('ffffffffffffffff')).toBe(false);
    expect(cl.c.observability.doc.doc.getMap('jobs').size).toBeGreaterThanOrEqual(before);
    expect(a.ws!.readyState).toBe(WebSocket.OPEN);
    expect(MSG_AUTH).toBe(2);
  });

  it('stays bounded: events, jobs and the throughput ring are capped however much happens', async () => {
    const gcs = cl.c.coordinator.gcs;
    const obs = cl.c.observability;
    for (let i = 0; i < 3 * MAX_EVENTS; i++) gcs.event('test-event', `event ${i}`);
    await cl.until(
      () => obs.doc.events.toArray().some((e) => e.message === `event ${3 * MAX_EVENTS - 1}`),
      20_000,
      () => 'the last event',
    );
    expect(obs.doc.events.length).toBe(MAX_EVENTS);
    // MAX_JOBS + 10 short driver sessions.
    for (let i = 0; i < MAX_JOBS + 10; i++) await (await cl.driver()).close();
    await cl.until(
      () => obs.doc.jobs.size === MAX_JOBS,
      20_000,
      () => `jobs capped (${obs.doc.jobs.size})`,
    );
    expect(obs.doc.events.length).toBe(MAX_EVENTS);
    expect(obs.doc.series.size).toBeLessThanOrEqual(obs.doc.meta.get('slots') as number);
    const a = replica();
    await a.connect();
    expect(a.doc.getArray('events').length).toBe(MAX_EVENTS);
    expect(a.doc.getMap('jobs').size).toBe(MAX_JOBS);
  });
});
