// Cancelling a task group's members (groups on, the default): a job cancelled through DELETE /api/jobs/:id (a
// driver's job and a submitted one), a driver leaving while members run, and mesh.cancel of members queued,
// running and done. Each scenario ends with the node free (inflightTasks 0, its executors taking new work).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { call, submit } from '../dashboard/helpers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { TaskCancelledError, type ObjectRef } from '../../shared/index.js';
import type { JobId } from '../../shared/ids.js';

declare const mesh: Mesh; // inside tasks

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** A member that never ends (until its executor is restarted or it is asked to stop). */
const ENDLESS = async (i: number) => {
  for (;;) await new Promise((r) => setTimeout(r, 50));
  return i;
};

describe('cancelling task group members', () => {
  let cl: Cluster;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
  });
  afterAll(() => cl.stop());

  const c = () => cl.c.coordinator;
  const running = (job: string) => [...(c().groups?.table.ofJob(job as JobId) ?? [])].reduce((k, g) => k + g.running, 0);
  /** The node is free: nothing in flight, and a new driver's task runs there. */
  async function free(): Promise<void> {
    await cl.until(
      () => [...c().gcs.nodes.values()].every((n) => n.inflightTasks === 0),
      20_000,
      () => `inflight ${[...c().gcs.nodes.values()].map((n) => n.inflightTasks)}`,
    );
    const m = await cl.driver();
    expect(await m.get(m.remote((x: number) => x + 1).remote(1))).toBe(2);
    await m.close();
  }
  /** Until some of `m`'s members run on a node's slice. */
  const onSlice = (m: Mesh) =>
    cl.until(
      () => running(m.jobId) > 0,
      20_000,
      () => 'members on a slice',
    );
  async function allCancelled(m: Mesh, refs: ObjectRef<unknown>[]): Promise<void> {
    for (const r of refs) await expect(m.get(r, { timeoutMs: 20_000 })).rejects.toBeInstanceOf(TaskCancelledError);
  }

  it("DELETE /api/jobs/:id of a driver's job: its members queued and running end cancelled, its driver is told", async () => {
    const m = await cl.driver();
    const endless = m.remote(ENDLESS);
    const refs = range(8).map((i) => endless.remote(i));
    await onSlice(m);
    expect((await call(cl, 'DELETE', `/api/jobs/${m.jobId}`)).status).toBe(200);
    await allCancelled(m, refs);
    const job = c().gcs.jobs.get(m.jobId as JobId)!;
    expect(job.counts).toMatchObject({ submitted: 8, cancelled: 8, finished: 0, failed: 0 });
    await free();
    await m.close();
  });

  it("DELETE /api/jobs/:id of a submitted job (the dashboard's Cancel): its members stop on their node, counted cancelled", async () => {
    const source = `const endless = mesh.remote(async function endless(i) {
  for (;;) await new Promise((r) => setTimeout(r, 50));
  return i;
});
await mesh.get(Array.from({ length: 6 }, (_, i) => endless.remote(i)));
return 'never';`;
    const id = await submit(cl, source, 'endless group');
    await cl.until(
      () => running(id) > 0,
      30_000,
      () => 'members on a slice',
    );
    expect((await call(cl, 'DELETE', `/api/jobs/${id}`)).status).toBe(200);
    expect(cl.c.observability.runner.jobs.get(id as never)?.status).toBe('cancelled');
    const job = c().gcs.jobs.get(id as JobId)!;
    expect(job.state).toBe('finished');
    expect(job.counts).toMatchObject({ submitted: 6, cancelled: 6, finished: 0 });
    expect(c().groups?.table.groups.size).toBe(0);
    await free();
  });

  it("a driver leaving while its members run ends its job: members cancelled, the node's executors free", async () => {
    const m = await cl.driver();
    const endless = m.remote(ENDLESS);
    range(10).map((i) => endless.remote(i));
    await onSlice(m);
    const job = c().gcs.jobs.get(m.jobId as JobId)!;
    await m.close();
    await cl.until(
      () => job.state === 'finished',
      20_000,
      () => 'the job to end',
    );
    expect(job.counts).toMatchObject({ submitted: 10, cancelled: 10 });
    await free();
  });

  // Member 0 loops (a call to its node each 30 ms: a non-forced cancel stops it at the next); the others nap 150 ms.
  const NAP_OR_LOOP = async (i: number) => {
    for (;;) {
      if (i >= 0) {
        await new Promise((r) => setTimeout(r, 150));
        return i;
      }
      await mesh.nodes();
      await new Promise((r) => setTimeout(r, 30));
    }
  };

  for (const force of [true, false]) {
    it(`mesh.cancel of members with force ${force}: running and queued ones end cancelled, their mates finish, a done one keeps its value`, async () => {
      const m = await cl.driver();
      const f = m.remote(NAP_OR_LOOP);
      const refs = [-1, ...range(9)].map((i) => f.remote(i));
      await onSlice(m);
      // Member 0 runs (the first slice: one member a CPU); member 9 waits in the group's queue or on the node.
      m.cancel(refs[0], { force });
      m.cancel(refs[9], { force });
      await allCancelled(m, [refs[0], refs[9]]);
      expect(await m.get(refs.slice(1, 9))).toEqual(range(8));
      m.cancel(refs[1], { force }); // ended: nothing to stop
      expect(await m.get(refs[1])).toBe(0);
      expect(c().gcs.jobs.get(m.jobId as JobId)!.counts).toMatchObject({ submitted: 10, finished: 8, cancelled: 2 });
      await m.close();
      await free();
    });
  }

  it("a list of a group's refs is cancelled with one materialize for all of them", async () => {
    const m = await cl.driver();
    const endless = m.remote(ENDLESS);
    const refs = range(64).map((i) => endless.remote(i));
    await onSlice(m);
    const asked = vi.spyOn(c().groups!, 'materialize');
    m.cancel(refs, { force: true });
    await allCancelled(m, refs);
    expect(asked).toHaveBeenCalledTimes(1);
    expect(asked.mock.calls[0][1].idx).toEqual(range(64));
    asked.mockRestore();
    expect(c().gcs.jobs.get(m.jobId as JobId)!.counts).toMatchObject({ submitted: 64, cancelled: 64 });
    await m.close();
    await free();
  });

  it("a loop of 1,000 single cancels of one group's members sends one materialize and a cancel each; every get raises TaskCancelledError", async () => {
    const m = await cl.driver();
    const endless = m.remote(ENDLESS);
    const refs = range(1000).map((i) => endless.remote(i));
    await onSlice(m);
    expect([...c().groups!.table.ofJob(m.jobId as JobId)].length).toBe(1);
    const asked = vi.spyOn(c().groups!, 'materialize');
    const cancels = vi.spyOn(c().ends, 'cancel');
    for (const r of refs) m.cancel(r, { force: true });
    await allCancelled(m, refs);
    expect(asked).toHaveBeenCalledTimes(1);
    expect(asked.mock.calls[0][1].idx).toEqual(range(1000));
    expect(cancels).toHaveBeenCalledTimes(1000);
    asked.mockRestore();
    cancels.mockRestore();
    expect(c().gcs.jobs.get(m.jobId as JobId)!.counts).toMatchObject({ submitted: 1000, cancelled: 1000 });
    await m.close();
    await free();
  });

  it("a single cancel, then a call that takes the cancelled member's ref in the same turn: the cancel goes first and takes", async () => {
    const m = await cl.driver();
    const ident = m.remote((x: number) => x);
    expect(await m.get(ident.remote(1))).toBe(1); // its function is sent: the call below sends only its submit
    const endless = m.remote(ENDLESS);
    const refs = range(8).map((i) => endless.remote(i));
    await onSlice(m);
    const asked = vi.spyOn(c().groups!, 'materialize');
    m.cancel(refs[7]);
    m.cancel(refs[6]);
    // Its argument is a member with a cancel waiting for the turn's end: that cancel leaves first, then the call.
    const after = ident.remote(refs[7]);
    m.free(refs[6]);
    await allCancelled(m, [refs[7], after]);
    expect(asked).toHaveBeenCalledTimes(1);
    expect(asked.mock.calls[0][1].idx).toEqual([7, 6]);
    asked.mockRestore();
    m.cancel(refs.slice(0, 6), { force: true });
    await allCancelled(m, refs.slice(0, 6));
    await m.close();
    await free();
  });

  it('a member cancelled without force that then puts (a call nobody awaits) ends cancelled; its executor does not crash', async () => {
    const m = await cl.driver();
    const reported = vi.spyOn(c().tasks, 'reportedFailed');
    const f = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, i === 0 ? 400 : 800));
      if (i !== 0) return i;
      mesh.put(i); // after the cancel: dropped (its rejection was unhandled and ended the executor)
      await new Promise((r) => setTimeout(r, 100));
      await mesh.nodes(); // a call that waits for its reply: it raises TaskCancelledError
      return i;
    });
    const refs = range(4).map((i) => f.remote(i));
    await onSlice(m);
    m.cancel(refs[0]);
    await allCancelled(m, [refs[0]]);
    expect(await m.get(refs.slice(1))).toEqual([1, 2, 3]);
    expect(reported.mock.calls.map(([, failure]) => failure.code)).toEqual(['TASK_CANCELLED']);
    reported.mockRestore();
    await m.close();
    await free();
  });
});
