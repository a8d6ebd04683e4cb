// A function's id is its source's hash: jobs that define the same function share it. The coordinator keeps a function
// while a running job uses it and tells the nodes to forget it at the last such job's end (Gcs.dropJobFunctions). A
// node announced a function once, so a task of a later job naming it sent no `fn`: if the earlier job ended before that
// task's nested submit came, the coordinator no longer knew the function, refused the submit ("not registered"), and
// the task's `get` lost its child ("unknown or was freed": 8 of 330 nested jobs in a row under load, session 30). Real
// coordinator, real sockets; the node's frames are held to make the crossing every time.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { coreOf } from '../helpers/sequential.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import { edgePeers } from '../../edge/peer-link.js';
import { inThread } from '../helpers/in-thread.js';
import { until } from '../helpers/poll.js';
import { FrameGate } from '../helpers/held-socket.js';
import type { Mesh } from '../../shared/api/mesh.js';

declare const mesh: Mesh;

/** A task that calls a leaf task (the same source in every job: one function id for all). */
async function parent(x: number): Promise<number> {
  const leaf = mesh.remote(function leaf(y: number) {
    return y * 10;
  });
  return (await mesh.get(leaf.remote(x))) + 1;
}

describe('a function shared by jobs, named by a nested task', () => {
  let cl: Cluster | undefined;
  let rt: NodeRuntime | undefined;
  afterEach(async () => {
    await rt?.close();
    await cl?.stop();
    cl = rt = undefined;
  });

  async function start(gate: FrameGate): Promise<NodeRuntime> {
    cl = await Cluster.start({ nodes: 0 });
    rt = new NodeRuntime(
      { url: cl.url, kind: 'edge', name: 'nested', cpus: 2, storeBytes: 16 << 20 },
      { WebSocket: gate.socket(), spawnExecutor: inThread, peers: await edgePeers(), readsRecords: true },
    );
    await rt.ready;
    return rt;
  }

  const leafKnown = () => [...cl!.c.coordinator.gcs.functions.values()].some((f) => f.name === 'leaf');

  it("a later job's nested submit of it, after the job that brought it ended: the function is that job's, the child runs", async () => {
    const gate = new FrameGate();
    await start(gate);
    const a = await cl!.driver({ groups: false });
    expect(await a.get(a.remote(parent).remote(1))).toBe(11);
    expect(leafKnown()).toBe(true);
    const b = await cl!.driver({ groups: false });
    // Job B's task names the leaf: what the node says of it (its `fn`, its submit) waits until job A has ended.
    gate.holdFrom((m) => (m.t === 'fn' && m.f.name === 'leaf') || (m.t === 'submit' && m.spec.name === 'leaf'));
    const ref = b.remote(parent).remote(2);
    await until(() => gate.held > 0, { what: "job B's nested submit, held" });
    const jobA = coreOf(a).jobId;
    await a.close();
    await until(() => cl!.c.coordinator.gcs.jobs.get(jobA)?.state !== 'running' && !leafKnown(), { what: "job A's end, its leaf dropped" });
    gate.release();
    expect(await b.get(ref, { timeoutMs: 20_000 })).toBe(21);
    expect(leafKnown()).toBe(true); // job B's now
    // And the next job B task naming it runs too (the node holds the source again, the coordinator knows it).
    expect(await b.get(b.remote(parent).remote(3))).toBe(31);
  });

  it('a task assigned without the source the node no longer holds (a forget crossed it): handed back, run with it', async () => {
    await start(new FrameGate());
    const b = await cl!.driver({ groups: false });
    const triple = b.remote((x: number) => x * 3);
    expect(await b.get(triple.remote(1))).toBe(3); // its assign carried the source: the coordinator counts it sent
    const fn = [...cl!.c.coordinator.gcs.functions.values()].find((f) => f.source.includes('x * 3'))!;
    // As a `forget` of an earlier job's end arriving after the node announced the function again.
    rt!.forgetFunctions([fn.fnId]);
    const retried = cl!.c.coordinator.gcs.stats.tasksRetried;
    expect(await b.get(triple.remote(2), { timeoutMs: 20_000 })).toBe(6);
    expect(cl!.c.coordinator.gcs.stats.tasksRetried).toBe(retried); // a hand-back, not a failure
  });

  it("a task group's slice sent without the source the node no longer holds: handed back, run with it", async () => {
    await start(new FrameGate());
    const b = await cl!.driver(); // task groups on: a loop of calls of one function is one group
    const inc = b.remote((x: number) => x + 7);
    const xs = Array.from({ length: 8 }, (_, i) => i);
    expect(await b.get(xs.map((x) => inc.remote(x)))).toEqual(xs.map((x) => x + 7));
    const fn = [...cl!.c.coordinator.gcs.functions.values()].find((f) => f.source.includes('x + 7'))!;
    rt!.forgetFunctions([fn.fnId]);
    expect(
      await b.get(
        xs.map((x) => inc.remote(x * 2)),
        { timeoutMs: 20_000 },
      ),
    ).toEqual(xs.map((x) => x * 2 + 7));
  });
});
