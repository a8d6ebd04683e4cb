// Task groups at the coordinator (coordinator/groups; docs/decisions.md "Task groups"), white-box over the
// wire: a real coordinator, a hand-made driver socket and hand-made node sockets that answer its slices.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { returnObjectId } from '../../shared/ids.js';
import { memberId, rawFn, rawGroup, type RawClient } from '../helpers/raw-client.js';
import { GroupWorlds } from '../helpers/group-world.js';

const TOKEN = 'groups-test';
const gw = new GroupWorlds(TOKEN);
afterEach(() => gw.close());

const world = (opts: { groups?: boolean } = {}) => gw.start(opts);

const val = (x: unknown) => encodeValue(x).bytes;
const args = (xs: number[]) => xs.map((x) => [val(x)]);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Answers every slice the node was sent and not answered yet: each member's square, or a throw where `fails`. */
function answer(n: RawClient, done: Set<string>, fails: (i: number) => boolean = () => false): number {
  let k = 0;
  for (const a of n.of('assignGroup')) {
    const key = `${a.spec.taskId}/${a.s}`;
    if (done.has(key)) continue;
    done.add(key);
    const ok = a.idx.filter((i) => !fails(i));
    const failed = a.idx
      .filter(fails)
      .map((i) => ({ i, failure: { code: 'TASK_ERROR' as const, name: 'Error', message: `no ${i}`, stack: '', functionName: 'sq', taskId: a.spec.taskId } }));
    const results = ok.map((i) => ({ v: val((decodeValue(a.args[a.idx.indexOf(i)][0]) as number) ** 2), refs: [] }));
    n.send({ t: 'groupDone', g: a.spec.taskId, s: a.s, ok, results, ms: ok.map(() => 0.01), ...(failed.length ? { failed } : {}) });
    k += a.idx.length;
  }
  return k;
}

/** Values the driver was told, by member. */
function readied(d: RawClient): Map<number, unknown> {
  const out = new Map<number, unknown>();
  for (const r of d.of('groupReady')) r.ok.forEach((i, k) => out.set(i, decodeValue(r.v[k])));
  return out;
}

