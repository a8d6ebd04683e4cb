// A driver's task groups (issue 14, session 26; shared/api/driver-groups.ts), against a stand-in coordinator
// (test/helpers/fake-coordinator.ts): which calls group and what closes a group, the members' ids (the per-task
// ones), their ends by groupReady, their release, their materialization before a ref escapes, and a resume.
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Mesh, type ObjectRef } from '../../shared/index.js';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { childTaskId, returnObjectId, rootTaskId, type JobId, type TaskId } from '../../shared/ids.js';
import { MAX_GROUP } from '../../shared/protocol/group.js';
import { GROUP_MAX_BYTES } from '../../shared/api/driver-groups.js';
import type { Msg, MsgOf } from '../../shared/protocol/messages.js';
import { fakeCoordinator, type FakeCoordinator } from '../helpers/fake-coordinator.js';
import { until } from '../helpers/poll.js';

const open: Mesh[] = [];
afterEach(async () => {
  for (const m of open.splice(0)) await m.close().catch(() => {});
});

async function driver(groups = true): Promise<{ mesh: Mesh; c: FakeCoordinator }> {
  const c = fakeCoordinator(groups ? { groups: true } : {});
  const mesh = await connect({ url: 'http://127.0.0.1:1', WebSocket: c.Ws, peers: false, connectTimeoutMs: 2000 });
  open.push(mesh);
  return { mesh, c };
}

/** Lets the driver's end-of-turn work and its frames go out. */
const turn = () => new Promise((r) => setTimeout(r, 20));
/** The driver's outgoing messages past the handshake, less `fn`, `sync`. */
const work = (c: FakeCoordinator): Msg[] => c.sent.filter((m) => !['hello', 'fn', 'sync'].includes(m.t));
const member = (job: string, i: number): string => returnObjectId(childTaskId(rootTaskId(job as JobId), i), 0);

function add(a: number, b: number): number {
  return a + b;
}
function mul(a: number, b: number): number {
  return a * b;
}

