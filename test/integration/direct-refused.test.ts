// A task a driver sent straight to a node (shared/protocol/direct.ts) that the node refused: the coordinator places
// it, maybe on that same node, and recorded the node as holding the function's source because the driver's frame
// carried it. Session 27 found the flake of tasks.test.ts "throws GetTimeoutError from get..." here: the driver's
// task reached the node over the link before the coordinator's force-cancels had freed its executors, was refused
// (busy), and came back by an assign without its source: "executor has no source for function anonymous", a
// TaskError within 100 ms. Counted, not timed, against a real coordinator and real links.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { coreOf } from '../helpers/sequential.js';
import { leased, ON } from '../helpers/direct-driver.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import { edgePeers } from '../../edge/peer-link.js';
import { inThread } from '../helpers/in-thread.js';
import { until } from '../helpers/poll.js';
import { FrameGate } from '../helpers/held-socket.js';

describe('a direct task the node refused', () => {
  let cl: Cluster | undefined;
  afterEach(async () => {
    await cl?.stop();
    cl = undefined;
  });

  it('a busy node refuses a task of a function it never ran: placed there again it runs, and the next task of it is taken', async () => {
    cl = await Cluster.start({ nodes: 0 });
    const m = await cl.driver({ direct: true, groups: false });
    await cl.addNode({ cpus: 1, env: ON });
    const node = [...cl.c.coordinator.gcs.nodes.keys()][0];
    await leased(m, node);
    const d = coreOf(m).direct!;
    const slow = m.remote(async (ms: number) => new Promise<number>((r) => setTimeout(() => r(ms), ms)));
    const fresh = m.remote((x: number) => x + 1); // never sent to the node before
    const refused = d.counts.refused;
    const a = slow.remote(1000); // takes the node's only slot
    const b = fresh.remote(41); // refused (busy): its frame carried the function's source, which the node drops
    expect(await m.get(b)).toBe(42);
    expect(await m.get(a)).toBe(1000);
    expect(d.counts.refused - refused).toBe(1);
    // The node is idle now and holds the source (the assign carried it): the next task of it goes straight there.
    const sent = d.counts.sent;
    expect(await m.get(fresh.remote(1))).toBe(2);
    expect(d.counts.sent - sent).toBe(1);
    await until(() => d.counts.refused - refused >= 1, { what: 'the refusal counted' });
    expect(d.counts.refused - refused).toBe(1);
  });

  it("a node that refuses a task for want of a lease the coordinator granted: placed there, the task's assign carries the source", async () => {
    cl = await Cluster.start({ nodes: 0 });
    const rt = new NodeRuntime(
      { url: cl.url, kind: 'edge', name: 'no-lease-yet', cpus: 1, storeBytes: 16 << 20 },
      { WebSocket: new FrameGate().socket(), spawnExecutor: inThread, peers: await edgePeers(), readsRecords: true, shortcuts: true, direct: true },
    );
    try {
      await rt.ready;
      const m = await cl.driver({ direct: true, groups: false });
      await leased(m, rt.nodeId!);
      const d = coreOf(m).direct!;
      // As when the driver's link outruns the coordinator's `lease` to the node: the node holds no lease of the job.
      rt.direct.lease({ t: 'lease', peer: coreOf(m).jobId, on: false });
      const refused = d.counts.refused;
      const inc = m.remote((x: number) => x + 100); // never sent to the node before
      expect(await m.get(inc.remote(1))).toBe(101);
      await until(() => d.counts.refused - refused >= 1, { what: 'the refusal counted' });
      expect(d.counts.refused - refused).toBe(1);
    } finally {
      await rt.close();
    }
  });
});
