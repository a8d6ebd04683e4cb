// A job let go of (issue 15: another coordinator took its lease while this one
// was paused) comes back here as the new owner's guest job, under the same
// deterministic task and object ids. Handles held under the old job (its
// driver's, a guest link's) must not be released onto the new records: the
// new owner's task would end here with its output freed and be reported
// OBJECT_LOST ("task anonymous finished", test/redis/fence.test.ts, CI once).
// White-box: a real Coordinator (in-memory GCS), hand-made sessions; the guest
// side is coordinator/mesh/guest-jobs.ts as an agent runs it.
import { afterEach, describe, expect, it } from 'vitest';
import { pack, Packr } from 'msgpackr';
import { Coordinator } from '../../coordinator/coordinator.js';
import { GuestJobs } from '../../coordinator/mesh/guest-jobs.js';
import { PeerAgent } from '../../coordinator/mesh/agent.js';
import { recoverRows } from '../../coordinator/gcs/recovery.js';
import { stopLetGoRuns } from '../../coordinator/mesh/let-go-actors.js';
import type { JobMesh } from '../../coordinator/jobs/job-manager.js';
import { nodeRecord } from '../helpers/node-record.js';
import { until } from '../helpers/poll.js';
import { encodeFrame } from '../../shared/protocol/frame.js';
import { newJobId, returnObjectId, type JobId } from '../../shared/ids.js';
import type { Msg, TaskSpec } from '../../shared/protocol/messages.js';
import { coordinatorIn, handSession, plainSpec } from '../helpers/white-box.js';

const made: Coordinator[] = [];
afterEach(async () => {
  await new Promise((r) => setImmediate(r)); // releases a report left for the end of the turn
  for (const co of made.splice(0)) co.close();
});

const coordinator = (): Coordinator => coordinatorIn(made);

const session = handSession;

const spec = plainSpec;

/** A coordinator running job `job` for its driver, 3 tasks submitted (no node: they stay queued). */
function owning() {
  const co = coordinator();
  const driver = session('driver');
  co.sessions.add(driver);
  const job = co.jobs.start(driver, undefined, undefined, undefined);
  if ('code' in job) throw new Error(job.message);
  const specs = [0, 1, 2].map((i) => spec(job.id, i));
  for (const s of specs) expect(co.tasks.submit(structuredClone(s), driver, null)).toBeNull();
  return { co, driver, job: job.id, specs };
}

/** The peer's side of the link, as coordinator/mesh/agent.ts wires it: tasks it places run here as guests, their ends go back. */
function guestLink(co: Coordinator, peer: string) {
  const sent: Msg[] = [];
  const link = session(`coordinator ${peer}`, sent);
  const guests = new GuestJobs(co, peer, link, (m) => void sent.push(m));
  co.tasks.onEnded = (t) => guests.ended(t);
  return { link, guests, sent };
}

/** Task `s` ran here and returned `v` (as a node would report it). */
function finish(co: Coordinator, s: TaskSpec, v: number): void {
  const t = co.gcs.tasks.get(s.taskId)!;
  co.tasks.completeDone(t, { t: 'done', taskId: s.taskId, attempt: t.spec.attempt, ms: 1, results: [{ v: pack(v), refs: [] }] }, session('node'));
}

describe('handles of a job let go of', () => {
  it("the old driver's handles, released after the let-go, do not free the new owner's outputs of the same tasks: they end done, not OBJECT_LOST", () => {
    const { co, driver, job, specs } = owning();
    expect(driver.held.size).toBe(3);
    // Paused past the lease: the other coordinator took the job; it is let go here before the driver's close is handled.
    co.jobs.letGo(job, 'another coordinator took its lease');
    // The new owner places the unfinished tasks here again, as its guests (next attempt: it read their rows back).
    const { guests, sent } = guestLink(co, 'peer-b');
    for (const s of specs) guests.assign({ t: 'assign', spec: { ...structuredClone(s), attempt: 1 }, inline: [] });
    expect(co.gcs.jobs.get(job)?.guest).toBe('peer-b');
    // Now the old driver's connection close is handled (its frames waited in the inbox, or the close came late).
    co.onClose(driver, 1006);
    specs.forEach((s, i) => finish(co, s, i * 5 + 2));
    const ends = sent.filter((m) => m.t === 'done' || m.t === 'failed');
    expect(ends.map((m) => [m.t, m.taskId, m.attempt])).toEqual(specs.map((s) => ['done', s.taskId, 1]));
  });

  it("a guest job's link handles go with it at a takeover: the agent's close later does not free the new owner's object its driver holds", async () => {
    const co = coordinator();
    const job = newJobId();
    const s = spec(job, 0);
    const out = returnObjectId(s.taskId, 0);
    // We run a task of the peer's job; its output is stored on our node (the link holds it until the peer frees it).
    const agent = new PeerAgent(co, 'peer-a', () => {}, undefined);
    co.tasks.onEnded = (t) => agent.ended(t);
    agent.onFrame(encodeFrame([{ t: 'assign', spec: structuredClone(s), inline: [] }]));
    const node = session('node');
    const t = co.gcs.tasks.get(s.taskId)!;
    co.tasks.completeDone(t, { t: 'done', taskId: s.taskId, attempt: 0, ms: 1, results: [{ size: 100_000, hash: 'h', refs: [] }] }, node);
    expect(agent.session.held.get(out)).toBe(1);

    // The peer is paused past the lease; its driver comes here: the guest job ends, the job's rows are read back.
    agent.dropJob(job);
    const rows = new Packr({ useRecords: false, mapsAsObjects: true });
    const secret = 'x'.repeat(48);
    recoverRows(
      co,
      {
        jobs: [
          [job, rows.pack({ id: job, state: 'running', startedAt: 1, endedAt: 0, counts: { submitted: 1, finished: 1, failed: 0, cancelled: 0 }, secret })],
        ],
        tasks: [[s.taskId, rows.pack({ spec: s, state: 'finished', submittedAt: 1 })]],
        objects: [[out, rows.pack({ id: out, job, state: 'ready', size: 100_000, hash: 'h', v: null, failure: null, contains: [] })]],
      },
      20,
    );
    const driver = session('driver');
    co.sessions.add(driver);
    expect('code' in co.jobs.resume(driver, { jobId: job, secret, held: [out] })).toBe(false);
    expect(co.dir.announced(node, { id: out, size: 100_000, hash: 'h' })).toBe(true);
    // The peer is gone for good: the agent closes. Then the recovery hold goes (its grace): the driver's handle is left.
    agent.close();
    await new Promise((r) => setTimeout(r, 60));
    expect(co.dir.get(out)?.refs).toBe(1);
    expect(driver.held.get(out)).toBe(1);
  });
});