describe('grouping at submit', () => {
  it('calls of one function in one turn leave as one submitGroup, each ref the per-task output id', async () => {
    const { mesh, c } = await driver();
    const f = mesh.remote(add);
    const refs = Array.from({ length: 10 }, (_, i) => f.remote(i, 1));
    await turn();
    const [g, ...rest] = work(c);
    expect(rest).toEqual([]);
    expect(g.t).toBe('submitGroup');
    const m = g as MsgOf<'submitGroup'>;
    expect(m.first).toBe(0);
    expect(m.spec.taskId).toBe(childTaskId(rootTaskId(mesh.jobId as JobId), 0));
    expect(m.spec.args).toEqual([]);
    expect(m.args.map((a) => a.map((v) => decodeValue(v)))).toEqual(refs.map((_, i) => [i, 1]));
    expect(refs.map((r) => r.id)).toEqual(refs.map((_, i) => member(mesh.jobId, i)));
  });

  it('another function, other options, another message or MAX_GROUP members close the group', async () => {
    const { mesh, c } = await driver();
    const f = mesh.remote(add);
    const g = mesh.remote(mul);
    for (let i = 0; i < 5; i++) f.remote(i, 1);
    for (let i = 0; i < 5; i++) g.remote(i, 2);
    const f2 = f.options({ maxRetries: 1 });
    for (let i = 0; i < 5; i++) f2.remote(i, 3);
    mesh.put('between');
    for (let i = 0; i < MAX_GROUP + 6; i++) f.remote(i, 4);
    await turn();
    const kinds = work(c).map((m) => (m.t === 'submitGroup' ? `group ${m.first}+${m.args.length}` : m.t));
    expect(kinds).toEqual(['group 0+5', 'group 5+5', 'group 10+5', 'put', `group 15+${MAX_GROUP}`, `group ${15 + MAX_GROUP}+6`]);
    const groups = c.of('submitGroup');
    expect(groups[2].spec.maxRetries).toBe(1);
    expect(groups[1].spec.fnId).not.toBe(groups[0].spec.fnId);
  });

  it('a group of fewer than MIN_GROUP members leaves as plain submits, as does every call when the welcome says no groups', async () => {
    for (const groups of [true, false]) {
      const { mesh, c } = await driver(groups);
      const f = mesh.remote(add);
      // With groups: 3 calls in a turn go alone, 4 in the next make a group; without: all 7 alone.
      const refs = Array.from({ length: 3 }, (_, i) => f.remote(i, 1));
      await turn();
      for (let i = 3; i < 7; i++) refs.push(f.remote(i, 1));
      await turn();
      const out = work(c);
      expect(out.map((m) => m.t)).toEqual(groups ? ['submit', 'submit', 'submit', 'submitGroup'] : Array(7).fill('submit'));
      const ids = out.flatMap((m) =>
        m.t === 'submit' ? [m.spec.taskId] : m.t === 'submitGroup' ? m.args.map((_, i) => childTaskId(m.spec.parentId, m.first + i)) : [],
      );
      expect(ids).toEqual(refs.map((_, i) => childTaskId(rootTaskId(mesh.jobId as JobId), i)));
      expect(refs.map((r) => r.id)).toEqual(ids.map((t) => returnObjectId(t, 0)));
    }
  });

  it('a group closes before its arguments pass GROUP_MAX_BYTES, and ends its frame', async () => {
    const { mesh, c } = await driver();
    const f = mesh.remote((s: string) => s.length);
    const big = 'x'.repeat(50_000);
    for (let i = 0; i < 45; i++) f.remote(big);
    await turn();
    const groups = c.of('submitGroup');
    expect(groups.map((m) => m.args.length)).toEqual([20, 20, 5]);
    for (const m of groups) expect(m.args.reduce((n, a) => n + a[0].byteLength, 0)).toBeLessThanOrEqual(GROUP_MAX_BYTES);
    // One group a frame: 2.25 MB of arguments in one turn, no frame near the coordinator's 8 MiB bound.
    expect(Math.max(...c.frameBytes)).toBeLessThan(1.1 * GROUP_MAX_BYTES);
  });

  it('calls that may not group (a ref argument, several returns) go alone and close the open group first', async () => {
    const { mesh, c } = await driver();
    const f = mesh.remote(add);
    const put = mesh.put(1);
    for (let i = 0; i < 4; i++) f.remote(i, 1);
    f.remote(put as unknown as number, 1);
    for (let i = 0; i < 4; i++) f.remote(i, 1);
    mesh.remote(add, { numReturns: 2 }).remote(1, 2);
    await turn();
    expect(work(c).map((m) => m.t)).toEqual(['put', 'submitGroup', 'submit', 'submitGroup', 'submit']);
  });
});

/** A driver with one sent group of `n` members of add(i, 1), and its refs. */
async function grouped(n = 6): Promise<{ mesh: Mesh; c: FakeCoordinator; refs: ObjectRef<number>[]; g: TaskId }> {
  const { mesh, c } = await driver();
  const f = mesh.remote(add);
  const refs = Array.from({ length: n }, (_, i) => f.remote(i, 1));
  await turn();
  return { mesh, c, refs, g: c.of('submitGroup')[0].spec.taskId };
}

const failure = (message: string) => ({ code: 'TASK_ERROR' as const, name: 'Error', message, stack: '', functionName: 'add', taskId: 'x' });

