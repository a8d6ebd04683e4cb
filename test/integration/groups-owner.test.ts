// Task groups at the coordinator, the owner's side and what is shown (coordinator/groups): a group sent again
// (a resumed driver) is answered with what ended; hand-back; a member's console line; /api/groups and /api/stats.
// White-box over the wire: a real coordinator, hand-made driver and node sockets.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { childTaskId, putObjectId, returnObjectId } from '../../shared/ids.js';
import { memberId, rawClient, rawGroup } from '../helpers/raw-client.js';
import { GroupWorlds } from '../helpers/group-world.js';
import { taskSpec } from '../helpers/task-record.js';

const TOKEN = 'groups-owner-test';
const gw = new GroupWorlds(TOKEN, '(x) => x + 1', 'inc');
afterEach(() => gw.close());

async function world(o: { deadAfterMs?: number; idleDeadAfterMs?: number; jobGraceMs?: number } = {}) {
  const w = await gw.start(o);
  return { ...w, n: await gw.node('a') };
}

const val = (x: unknown) => encodeValue(x).bytes;
const args = (xs: number[]) => xs.map((x) => [val(x)]);

describe("task groups: the owner's side", () => {
  it('a group sent again is answered with the members that ended, and goes on', async () => {
    const w = await world();
    const grp = rawGroup(w.job, w.fn, 0, args([10, 11, 12, 13]));
    w.driver.send(grp);
    await w.n.until(() => w.n.of('assignGroup').length === 1, 'slice');
    const sl = w.n.of('assignGroup')[0];
    w.n.send({ t: 'groupDone', g: sl.spec.taskId, s: sl.s, ok: [sl.idx[0]], results: [{ v: val(11), refs: [] }], ms: [1] });
    await w.driver.until(() => w.driver.of('groupReady').length === 1, 'first ready');
    w.driver.send(grp);
    await w.driver.until(() => w.driver.of('groupReady').length === 2, 'answered again');
    const again = w.driver.of('groupReady')[1];
    expect(again.ok).toEqual([sl.idx[0]]);
    expect(decodeValue(again.v[0])).toBe(11);
    expect(w.c.statsJson()).toMatchObject({ groups: 1, tasksSubmitted: 4 });
    expect(w.driver.of('error')).toEqual([]);
  });

  it("a member's large result stored on its node while its owner is away is kept: the owner, back, reads it as an object", async () => {
    const w = await world();
    const grp = rawGroup(w.job, w.fn, 0, args([10, 11, 12, 13]));
    w.driver.send(grp);
    await w.n.until(() => w.n.of('assignGroup').length === 1, 'slice');
    const sl = w.n.of('assignGroup')[0];
    const i = sl.idx[0];
    w.driver.ws.terminate(); // a drop, not a goodbye: the job waits for its driver (its grace)
    await w.n.until(() => w.c.gcs.jobs.get(w.job)?.driver === null, 'the driver away');
    w.n.send({ t: 'groupDone', g: sl.spec.taskId, s: sl.s, ok: [i], results: [{ size: 200_000, hash: 'ab'.repeat(32), refs: [] }], ms: [1] });
    w.n.send({ t: 'sync', x: 7 }); // answered after the report was handled
    await w.n.until(() => w.n.of('sync').length === 1, 'sync');
    expect(w.n.of('free')).toEqual([]); // the node keeps the copy
    const back = await rawClient(w.url, { role: 'driver', token: TOKEN, groups: true, resume: { jobId: w.job, secret: w.driver.welcome.secret!, held: [] } });
    gw.keep(back);
    back.send(grp); // a resumed owner sends its groups again
    await back.until(() => back.of('groupReady').some((r) => r.moved?.includes(i) === true), 'the member moved');
    expect(back.of('groupReady').flatMap((r) => r.failed ?? [])).toEqual([]);
    const o = w.c.gcs.objects.get(returnObjectId(memberId(w.job, 0, i), 0));
    expect(o).toMatchObject({ state: 'ready', size: 200_000 });
    expect(back.of('error')).toEqual([]);
  });

  it('a member that calls out while its owner is away becomes a task as with its owner there; the owner, back, holds its output', async () => {
    const w = await world();
    const grp = rawGroup(w.job, w.fn, 0, args([10, 11, 12, 13]));
    w.driver.send(grp);
    await w.n.until(() => w.n.of('assignGroup').length === 1, 'slice');
    const sl = w.n.of('assignGroup')[0];
    const i = sl.idx[0];
    const member = memberId(w.job, 0, i);
    w.driver.ws.terminate(); // a drop, not a goodbye: the job waits for its driver (its grace)
    await w.n.until(() => w.c.gcs.jobs.get(w.job)?.driver === null, 'the driver away');
    // What a node sends for a member's first call out (shared/node/groups.ts callOut), then the member's put and child.
    const put = putObjectId(member, 0);
    const child = { ...taskSpec(w.job, 0, 'inc', { fnId: w.fn.f.fnId, scheduling: undefined }), taskId: childTaskId(member, 0), parentId: member };
    w.n.send({ t: 'groupCallOut', g: sl.spec.taskId, s: sl.s, idx: [i] }, { t: 'started', taskId: member, attempt: 0, ex: 0 });
    w.n.send({ t: 'put', id: put, v: val(5), size: val(5).byteLength, refs: [] }, { t: 'submit', spec: child, local: false }, { t: 'sync', x: 1 });
    await w.n.until(() => w.n.of('sync').length === 1, 'sync');
    expect(w.n.of('error')).toEqual([]);
    const t = w.c.gcs.tasks.get(member);
    expect(t?.state).toBe('running');
    expect(t?.node?.name).toBe('a');
    expect(w.c.gcs.objects.get(put)?.state).toBe('ready');
    expect(w.c.gcs.tasks.get(child.taskId)).toBeDefined();
    // Back, the owner sends its group again: told the member moved, it holds the member's output (once).
    const back = await rawClient(w.url, { role: 'driver', token: TOKEN, groups: true, resume: { jobId: w.job, secret: w.driver.welcome.secret!, held: [] } });
    gw.keep(back);
    back.send(grp);
    await back.until(() => back.of('groupReady').some((r) => r.moved?.includes(i) === true), 'the member moved');
    const out = returnObjectId(member, 0);
    expect(w.c.gcs.jobs.get(w.job)?.driver?.held.get(out)).toBe(1);
    expect(w.c.gcs.objects.get(out)?.refs).toBe(1);
    // Its end comes in its slice's report (the classic way for a member made a task on it): the owner reads it.
    w.n.send({ t: 'groupDone', g: sl.spec.taskId, s: sl.s, ok: [i], results: [{ v: val(11), refs: [] }], ms: [1] });
    back.send({ t: 'subscribe', ids: [out] });
    await back.until(() => back.of('ready').some((r) => r.id === out), 'its value');
    expect(w.c.gcs.tasks.get(member)?.state).toBe('finished');
    expect(back.of('error')).toEqual([]);
  });

  it("an owner that does not come back within its job's grace: the node drops the member's stored result", async () => {
    const w = await world({ jobGraceMs: 300 });
    w.driver.send(rawGroup(w.job, w.fn, 0, args([10, 11, 12, 13])));
    await w.n.until(() => w.n.of('assignGroup').length === 1, 'slice');
    const sl = w.n.of('assignGroup')[0];
    w.driver.ws.terminate();
    await w.n.until(() => w.c.gcs.jobs.get(w.job)?.driver === null, 'the driver away');
    w.n.send({ t: 'groupDone', g: sl.spec.taskId, s: sl.s, ok: [sl.idx[0]], results: [{ size: 200_000, hash: 'ab'.repeat(32), refs: [] }], ms: [1] });
    await w.n.until(() => w.n.of('free').length === 1, 'the copy freed at the job end');
    expect(w.n.of('free')[0].ids).toEqual([returnObjectId(memberId(w.job, 0, sl.idx[0]), 0)]);
    expect(w.c.gcs.jobs.get(w.job)?.state).toBe('finished');
  });

  it('members handed back are placed again at the same attempt', async () => {
    const w = await world();
    w.driver.send(rawGroup(w.job, w.fn, 0, args([1, 2, 3, 4])));
    await w.n.until(() => w.n.of('assignGroup').length === 1, 'slice');
    const sl = w.n.of('assignGroup')[0];
    w.n.send({ t: 'groupHandBack', g: sl.spec.taskId, s: sl.s, idx: sl.idx });
    await w.n.until(() => w.n.of('assignGroup').length === 2, 'placed again');
    const again = w.n.of('assignGroup')[1];
    expect(again.attempt).toBe(0);
    expect(again.idx).toEqual(sl.idx);
    expect(again.s).not.toBe(sl.s);
  });

  it("a member's console line reaches its owner under the member's task id; a line for a member not there is dropped", async () => {
    const w = await world();
    w.driver.send(rawGroup(w.job, w.fn, 0, args([1, 2, 3, 4])));
    await w.n.until(() => w.n.of('assignGroup').length === 1, 'slice');
    const sl = w.n.of('assignGroup')[0];
    const g = sl.spec.taskId;
    w.n.send({ t: 'log', taskId: memberId(w.job, 0, 3), level: 'log', text: 'not here', g, i: 3 });
    w.n.send({ t: 'log', taskId: memberId(w.job, 0, sl.idx[1]), level: 'warn', text: 'hello', g, i: sl.idx[1] });
    await w.driver.until(() => w.driver.of('output').length > 0, 'output');
    expect(w.driver.of('output')).toEqual([{ t: 'output', taskId: memberId(w.job, 0, sl.idx[1]), level: 'warn', text: 'hello', fn: 'inc', node: 'a' }]);
  });

  it('/api/groups lists a group as one row with its counts; /api/stats counts members', async () => {
    const w = await world();
    w.driver.send(rawGroup(w.job, w.fn, 0, args([1, 2, 3, 4, 5, 6])));
    await w.n.until(() => w.n.of('assignGroup').length === 1, 'slice');
    const sl = w.n.of('assignGroup')[0];
    w.n.send({ t: 'groupDone', g: sl.spec.taskId, s: sl.s, ok: [sl.idx[0]], results: [{ v: val(2), refs: [] }], ms: [1] });
    await w.driver.until(() => w.driver.of('groupReady').length === 1, 'ready');
    const res = await fetch(`${w.url}/api/groups?job=${w.job}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const rows = (await res.json()) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ groupId: memberId(w.job, 0, 0), jobId: w.job, name: 'inc', members: 6, done: 1, failed: 0, released: 0, materialized: 0 });
    expect((rows[0].queued as number) + (rows[0].running as number)).toBe(5);
    const st = w.c.statsJson();
    expect(st).toMatchObject({ groups: 1, groupMembersDone: 1, tasksSubmitted: 6, tasksFinished: 1 });
    expect(st.groupMembersQueued + st.groupMembersRunning).toBe(5);
  });

  it('a node that said it was idle and then took a slice is held to the short dead window (its members count as held work)', async () => {
    const w = await world({ deadAfterMs: 1000, idleDeadAfterMs: 120_000 });
    w.n.send({ t: 'heartbeat', running: 0, queued: 0, storeBytes: 0, idle: true });
    await w.n.until(() => [...w.c.gcs.nodes.values()][0]?.saidIdle === true, 'said idle');
    w.driver.send(rawGroup(w.job, w.fn, 0, args([1, 2, 3, 4])));
    await w.n.until(() => w.n.of('assignGroup').length === 1, 'slice');
    // Silent from now on: dead after the short window (1 s), not the idle one (2 min).
    await w.n.until(() => w.c.gcs.nodes.size === 0, 'declared dead');
    expect(w.c.statsJson().groupMembersQueued).toBe(4);
  });
});
