// Issue 8: limits per connection and per address. Over a limit the offending
// connection gets an error naming it and is closed; the rest of the mesh
// goes on (a legitimate driver's tasks still run).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { HostileNode, RawPeer } from './hostile.js';
import { PROTOCOL_VERSION, type Msg } from '../../shared/protocol/messages.js';
import { childTaskId, functionId, rootTaskId, putObjectId } from '../../shared/ids.js';
import type { Mesh } from '../../shared/api/mesh.js';

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