describe("the owner's table", () => {
  it('groupReady resolves gets and waits with values and failures, and no subscribe goes for members', async () => {
    const { mesh, c, refs, g } = await grouped();
    const got = mesh.get(refs.slice(0, 3));
    const waited = mesh.wait(refs, { numReturns: 4 });
    await turn();
    c.deliver({ t: 'groupReady', g, ok: [0, 1, 2], v: [0, 1, 2].map((i) => encodeValue(i + 1).bytes), failed: [{ i: 4, failure: failure('boom') }] });
    expect(await got).toEqual([1, 2, 3]);
    expect((await waited).ready.map((r) => r.id)).toEqual([0, 1, 2, 4].map((i) => refs[i].id));
    await expect(mesh.get(refs[4])).rejects.toThrow(/boom/);
    expect(c.of('subscribe')).toEqual([]);
  });

  it('a member the coordinator moved is read as an ordinary object: subscribed, then its ready resolves it', async () => {
    const { mesh, c, refs, g } = await grouped();
    const got = mesh.get(refs[3]);
    await turn();
    expect(c.of('subscribe')).toEqual([]);
    c.deliver({ t: 'groupReady', g, ok: [], v: [], moved: [3] });
    await turn();
    expect(c.of('subscribe').flatMap((m) => m.ids)).toEqual([refs[3].id]);
    const v = encodeValue(42).bytes;
    c.deliver({ t: 'ready', id: refs[3].id, v, size: v.byteLength });
    expect(await got).toBe(42);
  });

  it('freed members leave by one groupRelease a group, not release', async () => {
    const { mesh, c, refs, g } = await grouped();
    mesh.free([refs[2], refs[3]]);
    mesh.free(refs[5]);
    await turn();
    expect(c.of('release')).toEqual([]);
    expect(c.of('groupRelease')).toEqual([{ t: 'groupRelease', g, idx: [2, 3, 5] }]);
  });

  it('a malformed groupReady changes nothing', async () => {
    const { mesh, c, refs, g } = await grouped();
    const err = console.error;
    const said: string[] = [];
    console.error = (...a: unknown[]) => void said.push(a.join(' '));
    try {
      c.deliver({ t: 'groupReady', g, ok: [0, 9], v: [encodeValue(1).bytes, encodeValue(2).bytes] });
      c.deliver({ t: 'groupReady', g, ok: [1], v: [encodeValue(1).bytes], failed: [{ i: 6, failure: failure('x') }] });
      c.deliver({ t: 'groupReady', g, ok: [0, 1], v: [encodeValue(1).bytes] });
    } finally {
      console.error = err;
    }
    expect(said.join('\n')).toMatch(/member 9 of a group of 6[\s\S]*member 6 of a group of 6[\s\S]*2 members and 1 values/);
    const w = await mesh.wait(refs, { numReturns: 1, timeoutMs: 50 });
    expect(w.ready).toEqual([]);
  });
});

describe('materialize before a ref escapes', () => {
  it('a member as an argument, nested in a put, or cancelled is materialized first, then is an ordinary object', async () => {
    const { mesh, c, refs, g } = await grouped();
    const f = mesh.remote(add);
    f.remote(refs[1] as unknown as number, 1);
    mesh.put([refs[2]]);
    mesh.remote(mul).remote([refs[4]] as unknown as number, 1);
    mesh.cancel(refs[5]);
    await turn();
    const seq = work(c).slice(1);
    expect(seq.map((m) => m.t)).toEqual(['materialize', 'submit', 'materialize', 'put', 'materialize', 'submit', 'materialize', 'cancel']);
    expect(seq.filter((m) => m.t === 'materialize')).toEqual([1, 2, 4, 5].map((i) => ({ t: 'materialize', g, idx: [i] })));
    // Ordinary now: a get subscribes, a free releases; passed again, no second materialize.
    void mesh.get(refs[1]).catch(() => {});
    f.remote(refs[1] as unknown as number, 2);
    mesh.free(refs[2]);
    await turn();
    expect(c.of('subscribe').flatMap((m) => m.ids)).toEqual([refs[1].id]);
    expect(c.of('release').flatMap((m) => m.ids)).toEqual([refs[2].id]);
    expect(c.of('materialize')).toHaveLength(4);
    expect(c.of('groupRelease')).toEqual([]);
  });

  it('a get waiting on a member that escapes then asks for it as an ordinary object, after the materialize', async () => {
    const { mesh, c, refs } = await grouped();
    const got = mesh.get(refs[2]);
    await turn();
    mesh.remote(mul).remote(refs[2] as unknown as number, 2);
    await turn();
    expect(
      work(c)
        .slice(1)
        .map((m) => m.t),
    ).toEqual(['materialize', 'subscribe', 'submit']);
    expect(c.of('subscribe')).toEqual([{ t: 'subscribe', ids: [refs[2].id] }]);
    // An ordinary object's ready resolves it (a groupReady that crossed the materialize is not needed).
    const v = encodeValue(3).bytes;
    c.deliver({ t: 'ready', id: refs[2].id, v, size: v.byteLength });
    expect(await got).toBe(3);
  });

  it("a member of the open group: its group's submitGroup goes first", async () => {
    const { mesh, c } = await driver();
    const f = mesh.remote(add);
    const refs = Array.from({ length: 5 }, (_, i) => f.remote(i, 1));
    mesh.remote(mul).remote(refs[0] as unknown as number, 2);
    await turn();
    expect(work(c).map((m) => m.t)).toEqual(['submitGroup', 'materialize', 'submit']);
  });
});

