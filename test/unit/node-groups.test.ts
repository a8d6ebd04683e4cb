// Task groups on a node (issue 14, session 26; shared/protocol/group.ts): a real NodeRuntime on a hand-made
// coordinator socket runs `assignGroup` slices and reports them in `groupDone`, hands unstarted members back
// when paused, and stops members on `cancelGroup` and on `cancelTask` of a member's task id.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { childTaskId, returnObjectId, taskOfObject } from '../../shared/ids.js';
import { inThread } from '../helpers/in-thread.js';
import type { SpawnExecutor } from '../../shared/node/executors.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import { sleep, until } from '../helpers/poll.js';
import { closeJoined, fnOf, ids, joined, reported, root, slice } from '../helpers/group-slices.js';

afterEach(closeJoined);

describe('task groups on a node', () => {
  it('says groups in its hello', async () => {
    const { ws } = await joined();
    expect(ws.of('hello')[0].groups).toBe(true);
  });

  it('runs a slice and reports it in one groupDone per frame, each member its own value, no per-member message', async () => {
    const { node, ws } = await joined(2);
    const m = slice(fnOf('(x) => x * 2'), 5, ids(200), ids(200));
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size === 200, { what: () => `200 members, have ${reported(ws, g).ok.size}` });
    const { ok, failed } = reported(ws, g);
    expect(failed.size).toBe(0);
    for (let i = 0; i < 200; i++) expect(ok.get(i)).toBe(i * 2);
    for (const frame of ws.frames) expect(frame.filter((x) => x.t === 'groupDone').length).toBeLessThanOrEqual(1);
    expect(ws.of('groupDone').length).toBeLessThan(200 / 4);
    for (const t of ['done', 'failed', 'started', 'handBack'] as const) expect(ws.of(t)).toEqual([]);
    for (const d of ws.of('groupDone')) expect(d.ms.length).toBe(d.ok.length);
    expect(node.stats().tasksRun).toBe(200);
    await until(() => node.stats().running === 0 && node.stats().queued === 0);
    expect(node.groups.count).toBe(0); // a slice whose members all ended is forgotten
  });

  it("a member's first call out goes as one groupCallOut before the call's own message; members that only compute send none", async () => {
    const { ws } = await joined(2);
    const m = slice(fnOf('(x) => { if (x % 2 === 0) { mesh.put(x); mesh.put(x + 1); } return x; }'), 3, ids(6), ids(6));
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size === 6);
    const outs = ws.of('groupCallOut');
    expect(outs.flatMap((o) => o.idx).sort()).toEqual([0, 2, 4]);
    for (const o of outs) expect(o).toMatchObject({ g, s: 0 });
    for (const i of [0, 2, 4]) {
      const member = childTaskId(root, 3 + i);
      const out = ws.sent.findIndex((x) => x.t === 'groupCallOut' && x.idx.includes(i));
      const puts = ws.sent.flatMap((x, k) => (x.t === 'put' && taskOfObject(x.id) === member ? [k] : []));
      expect(puts.length).toBe(2);
      expect(out).toBeLessThan(puts[0]);
    }
  });

  it('a member that calls out says `started` once, right after its groupCallOut: it is an ordinary task running here from then on', async () => {
    const { ws } = await joined(2);
    const m = slice(fnOf('(x) => { if (x % 2 === 0) { mesh.put(x); mesh.put(x + 1); } return x; }'), 3, ids(6), ids(6));
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size === 6);
    const started = ws.of('started');
    expect(started.map((s) => s.taskId).sort()).toEqual([0, 2, 4].map((i) => childTaskId(root, 3 + i)).sort());
    for (const i of [0, 2, 4]) {
      const member = childTaskId(root, 3 + i);
      const out = ws.sent.findIndex((x) => x.t === 'groupCallOut' && x.idx.includes(i));
      const start = ws.sent.findIndex((x) => x.t === 'started' && x.taskId === member);
      const firstPut = ws.sent.findIndex((x) => x.t === 'put' && taskOfObject(x.id) === member);
      expect(out).toBeGreaterThanOrEqual(0);
      expect(start).toBeGreaterThan(out);
      expect(start).toBeLessThan(firstPut);
      const s = ws.sent[start] as MsgOf<'started'>;
      expect(s.attempt).toBe(m.attempt);
      expect(s.ex).toBeTypeOf('number');
    }
  });

  it('hands short members to its executors in batches past the 32 of plain tasks', async () => {
    const batches: number[] = [];
    const counting: SpawnExecutor = (index, onMessage, onExit) => {
      const h = inThread(index, onMessage, onExit);
      return { post: (m, tr) => (m.k === 'runs' && batches.push(m.c.ids.length), h.post(m, tr)), terminate: () => h.terminate() };
    };
    const { ws } = await joined(2, 64 * 1024, counting);
    const m = slice(fnOf('(x) => x'), 0, ids(600), ids(600));
    ws.deliver(m);
    await until(() => reported(ws, m.spec.taskId).ok.size === 600);
    expect(Math.max(...batches)).toBeGreaterThan(32);
    expect(Math.max(...batches)).toBeLessThanOrEqual(128);
  });

  it('keeps a frame of inline results within bounds: reports filled in the outbox send it past 512 KiB', async () => {
    const { ws } = await joined(2);
    const m = slice(
      fnOf('(n) => "z".repeat(n)'),
      0,
      ids(64),
      ids(64).map(() => 60_000),
    );
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size === 64);
    for (const v of reported(ws, g).ok.values()) expect(v).toBe('z'.repeat(60_000));
    // 64 results of 60 KB (3.8 MB): several frames, none much past the bound.
    expect(Math.max(...ws.frameBytes)).toBeLessThan(1.2 * 1024 * 1024);
  });

  it('runs each member under its own task id: childTaskId(parent, first + i), in its logs with g and i', async () => {
    // One executor: the members after the first run in one batch while the first one's report waits in the outbox.
    const { ws } = await joined(1);
    const f = fnOf('(x) => { console.log("member " + x); return mesh.runtimeContext().taskId; }');
    const m = slice(f, 40, [0, 3, 7], [0, 3, 7]);
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size === 3);
    const { ok } = reported(ws, g);
    for (const i of [0, 3, 7]) expect(ok.get(i)).toBe(childTaskId(root, 40 + i));
    const logs = ws.of('log');
    expect(logs.map((l) => [l.text, l.g, l.i, l.taskId]).sort()).toEqual([0, 3, 7].map((i) => [`member ${i}`, g, i, childTaskId(root, 40 + i)]).sort());
    // Each member's report comes after its log.
    for (const i of [0, 3, 7]) {
      const logAt = ws.sent.findIndex((x) => x.t === 'log' && x.i === i);
      const doneAt = ws.sent.findIndex((x) => x.t === 'groupDone' && x.ok.includes(i));
      expect(logAt).toBeLessThan(doneAt);
    }
  });

  it('reports a member that submitted a child after that submit, and releases what it held after its report', async () => {
    const { ws } = await joined(1);
    const f = fnOf('(x) => [mesh.remote((y) => y + 1).remote(x)]');
    const m = slice(f, 0, [0, 1, 2], [0, 1, 2]);
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size === 3);
    for (const i of [0, 1, 2]) {
      const submitAt = ws.sent.findIndex((x) => x.t === 'submit' && x.spec.parentId === childTaskId(root, i));
      const doneAt = ws.sent.findIndex((x) => x.t === 'groupDone' && x.ok.includes(i));
      const d = ws.sent[doneAt] as MsgOf<'groupDone'>;
      expect(d.results[d.ok.indexOf(i)].refs).toEqual([returnObjectId(childTaskId(childTaskId(root, i), 0), 0)]);
      expect(submitAt).toBeGreaterThanOrEqual(0);
      expect(submitAt).toBeLessThan(doneAt);
      const releaseAt = ws.sent.findIndex((x) => x.t === 'release' && x.ids.includes(returnObjectId(childTaskId(childTaskId(root, i), 0), 0)));
      expect(releaseAt).toBeGreaterThan(doneAt);
    }
  });

  it('reports a member that threw in failed, with the failure a plain task would have', async () => {
    const { ws } = await joined(2);
    const m = slice(fnOf('(x) => { if (x % 2) throw new Error("odd " + x); return x; }'), 0, ids(10), ids(10));
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size + reported(ws, g).failed.size === 10);
    const { ok, failed } = reported(ws, g);
    expect([...ok.keys()].sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8]);
    for (const i of [1, 3, 5, 7, 9]) {
      const f = failed.get(i) as { code: string; message: string; taskId: string };
      expect(f.code).toBe('TASK_ERROR');
      expect(f.message).toContain(`odd ${i}`);
      expect(f.taskId).toBe(childTaskId(root, i));
    }
  });

  it('stores a result too large to travel inline and reports its size and hash', async () => {
    const { node, ws } = await joined(1, 1024);
    const m = slice(fnOf('(n) => "y".repeat(n)'), 0, [0, 1], [10, 5000]);
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size === 2);
    const { ok } = reported(ws, g);
    expect(ok.get(0)).toBe('y'.repeat(10));
    const big = ok.get(1) as { size: number; hash: string; v?: Uint8Array };
    expect(big.v).toBeUndefined();
    expect(big.size).toBeGreaterThan(5000);
    expect(typeof big.hash).toBe('string');
    const id = returnObjectId(childTaskId(root, 1), 0);
    expect(node.store.has(id)).toBe(true);
    expect(decodeValue(node.store.getSync(id)!)).toBe('y'.repeat(5000));
  });

  it('counts members in its load and hands the unstarted back in one groupHandBack when paused', async () => {
    const { node, ws } = await joined(2);
    const m = slice(fnOf('(x) => new Promise((r) => setTimeout(() => r(x), 300))'), 0, ids(10), ids(10), 4);
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => node.stats().running === 2);
    expect(node.stats().queued).toBe(8);
    node.setPaused(true);
    const back = await until(() => ws.of('groupHandBack').length > 0 && ws.of('groupHandBack'));
    expect(back.length).toBe(1);
    expect(back[0].g).toBe(g);
    expect(back[0].s).toBe(4);
    expect(back[0].idx.length).toBe(8);
    expect(node.stats().queued).toBe(0);
    // The two that ran are reported; the handed-back ones are not.
    await until(() => reported(ws, g, 4).ok.size === 2);
    const ran = [...reported(ws, g, 4).ok.keys()];
    expect(new Set([...ran, ...back[0].idx]).size).toBe(10);
    expect(ws.of('handBack')).toEqual([]);
    // A slice assigned while paused goes straight back.
    const again = slice(fnOf('(x) => x'), 20, [0, 1], [0, 1], 9);
    ws.deliver(again);
    await until(() => ws.of('groupHandBack').length === 2);
    expect(ws.of('groupHandBack').at(-1)).toEqual({ t: 'groupHandBack', g: again.spec.taskId, s: 9, idx: [0, 1] });
  });

  it('gives members back on the coordinator giveBack, in a groupHandBack', async () => {
    const { node, ws } = await joined(1);
    const m = slice(fnOf('(x) => new Promise((r) => setTimeout(() => r(x), 200))'), 0, ids(6), ids(6));
    ws.deliver(m);
    await until(() => node.stats().running === 1);
    ws.deliver({ t: 'giveBack', n: 2 });
    const back = await until(() => ws.of('groupHandBack').length > 0 && ws.of('groupHandBack'));
    expect(back.length).toBe(1);
    expect(back[0].idx.sort()).toEqual([4, 5]);
    await until(() => reported(ws, m.spec.taskId).ok.size === 4);
  });

  it('a member placed again in a later slice while still here is reported in that slice, run once', async () => {
    const { node, ws } = await joined(1);
    const f = fnOf('(x) => new Promise((r) => setTimeout(() => r(x), 40))');
    const first = slice(f, 0, ids(3), ids(3), 0);
    ws.deliver(first);
    await until(() => node.stats().running === 1);
    ws.deliver(slice(f, 0, ids(3), ids(3), 1, 1));
    const g = first.spec.taskId;
    await until(() => reported(ws, g, 1).ok.size === 3);
    await sleep(100);
    expect(reported(ws, g, 0).ok.size).toBe(0);
    expect(node.stats().tasksRun).toBe(3);
  });

  it('cancelGroup drops queued members and stops running ones, with no report', async () => {
    const { node, ws } = await joined(1);
    const m = slice(fnOf('(x) => new Promise((r) => setTimeout(() => r(x), 150))'), 0, ids(5), ids(5));
    const other = slice(fnOf('(x) => new Promise((r) => setTimeout(() => r(x), 150))'), 100, ids(3), ids(3));
    ws.deliver(m, other);
    await until(() => node.stats().running === 1);
    ws.deliver({ t: 'cancelGroup', g: m.spec.taskId });
    await until(() => reported(ws, other.spec.taskId).ok.size === 3, { timeoutMs: 5000 });
    await sleep(200);
    const { ok, failed } = reported(ws, m.spec.taskId);
    expect(ok.size + failed.size).toBe(0);
    expect(node.stats().running + node.stats().queued).toBe(0);
    expect(node.groups.count).toBe(0);
  });

  it('cancelGroup stops a member that would never end: its executor restarts and takes the next slice', async () => {
    const { node, ws } = await joined(1);
    const stuck = slice(fnOf('(x) => new Promise(() => {})'), 0, ids(3), ids(3));
    ws.deliver(stuck);
    await until(() => node.stats().running === 1);
    ws.deliver({ t: 'cancelGroup', g: stuck.spec.taskId });
    await until(() => node.stats().running === 0 && node.stats().queued === 0);
    const next = slice(fnOf('(x) => x + 1'), 50, ids(4), ids(4));
    ws.deliver(next);
    await until(() => reported(ws, next.spec.taskId).ok.size === 4);
    expect(reported(ws, stuck.spec.taskId).ok.size + reported(ws, stuck.spec.taskId).failed.size).toBe(0);
    expect(node.groups.count).toBe(0);
  });

  it('cancelGroup with idx stops only those members', async () => {
    const { ws } = await joined(1);
    const m = slice(fnOf('(x) => new Promise((r) => setTimeout(() => r(x), 30))'), 0, ids(6), ids(6));
    ws.deliver(m, { t: 'cancelGroup', g: m.spec.taskId, idx: [2, 4] });
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size === 4);
    await sleep(100);
    expect([...reported(ws, g).ok.keys()].sort()).toEqual([0, 1, 3, 5]);
    expect(reported(ws, g).failed.size).toBe(0);
  });

  it('cancelTask with a member task id cancels that member as a plain task, reported in its slice', async () => {
    const { ws } = await joined(1);
    const m = slice(fnOf('(x) => new Promise((r) => setTimeout(() => r(x), 30))'), 7, ids(5), ids(5));
    ws.deliver(m, { t: 'cancelTask', taskId: childTaskId(root, 7 + 3), force: false });
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size + reported(ws, g).failed.size === 5);
    const { ok, failed } = reported(ws, g);
    expect([...ok.keys()].sort()).toEqual([0, 1, 2, 4]);
    expect((failed.get(3) as { code: string }).code).toBe('TASK_CANCELLED');
    // It never ran: its entry has no run time (the coordinator then makes up no start for it).
    const entry = ws
      .of('groupDone')
      .flatMap((d) => d.failed ?? [])
      .find((f) => f.i === 3);
    expect(entry?.ms).toBeUndefined();
  });

  it('a member that throws is reported with its executor slot and its run time (its timeline bar, session 28)', async () => {
    const { ws } = await joined(2);
    // Each waits 40 ms, then throws: its run time is at least that.
    const m = slice(fnOf('(x) => new Promise((_, no) => setTimeout(() => no(new Error(`no ${x}`)), 40))'), 0, ids(6), ids(6));
    ws.deliver(m);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).failed.size === 6);
    const entries = ws.of('groupDone').flatMap((d) => d.failed ?? []);
    expect(entries.map((f) => f.i).sort()).toEqual(ids(6));
    for (const f of entries) {
      expect(f.failure.code).toBe('TASK_ERROR');
      expect([0, 1]).toContain(f.ex);
      expect(f.ms).toBeGreaterThanOrEqual(35);
    }
  });
});
