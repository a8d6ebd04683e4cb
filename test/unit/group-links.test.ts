// White-box: a task group's queued members and the links to other coordinators (coordinator/groups/group-slices.ts
// overLinks). Our own nodes take slices first; a link takes a batch of members made ordinary tasks only when our own
// nodes have no room, as many as the scheduler's rule for a plain task gives it, one batch at a time.
import { describe, expect, it } from 'vitest';
import { Gcs } from '../../coordinator/gcs/gcs.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import type { JobRecord, NodeRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import { GroupRecord } from '../../coordinator/groups/group-record.js';
import { GroupPlacer } from '../../coordinator/groups/group-slices.js';
import { GroupTable } from '../../coordinator/groups/group-table.js';
import { childTaskId, functionId, newJobId, rootTaskId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import { fakeSession, nodeRecord } from '../helpers/node-record.js';

function world(members: number) {
  const gcs = new Gcs(new MemoryStorage());
  const table = new GroupTable(gcs);
  const placer = new GroupPlacer(gcs, table);
  const sent: { node: NodeRecord; idx: number[] }[] = [];
  const node = (name: string, cpu: number, link?: boolean): NodeRecord => {
    const session = fakeSession(name, {
      groups: !link,
      send: (m: { t: string; idx?: number[] }) => m.t === 'assignGroup' && sent.push({ node: n, idx: m.idx! }),
    });
    const n = nodeRecord(name, { session, resources: { cpu }, ...(link ? { link: 'c0ffee00c0ffee00' } : {}) });
    return n;
  };
  const id = newJobId();
  const job = { id, state: 'running', counts: { submitted: 0, finished: 0, failed: 0, cancelled: 0 }, driver: fakeSession('driver') } as unknown as JobRecord;
  const parent = rootTaskId(id);
  const spec = {
    taskId: childTaskId(parent, 0),
    jobId: id,
    parentId: parent,
    fnId: functionId('function', 'x => x'),
    name: 'f',
    args: [],
    nested: [],
    numReturns: 1,
    resources: { cpu: 1 },
    maxRetries: 3,
    attempt: 0,
  } as unknown as TaskSpec;
  const grp = new GroupRecord(
    spec,
    0,
    Array.from({ length: members }, () => [new Uint8Array([1])]),
    job,
  );
  table.add(grp);
  // The materializer's stand-in: the members leave the group's queue as tasks in the scheduler's queue.
  const made: TaskRecord[][] = [];
  placer.toTasks = (g, k) => {
    const ts = g.take(k).map(() => ({ state: 'queued' }) as TaskRecord);
    made.push(ts);
    return ts;
  };
  placer.anyNode = () => true;
  return { gcs, table, placer, grp, node, sent, made };
}

describe('task groups and links to other coordinators', () => {
  it('own nodes with room take every member as slices; a link gets none', () => {
    const w = world(4);
    const own = w.node('own', 4);
    const link = w.node('link', 8, true);
    w.placer.addNode(own);
    w.placer.addNode(link); // a link never takes slices
    w.placer.links = () => [link];
    w.placer.ownLoadPerCpu = () => own.inflightTasks / 4;
    w.placer.pass(Infinity);
    expect(w.sent.map((s) => [s.node.name, s.idx.length])).toEqual([['own', 4]]);
    expect(w.made).toEqual([]);
  });

  it("own nodes full: a link gets a batch as a plain task's rules give it (its share by our load, then its room), one batch at a time", () => {
    const w = world(40);
    const own = w.node('own', 2);
    const link = w.node('link', 2, true);
    w.placer.addNode(own);
    w.placer.links = () => [link];
    w.placer.ownLoadPerCpu = () => own.inflightTasks / 2;
    w.placer.pass(Infinity);
    // Own node: a slice of 2 (a function not measured: one a CPU), so 1 task a CPU. The idle link of 2 CPUs: its
    // share floor(1 x 2 - 0) + 1 = 3 (scheduler.ts linkFor: placed while its tasks per CPU are no more than ours),
    // within a plain task's room (room.ts fits: 2 a CPU while not measured).
    expect(w.sent.map((s) => s.idx.length)).toEqual([2]);
    expect(w.made.map((b) => b.length)).toEqual([3]);
    expect(w.grp.queued).toBe(35);
    // Its batch still waits in the scheduler's queue: no second batch.
    w.table.wake();
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([3]);
    // Placed on the link (3 there): above our 1 a CPU, none more.
    for (const t of w.made[0]) t.state = 'assigned';
    link.inflightTasks = 3;
    link.inflight = { cpu: 3 };
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([3]);
    // Our own node at 2 a CPU (plain tasks there too): the share is 2 more, the link's room 1 (4 CPU places, 3 taken).
    own.inflightTasks = 4;
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([3, 1]);
    expect(w.grp.queued).toBe(34);
  });

  it('no link: members wait for our own nodes; none is made a task', () => {
    const w = world(10);
    const own = w.node('own', 2);
    w.placer.addNode(own);
    w.placer.ownLoadPerCpu = () => own.inflightTasks / 2;
    w.placer.pass(Infinity);
    expect(w.sent.map((s) => s.idx.length)).toEqual([2]);
    expect(w.made).toEqual([]);
    expect(w.grp.queued).toBe(8);
  });

  it("a link gets no more than the share our own nodes' load gives it, and none while its tasks per CPU are above ours", () => {
    const w = world(10);
    const own = w.node('own', 2);
    const link = w.node('link', 4, true);
    w.placer.addNode(own);
    w.placer.links = () => [link];
    // Our own nodes at half a task a CPU (stubbed): the idle link of 4 CPUs gets floor(0.5 x 4) + 1 = 3, not its room of 8.
    w.placer.ownLoadPerCpu = () => 0.5;
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([3]);
    for (const t of w.made[0]) t.state = 'assigned';
    // 3 tasks on its 4 CPUs, room for 5 more, but 0.75 a CPU is above our 0.5: none.
    link.inflightTasks = 3;
    link.inflight = { cpu: 3 };
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([3]);
    expect(w.grp.queued).toBe(10 - 2 - 3);
  });

  it('a function measured short for our own CPUs stays on them: no link gets its members', () => {
    const w = world(40);
    const own = w.node('own', 2);
    // Nearly full already (0.01 ms a run: 64 a CPU): room for 2 of the group.
    own.inflightTasks = 126;
    own.inflight = { cpu: 126 };
    const link = w.node('link', 2, true);
    w.placer.addNode(own);
    w.placer.links = () => [link];
    w.placer.ownLoadPerCpu = () => own.inflightTasks / 2;
    w.placer.ownCpus = () => 1000; // as if 500 nodes like it: they run 0.01 ms members faster than we hand them out
    w.gcs.functions.set(w.grp.spec.fnId, { fnId: w.grp.spec.fnId, kind: 'function', name: 'f', source: 'x => x', ewmaMs: 0.01, runs: 10, jobs: 1 });
    w.placer.pass(Infinity);
    expect(w.sent.map((x) => x.idx.length)).toEqual([2]);
    expect(w.made).toEqual([]);
    expect(w.grp.queued).toBe(38);
    // Measured at 20 ms: 1,000 CPUs run 50 members a ms, fewer than we hand out: the link gets its share.
    w.gcs.functions.get(w.grp.spec.fnId)!.ewmaMs = 20;
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([2]);
  });
});