describe('a result a peer coordinator did not keep', () => {
  it("the runner reports a finished task whose output record went as its node's loss (NODE_LOST), not as the object's; the owner runs it again, within maxRetries", () => {
    // The runner: some release took its output while it ran (the bug above); it ends with nothing to send.
    const co = coordinator();
    const job = newJobId();
    const s = spec(job, 0);
    const { link, guests, sent } = guestLink(co, 'peer-a');
    guests.assign({ t: 'assign', spec: structuredClone(s), inline: [] });
    co.dir.unhold(link, returnObjectId(s.taskId, 0));
    finish(co, s, 2);
    const [report] = sent.filter((m) => m.t === 'done' || m.t === 'failed');
    expect(report).toMatchObject({ t: 'failed', taskId: s.taskId, attempt: 0, failure: { code: 'NODE_LOST' } });
    if (report.t !== 'failed') throw new Error('unreachable');

    // The owner: the task goes back to the queue as its next attempt, its output still pending; past maxRetries it fails.
    const { co: owner, driver, specs } = owning();
    const t = owner.gcs.tasks.get(specs[0].taskId)!;
    for (let attempt = 1; attempt <= 3; attempt++) {
      owner.tasks.reportedFailed(t, report.failure);
      expect([t.state, t.spec.attempt]).toEqual(['queued', attempt]);
    }
    owner.tasks.reportedFailed(t, report.failure);
    expect(t.state).toBe('failed');
    expect(owner.dir.get(returnObjectId(specs[0].taskId, 0))?.failure?.code).toBe('NODE_LOST');
    expect(driver.held.size).toBe(3);
  });
});

describe('runs of a job let go of', () => {
  it("once the new owner's grace has passed, the runs our node holds that it did not place here again are cancelled (not the one it did)", async () => {
    const { co, job, specs } = owning();
    const toNode: Msg[] = [];
    const n = nodeRecord('n', { session: session('node', toNode), resources: { cpu: 4 } });
    co.gcs.nodeTable.set(n.id, n);
    co.scheduler.addNode(n);
    await until(() => specs.every((s) => co.gcs.tasks.get(s.taskId)?.node === n), { timeoutMs: 5000, what: 'the 3 tasks on the node' });
    // As coordinator/mesh wires it (its recovery grace: 20 ms here).
    co.jobs.mesh = { keepCopies: (j: JobId) => stopLetGoRuns(co, j, 20), jobEnded: () => {} } as unknown as JobMesh;
    co.jobs.letGo(job, 'another coordinator took its lease');
    // The new owner places the first task on the same node again (through us, its next attempt); the others elsewhere.
    const { guests } = guestLink(co, 'peer-b');
    guests.assign({ t: 'assign', spec: { ...structuredClone(specs[0]), attempt: 1 }, inline: [] });
    await until(() => co.gcs.tasks.get(specs[0].taskId)?.node === n, { timeoutMs: 5000, what: 'the new attempt on the node' });
    await until(() => co.gcs.events.some((e) => e.kind === 'runs-let-go-cancelled'), { timeoutMs: 10_000, what: 'the stale runs to be cancelled' });
    const cancels = toNode.filter((m) => m.t === 'cancelTask');
    expect(cancels).toEqual([specs[1], specs[2]].map((s) => ({ t: 'cancelTask', taskId: s.taskId, force: false })));
  });
});
