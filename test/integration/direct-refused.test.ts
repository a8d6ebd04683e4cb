// A task a driver sent straight to a node (shared/protocol/direct.ts) that the node refused: the coordinator places
// it, maybe on that same node, and recorded the node as holding the function's source because the driver's frame
// carried it. Session 27 found the flake of tasks.test.ts "throws GetTimeoutError from get..." here: the driver's
// task reached the node over the link before the coordinator's force-cancels had freed its executors, was refused
// (busy), and came back by an assign without its source: "executor has no source for function anonymous", a
// TaskError within 100 ms. Counted, not timed, against a real coordinator and real links.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { coreOf, sequential } from '../helpers/sequential.js';
import { taskState } from '../helpers/task-state.js';
import { returnObjectId, type TaskId } from '../../shared/ids.js';
import { leased, ON, recorded } from '../helpers/direct-driver.js';
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

  it("a node's refusal that comes after the task's value (the coordinator had placed the task there first): counted late, the task ran once", async () => {
    // direct.test.ts "...holds no lease on..." saw "5 refusals (4)" under load (session 28): the coordinator refuses the
    // forged lease's submit and places the task on that same node; its assign reached the node before the driver's
    // frame, the value came by the node's shortcut, and the refusal found nothing in flight. Here every frame is held
    // until the task's record has ended (its shortcut went before its done), so every refusal comes after the value.
    cl = await Cluster.start({ nodes: 0 });
    const m = await cl.driver({ direct: true, groups: false });
    await cl.addNode({ cpus: 1, env: { TABMESH_DIRECT: '0' } }); // takes no lease: a shortcut link only
    const node = [...cl.c.coordinator.gcs.nodes.keys()][0];
    await sequential(m, 3);
    await until(() => coreOf(m).links?.isOpen(node) === true, { timeoutMs: 10_000, what: 'the link from the node' });
    const d = coreOf(m).direct!;
    const links = coreOf(m).links!;
    const [send, sendDirect] = [d.send.bind(d), links.sendDirect.bind(links)];
    let task: TaskId | undefined;
    d.send = (spec) => ((task = spec.taskId), send(spec));
    links.sendDirect = (peer, b) => {
      const id = task!;
      const placedRan = () => !d.awaits(returnObjectId(id, 0)) || taskState(cl!.c.coordinator, id) === 'finished';
      // Looked at from the next microtask on: the task is in flight once this returns.
      void Promise.resolve()
        .then(() => until(placedRan, { what: 'the placed run to end' }))
        .then(() => sendDirect(peer, b));
      return true;
    };
    await recorded(cl, m);
    d.lease({ t: 'lease', peer: node, on: true }); // forged: the coordinator never granted it
    const finished = cl.c.coordinator.gcs.stats.tasksFinished;
    await sequential(m, 5, 3);
    const sent = d.counts.sent;
    expect(sent).toBeGreaterThanOrEqual(1);
    await until(() => d.counts.refused + d.counts.refusedLate >= sent, { what: () => `${sent} refusals (${JSON.stringify(d.counts)})` });
    expect(d.counts).toMatchObject({ refused: 0, refusedLate: sent });
    await recorded(cl, m);
    expect(cl.c.coordinator.gcs.stats.tasksFinished - finished).toBe(5);
  });
});