describe('resume', () => {
  it('sends again the groups with members not ended, with what became of their members, before the submits', async () => {
    const { mesh, c, refs, g } = await grouped();
    const f = mesh.remote(mul);
    const done = Array.from({ length: 4 }, (_, i) => f.remote(i, 2));
    await turn();
    const g2 = c.of('submitGroup')[1].spec.taskId;
    c.deliver({ t: 'groupReady', g: g2, ok: [0, 1, 2, 3], v: [0, 1, 2, 3].map((i) => encodeValue(i * 2).bytes) });
    expect(await mesh.get(done)).toEqual([0, 2, 4, 6]);
    mesh.remote(add).remote(refs[1] as unknown as number, 1); // materializes member 1
    mesh.free(refs[3]);
    await turn();
    const before = c.sent.length;
    c.drop();
    await until(() => c.sockets === 2 && c.sent.slice(before).some((m) => m.t === 'submitGroup'), { timeoutMs: 5000, what: 'the resume' });
    await turn();
    const again = c.sent.slice(before).filter((m) => !['hello', 'fn', 'sync', 'subscribe'].includes(m.t));
    expect(again.map((m) => m.t)).toEqual(['submitGroup', 'materialize', 'groupRelease', 'submit', 'submit']);
    expect((again[0] as MsgOf<'submitGroup'>).spec.taskId).toBe(g);
    expect(again[1]).toEqual({ t: 'materialize', g, idx: [1] });
    expect(again[2]).toEqual({ t: 'groupRelease', g, idx: [3] });
    // The materialized member is an ordinary submission now, sent again as one.
    expect((again as MsgOf<'submit'>[]).map((m) => m.spec?.taskId)).toContain(childTaskId(rootTaskId(mesh.jobId as JobId), 1));
  });

  it('a coordinator without groups after the resume: members not ended go as plain submits', async () => {
    const { c, refs, g } = await grouped(4);
    c.deliver({ t: 'groupReady', g, ok: [0], v: [encodeValue(1).bytes] });
    const before = c.sent.length;
    c.welcome = {};
    c.drop();
    await until(() => c.sockets === 2 && c.sent.slice(before).some((m) => m.t === 'submit'), { timeoutMs: 5000, what: 'the resume' });
    await turn();
    const subs = c.sent.slice(before).filter((m): m is MsgOf<'submit'> => m.t === 'submit');
    expect(subs.map((m) => returnObjectId(m.spec.taskId, 0)).sort()).toEqual(
      refs
        .slice(1)
        .map((r) => r.id)
        .sort(),
    );
    expect(c.sent.slice(before).some((m) => m.t === 'submitGroup')).toBe(false);
    expect(subs[0].spec.args.map((a) => decodeValue(a.v!))).toEqual([refs.slice(1).findIndex((r) => returnObjectId(subs[0].spec.taskId, 0) === r.id) + 1, 1]);
  });
});
