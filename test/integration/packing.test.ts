// Packing across many nodes (issue 14, coordinator/scheduler/packing.ts) with a
// real coordinator and 300 real NodeRuntimes over real WebSockets (their
// executors run the executor core in this thread, as bench:scale's nodes do):
// a burst of short tasks touches few nodes and leaves in frames of many tasks;
// a burst of long ones reaches every node. Counts, not timings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { WebSocketCtor } from '../../shared/api/socket.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import { PACK_ABOVE } from '../../coordinator/scheduler/packing.js';
import { inThread } from '../helpers/in-thread.js';

const NODES = PACK_ABOVE + 44;
const token = 'packing-' + Math.random().toString(36).slice(2);

let c: RunningCoordinator;
let mesh: Mesh;
const nodes: NodeRuntime[] = [];

beforeAll(async () => {
  c = await startCoordinator({ port: 0, memory: true, token });
  for (let i = 0; i < NODES; i += 20) {
    const batch = Array.from({ length: Math.min(20, NODES - i) }, (_, k) => {
      const rt = new NodeRuntime(
        { url: c.url, kind: 'edge', name: `p${i + k}`, cpus: 1, storeBytes: 4 << 20 },
        { WebSocket: WebSocket as unknown as WebSocketCtor, spawnExecutor: inThread },
      );
      nodes.push(rt);
      return rt.ready;
    });
    await Promise.all(batch);
  }
  // Packing is the plain task's placement (packing.ts): each task alone, not in task groups (coordinator/groups).
  mesh = await connect({ url: c.url, token, groups: false });
}, 120_000);

afterAll(async () => {
  await mesh?.close();
  await Promise.all(nodes.map((n) => n.close()));
  await c?.close();
});

const stats = () => c.coordinator.statsJson();

describe(`packing in a mesh of ${NODES} nodes (real coordinator, real sockets)`, () => {
  it('a burst of 3,000 empty tasks: exact results, few nodes touched, many tasks a frame each way', async () => {
    const noop = mesh.remote((i: number) => i);
    // Measured (3 runs or more) and short: its depth is deep, so packing fills 32 a node.
    await mesh.get(Array.from({ length: 50 }, (_, i) => noop.remote(i)));
    const fn = [...c.coordinator.gcs.functions.values()].find((f) => f.runs >= 3)!;
    // On a loaded machine an empty task can measure long (depth 1): pin what a quiet one measures.
    fn.ewmaMs = 0.01;
    const s0 = stats();
    const out = await mesh.get(Array.from({ length: 3000 }, (_, i) => noop.remote(i)));
    const s1 = stats();
    expect(out).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    const d = (k: string) => s1[k] - s0[k];
    console.log(
      `3,000 tasks on ${NODES} nodes: ${d('traffic.nodeTurns')} nodes given work, ${d('traffic.nodeFramesOut')} frames out, ${d('traffic.nodeFramesIn')} in, ${d('schedulerFilled')} placed by packing`,
    );
    expect(d('schedulerFilled')).toBeGreaterThan(2000);
    // Least loaded without packing, the same burst was ~2,200 nodes given work, ~2,600 frames out and ~3,100 in.
    expect(d('traffic.nodeTurns')).toBeLessThan(3000 / 8);
    expect(d('traffic.nodeFramesOut')).toBeLessThan(3000 / 8);
    expect(d('traffic.in.done')).toBe(3000);
    expect(d('traffic.nodeFramesIn')).toBeLessThan(3000 / 4);
  }, 120_000);

  it('a burst of long tasks (one per node) reaches every node', async () => {
    // The tasks end only once all are placed (executors run in this thread: they see this gate), so that on a
    // loaded machine no node is free again, and no run measured, before the driver has sent the last one.
    let open!: () => void;
    (globalThis as { packingGate?: Promise<void> }).packingGate = new Promise<void>((r) => (open = r));
    const slow = mesh.remote(async (i: number) => {
      await (globalThis as unknown as { packingGate: Promise<void> }).packingGate;
      return i;
    });
    const done0 = new Map([...c.coordinator.gcs.nodes.values()].map((n) => [n.id, n.tasksDone]));
    const refs = Array.from({ length: NODES }, (_, i) => slow.remote(i));
    const inflight = () => [...c.coordinator.gcs.nodes.values()].reduce((a, n) => a + n.inflightTasks, 0);
    while (inflight() < NODES) await new Promise((r) => setTimeout(r, 20));
    open();
    const out = await mesh.get(refs);
    expect(out).toEqual(Array.from({ length: NODES }, (_, i) => i));
    const ran = [...c.coordinator.gcs.nodes.values()].filter((n) => n.tasksDone > (done0.get(n.id) ?? 0));
    expect(ran).toHaveLength(NODES);
  }, 120_000);
});
