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

  it("own nodes full: a link gets a batch up to the plain task's share (its tasks per CPU no more than ours), one batch at a time", () => {
    const w = world(40);
    const own = w.node('own', 2);
    const link = w.node('link', 2, true);
    w.placer.addNode(own);
    w.placer.links = () => [link];
    w.placer.ownLoadPerCpu = () => own.inflightTasks / 2;
    w.placer.pass(Infinity);
    // Own node: 2 members (a function not measured: one a CPU); the link: as much room (room.ts's rules).
    expect(w.sent.map((s) => s.idx.length)).toEqual([2]);
    expect(w.made.map((b) => b.length)).toEqual([2]);
    expect(w.grp.queued).toBe(36);
    // Its batch still waits in the scheduler's queue: no second batch.
    w.table.wake();
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([2]);
    // Placed on the link, which ran one of them: room for 1 more (2 CPUs, a function not measured: one a CPU).
    for (const t of w.made[0]) t.state = 'assigned';
    link.inflightTasks = 1;
    link.inflight = { cpu: 1 };
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([2, 1]);
    expect(w.grp.queued).toBe(35);
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
    // Our own nodes at half a task a CPU (others' CPUs count too): the idle link of 4 CPUs gets floor(0.5 x 4) + 1 = 3, not its room of 4.
    w.placer.ownLoadPerCpu = () => 0.5;
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([3]);
    for (const t of w.made[0]) t.state = 'assigned';
    // Its own work: 3 tasks on 4 CPUs, room for 1, but 0.75 a CPU is above our 0.5: none.
    link.inflightTasks = 3;
    link.inflight = { cpu: 3 };
    w.placer.pass(Infinity);
    expect(w.made.map((b) => b.length)).toEqual([3]);
    expect(w.grp.queued).toBe(10 - 2 - 3);
  });
});
