// What a long-running mesh keeps (issue 14, session 14): per-task and
// per-object state on the node, the driver and the coordinator goes with its
// task, object or job. A real coordinator, real sockets, a real NodeRuntime
// whose executors run in this thread. Counts of entries, not timings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { ObjectRef } from '../../shared/api/ref.js';
import type { WebSocketCtor } from '../../shared/api/socket.js';
import type { DriverCore } from '../../shared/api/driver.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import { inThread } from '../helpers/in-thread.js';
import { until } from '../helpers/poll.js';

declare const mesh: Mesh; // inside tasks

const token = 'long-run-' + Math.random().toString(36).slice(2);
let c: RunningCoordinator;
let node: NodeRuntime;

beforeAll(async () => {
  c = await startCoordinator({ port: 0, memory: true, token });
  node = new NodeRuntime(
    { url: c.url, kind: 'edge', name: 'long-run', cpus: 2, storeBytes: 64 << 20 },
    { WebSocket: WebSocket as unknown as WebSocketCtor, spawnExecutor: inThread },
  );
  await node.ready;
}, 60_000);

afterAll(async () => {
  await node?.close();
  await c?.close();
});

describe('a node keeps no readiness of the objects its tasks awaited', () => {
  it('300 tasks each get and wait on a small object, 20 read a large one: no subscription left on the node', async () => {
    const mesh: Mesh = await connect({ url: c.url, token });
    try {
      const reader = mesh.remote(async (box: [ObjectRef<number>]) => {
        await mesh.wait([box[0]]);
        return (await mesh.get(box[0])) + 1;
      });
      const size = mesh.remote((b: Uint8Array) => b.byteLength);
      const small = Array.from({ length: 300 }, (_, i) => mesh.put(i));
      expect(await mesh.get(small.map((r) => reader.remote([r])))).toEqual(small.map((_, i) => i + 1));
      // Over the inline threshold: the node subscribes, then fetches the bytes through the relay.
      const large = Array.from({ length: 20 }, (_, i) => mesh.put(new Uint8Array(100_000 + i)));
      expect(await mesh.get(large.map((r) => size.remote(r)))).toEqual(large.map((_, i) => 100_000 + i));
      // Every object awaited was delivered: nothing waits, nothing is kept (it was 320 entries before).
      expect(node.objects.waitingIds()).toEqual([]);
      expect(node.objects.subscriptions).toBe(0);
      mesh.free([...small, ...large]);
    } finally {
      await mesh.close();
    }
  }, 120_000);
});

describe('a driver keeps its submissions without outputs until the coordinator has them', () => {
  it('200 tasks without outputs ran; the connection drops; the resumed driver sends none again and none runs twice', async () => {
    const mesh: Mesh = await connect({ url: c.url, token });
    const runs = globalThis as unknown as { zeroRuns: number };
    runs.zeroRuns = 0;
    try {
      const bump = mesh.remote(
        () => {
          (globalThis as unknown as { zeroRuns: number }).zeroRuns++;
        },
        { numReturns: 0 },
      );
      const one = mesh.remote((i: number) => i);
      for (let i = 0; i < 200; i++) bump.remote();
      await until(() => runs.zeroRuns === 200, { what: () => `200 runs, ${runs.zeroRuns} so far` });
      const held = (mesh.core as DriverCore).held;
      // Kept for the job's life before (200 here).
      await until(() => held.unreceived === 0, { what: () => `the coordinator's receipt, ${held.unreceived} kept` });
      const driver = [...c.coordinator.sessions].find((s) => s.role === 'driver' && s.jobId === mesh.jobId)!;
      const submitted = c.coordinator.gcs.stats.tasksSubmitted;
      driver.ws.terminate();
      // Resumed: the replay goes before this task, on the same connection.
      expect(await mesh.get(one.remote(7))).toBe(7);
      expect(c.coordinator.gcs.stats.tasksSubmitted - submitted).toBe(1);
      expect(runs.zeroRuns).toBe(200);
    } finally {
      await mesh.close();
    }
  }, 120_000);
});

describe("the coordinator's functions go with the jobs that use them", () => {
  it('a function used by one job leaves the table at its end; one used by two stays until the second ends', async () => {
    const fns = c.coordinator.gcs.functions;
    const before = fns.size;
    const a = await connect({ url: c.url, token });
    const b = await connect({ url: c.url, token });
    const shared = (x: number) => x * 2;
    const own = (x: number) => x * 3;
    expect(await a.get([a.remote(shared).remote(1), a.remote(own).remote(1)])).toEqual([2, 3]);
    expect(await b.get(b.remote(shared).remote(2))).toBe(4);
    expect(fns.size).toBe(before + 2);
    await a.close();
    // The job ends when its driver says goodbye; only the function no other job uses goes (both stayed for good before).
    await until(() => fns.size === before + 1, { what: () => `${fns.size - before} functions left` });
    expect(await b.get(b.remote(shared).remote(3))).toBe(6);
    await b.close();
    await until(() => fns.size === before, { what: () => `${fns.size - before} functions left` });
  }, 60_000);
});

describe('a node forgets the functions of ended jobs (issue 14, session 15)', () => {
  it('after 5 jobs end, the node, its executors and its coordinator record hold none of their functions; a later job ships one again', async () => {
    const record = () => c.coordinator.gcs.nodes.get(node.nodeId!)!;
    const bodies = [(x: number) => x + 1, (x: number) => x + 2, (x: number) => x + 3, (x: number) => x + 4, (x: number) => x + 5];
    const held = () => [...node.fns.keys()];
    const before = new Set(held());
    const ids = new Set<string>();
    for (const [i, body] of bodies.entries()) {
      const m = await connect({ url: c.url, token });
      const f = m.remote(body);
      // A nested submit too: that function reaches the coordinator from the node (its `fn`), not from the driver.
      const outer = m.remote(async (x: number) => mesh.get(mesh.remote((y: number) => y * 10).remote(x)));
      expect(await m.get([f.remote(i), outer.remote(i)])).toEqual([i + i + 1, i * 10]);
      for (const id of held()) if (!before.has(id)) ids.add(id);
      await m.close();
    }
    expect(ids.size).toBe(7); // 5 own functions, the shared outer and its nested one
    // Each job's end tells the node; the last one leaves nothing of theirs.
    await until(() => held().every((id) => !ids.has(id)), { what: () => `the node holds ${held().filter((id) => ids.has(id)).length} of them` });
    for (const ex of node.local.executors) expect([...ex.fns].filter((id) => ids.has(id))).toEqual([]);
    expect([...(record().functions ?? [])].filter((id) => ids.has(id))).toEqual([]);
    // A later job of the same function: shipped again with its task.
    const m = await connect({ url: c.url, token });
    try {
      expect(await m.get(m.remote(bodies[0]).remote(41))).toBe(42);
      expect(await m.get(m.remote(async (x: number) => mesh.get(mesh.remote((y: number) => y * 10).remote(x))).remote(2))).toBe(20);
    } finally {
      await m.close();
    }
  }, 120_000);
});
