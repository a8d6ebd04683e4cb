// A cancel that reaches the node before its direct task (issue 14, session
// 21; shared/node/cancels-ahead.ts). The driver sends the task to the node
// over their link and the cancel through the coordinator, which forwards it to
// the node the task was sent to: here the node takes direct tasks 400 ms late,
// so the cancel always comes first. Before, the node dropped it as naming no
// task of its own and ran the task when it came (Ray's test_stress in CI: a
// cancelled task returned its value; a force-cancelled endless one held the
// node's only CPU for good).
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';
import { coreOf } from '../helpers/sequential.js';
import { leased } from '../helpers/direct-driver.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import { edgePeers } from '../../edge/peer-link.js';
import { FrameGate } from '../helpers/held-socket.js';
import { inThread } from '../helpers/in-thread.js';
import { TaskCancelledError } from '../../shared/errors.js';
import { taskOfObject } from '../../shared/ids.js';
import type { Mesh } from '../../shared/api/mesh.js';

/** A task that runs until it is stopped. */
const endlessOn = (m: Mesh) =>
  m.remote(
    async () => {
      for (;;) await new Promise((r) => setTimeout(r, 50));
    },
    { name: 'endless' },
  );

describe('a cancel before its direct task', () => {
  let cl: Cluster | undefined;
  let node: NodeRuntime | undefined;
  afterEach(async () => {
    await node?.close();
    await cl?.stop();
    cl = node = undefined;
  });

  /** A coordinator, one in-thread edge node of 1 CPU taking direct tasks, and a driver leased to it. */
  async function leasedNode(name: string): Promise<{ cl: Cluster; m: Mesh; rt: NodeRuntime }> {
    const c = (cl = await Cluster.start({ nodes: 0 }));
    const rt = (node = new NodeRuntime(
      { url: c.url, kind: 'edge', name, cpus: 1, storeBytes: 16 << 20 },
      { WebSocket: new FrameGate().socket(), spawnExecutor: inThread, peers: await edgePeers(), readsRecords: true, shortcuts: true, direct: true },
    ));
    await rt.ready;
    const m = await c.driver({ direct: true, groups: false });
    await leased(m, rt.nodeId!);
    return { cl: c, m, rt };
  }

  it.each([false, true])("the task comes after its cancel (force %s): it ends cancelled without running, and the node's CPU stays free", async (force) => {
    const { cl, m, rt } = await leasedNode('late-direct');
    const runs: string[] = [];
    const ran = rt.onTaskEnd;
    rt.onTaskEnd = (name, outcome) => {
      runs.push(`${name} ${outcome}`);
      ran(name, outcome);
    };
    // Direct tasks reach the node's task table 400 ms after they come over the link.
    const take = rt.direct.onLink.bind(rt.direct);
    let late = 0;
    rt.direct.onLink = (peer, d) => {
      late++;
      setTimeout(() => take(peer, d), 400);
    };
    const d = coreOf(m).direct!;
    const sent = d.counts.sent;
    const endless = endlessOn(m);
    const quick = m.remote((x: number) => x + 1, { name: 'quick' });
    const a = endless.remote();
    const b = quick.remote(1);
    expect(d.counts.sent - sent).toBe(2);
    m.cancel(a, { force });
    m.cancel(b, { force });
    await expect(m.get(a, { timeoutMs: 20_000 })).rejects.toThrow(TaskCancelledError);
    await expect(m.get(b, { timeoutMs: 20_000 })).rejects.toThrow(TaskCancelledError);
    await until(() => late >= 2, { what: 'both direct tasks to come to the node' });
    await until(() => runs.length >= 2, { what: 'the node to end both' });
    expect(runs.sort()).toEqual(['endless cancelled', 'quick cancelled']);
    for (const r of [a, b]) expect(cl.c.coordinator.gcs.tasks.get(taskOfObject(r.id))?.state).toBe('cancelled');
    // The node's CPU is free: a task after them runs (the endless one never started).
    rt.direct.onLink = take;
    expect(await m.get(quick.remote(41), { timeoutMs: 20_000 })).toBe(42);
  });

  it('a busy node refuses a direct task its driver cancelled: the coordinator ends it cancelled, it does not place it elsewhere', async () => {
    const { cl, m } = await leasedNode('busy-direct');
    const endless = endlessOn(m);
    const held = endless.remote();
    const gcs = cl.c.coordinator.gcs;
    await until(() => gcs.tasks.get(taskOfObject(held.id))?.state === 'running', { what: 'the endless task to hold the node' });
    // A second node, idle, without leases: where the coordinator places what the busy one gives back.
    await cl.addNode({ cpus: 1, env: { TABMESH_DIRECT: '0' } });
    await until(() => gcs.nodes.size === 2, { what: 'the second node' });
    const d = coreOf(m).direct!;
    const [sent, refused, finished] = [d.counts.sent, d.counts.refused, gcs.stats.tasksFinished];
    const quick = m.remote((x: number) => x + 1, { name: 'quick' });
    const r = quick.remote(1);
    expect(d.counts.sent - sent).toBe(1);
    m.cancel(r);
    await expect(m.get(r, { timeoutMs: 20_000 })).rejects.toThrow(TaskCancelledError);
    expect(d.counts.refused - refused).toBe(1); // busy: no free slot
    expect(gcs.tasks.get(taskOfObject(r.id))?.state).toBe('cancelled');
    expect(gcs.stats.tasksFinished - finished).toBe(0); // it ran nowhere
    m.cancel(held, { force: true });
  });
});
