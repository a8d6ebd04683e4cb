// Direct submission (issue 14): a driver's submission that comes after the
// coordinator gave up waiting for it (record-waits.ts WAIT_MS). The node's
// messages about the task (its reports, its puts, its nested submits, the
// release of what it held) are parked in order and handled when the record
// comes: nothing is refused, lost or answered wrongly (session 20: the put was
// refused, the `done` parked and the release passed, so the result named an
// object the GCS never recorded: ObjectLostError for the task's put).
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';
import { gatedLeased, recorded } from '../helpers/direct-driver.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { ObjectRef } from '../../shared/index.js';
import { PARKED_MSGS_PER_LEASE } from '../../coordinator/parked-messages.js';

declare const mesh: Mesh; // inside tasks

describe('direct submission: a submission later than the wait', () => {
  let cl: Cluster | undefined;
  afterEach(async () => {
    await cl?.stop();
    cl = undefined;
  });

  it("a direct task's put, nested task and release reach the coordinator long before its submission: parked, handled when it comes, nothing lost", async () => {
    cl = await Cluster.start({ nodes: 0 });
    const { gate, m, warnings } = await gatedLeased(cl);
    await recorded(cl, m); // nothing of the driver's own is on its way: only the gated submission below
    const stats = () => cl!.c.coordinator.statsJson();
    const before = stats();
    const producer = m.remote(() => {
      const inner = mesh.put({ word: 'inside' });
      const child = mesh.remote((x: number) => x + 1).remote(41);
      return { inner, child };
    });
    gate.hold(); // the driver's submission is late: held in the driver, so the coordinator sees no backlog of it
    const ref = producer.remote();
    // The wait for the record was given up (WAIT_MS): the node's held message and its put were handled without it.
    await until(() => stats().recordWaitsOver - before.recordWaitsOver >= 2, { timeoutMs: 15_000, what: 'the wait given up' });
    gate.release();
    const out = await m.get(ref);
    expect(await m.get(out.inner)).toEqual({ word: 'inside' });
    expect(await m.get(out.child)).toBe(42);
    expect(warnings).toEqual([]);
    // Nothing had to run again: the node's messages were kept, not dropped.
    expect(stats().tasksRetried - before.tasksRetried).toBe(0);
    expect(stats().nodesLostClosed - before.nodesLostClosed).toBe(0);
  });

  it('a late direct task that puts more than a lease may park: given up there, it runs again as its next attempt, its result exact', async () => {
    cl = await Cluster.start({ nodes: 0 });
    const { gate, m, warnings } = await gatedLeased(cl);
    await recorded(cl, m);
    const stats = () => cl!.c.coordinator.statsJson();
    const before = stats();
    const many = PARKED_MSGS_PER_LEASE + 50;
    const producer = m.remote((n: number) => {
      const refs = [];
      for (let i = 0; i < n; i++) refs.push(mesh.put(i));
      return { first: refs[0], last: refs[n - 1], n: refs.length };
    });
    gate.hold();
    const ref = producer.remote(many);
    await until(() => stats().recordParkSpoiled > before.recordParkSpoiled, { timeoutMs: 20_000, what: 'what was parked given up' });
    gate.release();
    const out = await m.get(ref);
    expect(out.n).toBe(many);
    expect(await m.get([out.first, out.last])).toEqual([0, many - 1]);
    expect(warnings).toEqual([]);
    expect(stats().tasksRetried - before.tasksRetried).toBe(1);
    // The node's reports of the run given up were late, not lies.
    expect(stats().nodesLostClosed - before.nodesLostClosed).toBe(0);
  });

  it("a driver's new object read by a late direct task: the node's subscribe is parked, not answered lost", async () => {
    cl = await Cluster.start({ nodes: 0 });
    const { gate, m, warnings } = await gatedLeased(cl);
    await recorded(cl, m);
    const stats = () => cl!.c.coordinator.statsJson();
    const before = stats();
    const reader = m.remote(async (box: { r: ObjectRef<number[]> }) => (await mesh.get(box.r)).length);
    gate.hold();
    const x = m.put([1, 2, 3]);
    const len = reader.remote({ r: x });
    await until(() => stats().recordWaitsOver - before.recordWaitsOver >= 1, { timeoutMs: 15_000, what: 'the wait given up' });
    gate.release();
    expect(await m.get(len)).toBe(3);
    expect(warnings).toEqual([]);
    expect(stats().tasksRetried - before.tasksRetried).toBe(0);
  });
});