describe('task groups at the coordinator', () => {
  it('a group runs in slices within the room rules, its owner is told every value, and release drains it', async () => {
    const w = await world();
    expect(w.driver.welcome.groups).toBe(true);
    const n = await gw.node('a');
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(50))));
    const seen = new Set<string>();
    let answered = 0;
    await w.driver.until(() => {
      answered += answer(n, seen);
      return readied(w.driver).size === 50;
    }, 'all 50 ready');
    expect([...readied(w.driver).entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1])).toEqual(range(50).map((i) => i * i));
    expect(answered).toBe(50);
    // A 2-CPU node with an unmeasured function holds one member a CPU at first: slices stay shallow.
    expect(n.of('assignGroup')[0].idx.length).toBe(2);
    expect(n.of('assignGroup')[0].fn?.fnId).toBe(w.fn.f.fnId);
    expect(n.of('assignGroup').filter((a) => a.fn).length).toBe(1);
    let st = w.c.statsJson();
    expect(st).toMatchObject({ groups: 1, tasksSubmitted: 50, tasksFinished: 50, tasks: 0, objects: 0 });
    expect(w.c.gcs.jobs.get(w.job)!.counts).toMatchObject({ submitted: 50, finished: 50 });
    w.driver.send({ t: 'groupRelease', g: memberId(w.job, 0, 0), idx: range(50) });
    await w.driver.until(() => w.c.statsJson().groups === 0, 'group freed');
    st = w.c.statsJson();
    expect(st).toMatchObject({ groups: 0, tasks: 0, objects: 0 });
    expect(w.c.gcs.nodes.values().next().value!.inflightTasks).toBe(0);
  });

  it('refuses a group whose id is not its member 0, of a function not registered, of another parent, or from a node', async () => {
    const w = await world();
    const n = await gw.node('a');
    const errs = () => w.driver.of('error').map((e) => e.message);
    const bad = rawGroup(w.job, w.fn, 3, args([1, 2, 3, 4]));
    bad.first = 4;
    w.driver.send(bad);
    w.driver.send(rawGroup(w.job, rawFn('() => 0', 'other'), 10, args([1, 2, 3, 4])));
    w.driver.send(rawGroup(w.job, w.fn, 20, args([1, 2, 3, 4]), { numReturns: 2 }));
    await w.driver.until(() => errs().length === 3, 'three refusals');
    expect(errs()[0]).toMatch(/not member 0's task id/);
    expect(errs()[1]).toMatch(/not registered/);
    expect(errs()[2]).toMatch(/one value/);
    n.send(rawGroup(w.job, w.fn, 30, args([1, 2, 3, 4])));
    await n.until(() => n.of('error').length === 1, 'node refused');
    expect(n.of('error')[0].message).toMatch(/only a driver/);
    expect(w.c.statsJson().groups).toBe(0);
  });

  it('a report on a slice never sent to that node is an offence; the members stay with their node', async () => {
    const w = await world();
    const a = await gw.node('a');
    const b = await gw.node('b', 1);
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(4))));
    await a.until(() => a.of('assignGroup').length > 0 || b.of('assignGroup').length > 0, 'a slice');
    const [holder, other] = a.of('assignGroup').length > 0 ? [a, b] : [b, a];
    const sl = holder.of('assignGroup')[0];
    const otherNode = [...w.c.gcs.nodes.values()].find((x) => x.session.nodeId !== holder.welcome.nodeId)!;
    other.send({ t: 'groupDone', g: sl.spec.taskId, s: sl.s, ok: [sl.idx[0]], results: [{ v: val(666), refs: [] }], ms: [1] });
    await w.driver.until(() => w.c.trust.view(otherNode.id).offences > 0, 'offence');
    expect(readied(w.driver).size).toBe(0);
    answer(holder, new Set());
    await w.driver.until(() => readied(w.driver).size === sl.idx.length, 'holder reports');
    expect(readied(w.driver).get(sl.idx[0])).toBe(sl.idx[0] ** 2);
  });

  it("a member's call out makes it a task assigned to its node (its owner told it moved), whose block frees its CPU; one for a slice never sent is an offence", async () => {
    const w = await world();
    const a = await gw.node('a', 1);
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(4))));
    await a.until(() => a.of('assignGroup').length > 0, 'a slice');
    const sl = a.of('assignGroup')[0];
    const i = sl.idx[0];
    const na = [...w.c.gcs.nodes.values()][0];
    const cpu = na.inflight.cpu ?? 0;
    const b = await gw.node('b', 1);
    const nb = [...w.c.gcs.nodes.values()].find((x) => x !== na)!;
    b.send({ t: 'groupCallOut', g: sl.spec.taskId, s: sl.s, idx: [i] });
    await w.driver.until(() => w.c.trust.view(nb.id).offences > 0, 'offence');
    expect(w.c.gcs.tasks.get(memberId(w.job, 0, i))).toBeUndefined();
    a.send({ t: 'groupCallOut', g: sl.spec.taskId, s: sl.s, idx: [i] });
    await w.driver.until(() => w.driver.of('groupReady').some((r) => r.moved?.includes(i)), 'moved');
    const t = w.c.gcs.tasks.get(memberId(w.job, 0, i))!;
    expect(t.node).toBe(na);
    expect(na.inflight.cpu).toBe(cpu); // one charge: off the slice, on the task
    a.send({ t: 'blocked', taskId: t.spec.taskId, attempt: t.spec.attempt, blocked: true });
    // Its CPU given back: the next queued member goes to that 1-CPU node.
    await a.until(() => a.of('assignGroup').length === 2, 'the next slice');
    expect(t.blocked).toBe(true);
    expect(na.inflight.cpu).toBe(cpu);
  });

  it('a report whose executor slots do not match its members is refused; the members stay on their slice (issue 14, session 27)', async () => {
    const w = await world();
    const n = await gw.node('a');
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(4))));
    await n.until(() => n.of('assignGroup').length > 0, 'a slice');
    const sl = n.of('assignGroup')[0];
    const i = sl.idx[0];
    n.send({ t: 'groupDone', g: sl.spec.taskId, s: sl.s, ok: [i], results: [{ v: val(i * i), refs: [] }], ms: [1], ex: [0, 1] });
    await n.until(() => n.of('error').length === 1, 'refused');
    expect(n.of('error')[0].message).toMatch(/1 members, 2 executor slots/);
    expect(readied(w.driver).size).toBe(0);
    // The same report with one slot a member is taken.
    n.send({ t: 'groupDone', g: sl.spec.taskId, s: sl.s, ok: [i], results: [{ v: val(i * i), refs: [] }], ms: [1], ex: [1] });
    await w.driver.until(() => readied(w.driver).get(i) === i * i, 'member reported');
  });

  it('members that throw are retried with retryExceptions, else fail; a lost node re-queues its members as their next attempt', async () => {
    const w = await world();
    const a = await gw.node('a', 4);
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(4)), { retryExceptions: true, maxRetries: 1 }));
    w.driver.send(rawGroup(w.job, w.fn, 4, args(range(4))));
    const seen = new Set<string>();
    // Member 1 of each group throws every time: the first group retries it once, the second fails it at once.
    await w.driver.until(() => {
      answer(a, seen, (i) => i === 1);
      return w.driver.of('groupReady').filter((r) => r.failed?.length).length === 2;
    }, 'two failures');
    const failed = w.driver.of('groupReady').flatMap((r) => (r.failed ?? []).map((f) => ({ g: r.g, ...f })));
    expect(failed.map((f) => f.g).sort()).toEqual([memberId(w.job, 0, 0), memberId(w.job, 4, 0)].sort());
    expect(
      a
        .of('assignGroup')
        .filter((x) => x.attempt === 1 && x.spec.gen === 1)
        .flatMap((x) => x.idx),
    ).toEqual([1]);
    expect(w.c.statsJson()).toMatchObject({ tasksFailed: 2, tasksFinished: 6, tasksRetried: 1 });
    // A node lost with a slice: its members go to another node at attempt 1.
    w.driver.send(rawGroup(w.job, w.fn, 8, args(range(4))));
    await a.until(() => a.of('assignGroup').some((x) => x.first === 8), 'slice of the third group');
    const b = await gw.node('b', 4);
    await a.close();
    await b.until(() => b.of('assignGroup').some((x) => x.first === 8), 'moved to b');
    expect(
      b
        .of('assignGroup')
        .filter((x) => x.first === 8)
        .every((x) => x.attempt === 1),
    ).toBe(true);
    answer(b, new Set());
    await w.driver.until(() => w.driver.of('groupReady').some((r) => r.g === memberId(w.job, 8, 0) && r.ok.length === 4), 'third group ready');
  });

  it('materialized members become ordinary tasks and objects in their state; an ordinary task may read them', async () => {
    const w = await world();
    const n = await gw.node('a', 2);
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(8))));
    await n.until(() => n.of('assignGroup').length === 1, 'first slice');
    const sl = n.of('assignGroup')[0]; // members 0 and 1 (2 CPUs, an unmeasured function: one a CPU)
    expect(sl.idx).toEqual([0, 1]);
    // Member 0 ends in the group; member 1 is materialized while on the slice, member 5 while queued.
    n.send({ t: 'groupDone', g: sl.spec.taskId, s: sl.s, ok: [0], results: [{ v: val(0), refs: [] }], ms: [1] });
    await w.driver.until(() => readied(w.driver).has(0), 'member 0');
    const g = memberId(w.job, 0, 0);
    w.driver.send({ t: 'materialize', g, idx: [0, 1, 5] });
    await w.driver.until(() => w.c.gcs.tasks.size === 3, 'three records');
    const rec = (i: number) => w.c.gcs.tasks.get(memberId(w.job, 0, i))!;
    expect(rec(0).state).toBe('finished');
    expect(w.c.dir.get(returnObjectId(memberId(w.job, 0, 0), 0))!.state).toBe('ready');
    expect(rec(1).state).toBe('assigned');
    expect(rec(1).node?.session.nodeId).toBe(n.welcome.nodeId);
    // The node's group report on member 1 is its task's `done`.
    n.send({ t: 'groupDone', g, s: sl.s, ok: [1], results: [{ v: val(1), refs: [] }], ms: [1] });
    await w.driver.until(() => rec(1).state === 'finished', 'member 1 done the classic way');
    expect(readied(w.driver).has(1)).toBe(false);
    expect(w.c.statsJson()).toMatchObject({ tasksSubmitted: 8 });
    const seen = new Set([`${g}/${sl.s}`]);
    await w.driver.until(() => {
      answer(n, seen);
      for (const a of n.of('assign'))
        if (!seen.has(a.spec.taskId)) {
          seen.add(a.spec.taskId);
          n.send({ t: 'done', taskId: a.spec.taskId, attempt: 0, ms: 1, results: [{ v: val(25), refs: [] }] });
        }
      return readied(w.driver).size === 6 && rec(5).state === 'finished';
    }, 'the rest');
    expect(w.c.statsJson()).toMatchObject({ tasksSubmitted: 8, tasksFinished: 8 });
    w.driver.send({ t: 'groupRelease', g, idx: [2, 3, 4, 6, 7] });
    w.driver.send({ t: 'release', ids: [0, 1, 5].map((i) => returnObjectId(memberId(w.job, 0, i), 0)) });
    await w.driver.until(() => w.c.statsJson().groups === 0 && w.c.statsJson().objects === 0, 'drained');
  });

  it("a job's end cancels its slices on their nodes and drops its groups", async () => {
    const w = await world();
    const n = await gw.node('a');
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(20))));
    await n.until(() => n.of('assignGroup').length > 0, 'a slice');
    await w.driver.close();
    await n.until(() => n.of('cancelGroup').length === 1, 'cancelGroup');
    expect(n.of('cancelGroup')[0].g).toBe(memberId(w.job, 0, 0));
    expect(w.c.statsJson()).toMatchObject({ groups: 0, tasksCancelled: 20 });
    expect([...w.c.gcs.nodes.values()][0].inflightTasks).toBe(0);
  });

  it("tasks that hold no CPU (a 0-CPU actor's calls waiting) do not keep a node with a free CPU from taking members", async () => {
    const w = await world();
    const n = await gw.node('a', 1);
    // Four plain 0-CPU tasks the node holds and never ends (as test_cancel's waiting SignalActor.wait calls).
    for (let i = 0; i < 4; i++) {
      const spec = { ...rawGroup(w.job, w.fn, i, []).spec, args: [{ v: val(i) }], resources: { cpu: 0 } };
      w.driver.send({ t: 'submit', spec });
    }
    await n.until(() => n.of('assign').length === 4, 'four plain assigns');
    w.driver.send(rawGroup(w.job, w.fn, 4, args(range(3))));
    const seen = new Set<string>();
    await w.driver.until(() => {
      answer(n, seen);
      return readied(w.driver).size === 3;
    }, 'the three members, one at a time on the free CPU');
    expect(n.of('assignGroup').map((a) => a.idx.length)).toEqual([1, 1, 1]);
  });

  it('a member cancelled on its slice whose executor then crashed ends cancelled; it is not run again', async () => {
    const w = await world();
    const n = await gw.node('a', 2);
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(2))));
    await n.until(() => n.of('assignGroup').length === 1, 'the slice');
    const g = memberId(w.job, 0, 0);
    w.driver.send({ t: 'materialize', g, idx: [0] }, { t: 'cancel', id: returnObjectId(g, 0), force: false });
    await n.until(() => n.of('cancelTask').length === 1, 'the cancel');
    const crash = { code: 'WORKER_CRASHED' as const, name: 'WorkerCrashedError', message: 'its executor crashed', stack: '', functionName: 'sq', taskId: g };
    n.send({ t: 'groupDone', g, s: 0, ok: [1], results: [{ v: val(1), refs: [] }], ms: [1], failed: [{ i: 0, failure: crash }] });
    await w.driver.until(() => w.c.gcs.tasks.get(g)?.state === 'cancelled', 'cancelled');
    expect(w.c.gcs.stats.tasksRetried).toBe(0);
    expect(n.of('assign')).toEqual([]);
  });

  it('with groups off, the welcome says none and a group is refused', async () => {
    const w = await world({ groups: false });
    expect(w.driver.welcome.groups).toBeUndefined();
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(4))));
    await w.driver.until(() => w.driver.of('error').length === 1, 'refused');
    expect(w.driver.of('error')[0].message).toMatch(/groups are off/);
  });

  it('with no node that takes groups, queued members become ordinary tasks and their owner is told they moved', async () => {
    const w = await world();
    const n = await gw.node('plain', 2, false);
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(5))));
    await w.driver.until(() => w.driver.of('groupReady').some((r) => (r.moved?.length ?? 0) > 0), 'moved');
    expect(
      w.driver
        .of('groupReady')
        .flatMap((r) => r.moved ?? [])
        .sort(),
    ).toEqual(range(5));
    await n.until(() => n.of('assign').length > 0, 'plain assigns');
    expect(n.of('assignGroup')).toEqual([]);
    expect(n.of('assign')[0].spec.taskId).toBe(memberId(w.job, 0, 0));
    expect(w.c.statsJson()).toMatchObject({ groups: 0, tasks: 5, tasksSubmitted: 5 });
  });

  it('a group whose members were all materialized while on a slice stays until their node reports them, then goes', async () => {
    const w = await world();
    const n = await gw.node('a', 4);
    w.driver.send(rawGroup(w.job, w.fn, 0, args(range(4))));
    await n.until(() => n.of('assignGroup').length === 1, 'the slice');
    const sl = n.of('assignGroup')[0];
    expect(sl.idx).toEqual(range(4));
    const g = memberId(w.job, 0, 0);
    w.driver.send({ t: 'materialize', g, idx: range(4) });
    await w.driver.until(() => w.c.gcs.tasks.size === 4, 'four records');
    expect(w.c.statsJson().groups).toBe(1); // kept: its node reports the members in the slice's groupDone
    answer(n, new Set());
    const rec = (i: number) => w.c.gcs.tasks.get(memberId(w.job, 0, i))!;
    await w.driver.until(() => range(4).every((i) => rec(i).state === 'finished'), 'finished the classic way');
    expect(w.c.statsJson()).toMatchObject({ groups: 0, tasksFinished: 4, tasksSubmitted: 4 });
    expect([...w.c.dir.get(returnObjectId(memberId(w.job, 0, 2), 0))!.v!]).toEqual([...val(4)]);
  });
});
