// Issue 17, session 12: a large put inside a task is hashed off the node's main
// thread (a tab's synchronous hasher is JavaScript), and what the task says
// after it waits: the coordinator hears of the put before the task's next
// calls and before its end (whose `release` names the put). One box: the
// node's CallServer with a recording stand-in for the rest of the node.
import { describe, expect, it } from 'vitest';
import { CallServer } from '../../shared/node/call-server.js';
import type { CallServerContext } from '../../shared/node/node-context.js';
import type { Executor, LocalTask } from '../../shared/node/executors.js';
import type { FromExecutor } from '../../shared/executor/protocol.js';
import { contentHash, asyncHashFrom } from '../../shared/hash.js';
import type { ObjectId, TaskId } from '../../shared/ids.js';

const KIB = 1024;

function world() {
  const said: string[] = [];
  const stored = new Map<string, string>();
  const ex = { index: 0 } as unknown as Executor;
  const task = (id: string, actor?: string): LocalTask =>
    ({
      spec: { taskId: id, attempt: 0, fnId: 'f', ...(actor && { actor: { id: actor } }) },
      state: 'running',
      executor: ex,
      holds: [],
    }) as unknown as LocalTask;
  const tasks = new Map<string, LocalTask>();
  const n = {
    closed: false,
    inlineMax: 64 * KIB,
    inlineBytes: { in: 0, out: 0 },
    send: (m: { t: string; id?: string; taskId?: string }) => said.push(`${m.t} ${m.id ?? m.taskId ?? ''}`),
    store: { put: (id: string, _b: Uint8Array, meta: { hash: string }) => stored.set(id, meta.hash) },
    tasks: {
      get: (id: string) => tasks.get(id),
      end: (t: LocalTask) => {
        t.state = 'ended';
        said.push(`end ${t.spec.taskId}`);
      },
    },
    local: { recordRun() {}, pump() {} },
    starts: { settle: () => undefined },
  } as unknown as CallServerContext;
  const server = new CallServer(n);
  const call = (taskId: string, c: object) => server.onExecutor(ex, { k: 'call', id: 0, taskId, call: c } as unknown as FromExecutor);
  const done = (taskId: string) =>
    server.onExecutor(ex, {
      k: 'done',
      results: [{ taskId, attempt: 0, ok: true, returns: [{ bytes: new Uint8Array(1), refs: [] }], ms: 1 }],
    } as unknown as FromExecutor);
  return { said, stored, tasks, task, call, done };
}

const settle = async () => {
  for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 1));
};

describe('a large put inside a task', () => {
  it('is hashed off the thread here where the synchronous hasher is JavaScript', () => {
    expect(asyncHashFrom()).toBe(0);
  });

  it("goes to the coordinator before the task's later calls and its end; other tasks do not wait", async () => {
    const w = world();
    const a = w.task('a' as TaskId);
    const b = w.task('b' as TaskId);
    w.tasks.set('a', a).set('b', b);
    const bytes = new Uint8Array(1024 * KIB).map((_, i) => i & 255);
    const id = 'put-1' as ObjectId;
    w.call('a', { op: 'put', id, bytes, refs: [] });
    // Hashing: nothing said yet for the put; the task's next call and end wait, another task's do not.
    w.call('a', { op: 'cancel', id: 'child-of-a', force: false });
    w.done('a');
    w.call('b', { op: 'cancel', id: 'child-of-b', force: false });
    expect(w.said).toEqual(['cancel child-of-b']);
    await settle();
    expect(w.said).toEqual(['cancel child-of-b', `put ${id}`, 'cancel child-of-a', 'end a']);
    expect(w.stored.get(id)).toBe(contentHash(bytes));
  });

  it("of an actor's call holds the actor's later calls' ends, so they are reported in order", async () => {
    const w = world();
    const c1 = w.task('c1' as TaskId, 'actor1');
    const c2 = w.task('c2' as TaskId, 'actor1');
    w.tasks.set('c1', c1).set('c2', c2);
    const id = 'put-2' as ObjectId;
    w.call('c1', { op: 'put', id, bytes: new Uint8Array(256 * KIB).fill(7), refs: [] });
    w.done('c1');
    w.done('c2');
    expect(w.said).toEqual([]);
    await settle();
    expect(w.said).toEqual([`put ${id}`, 'end c1', 'end c2']);
  });

  it('of a task killed while it hashed is dropped, and so are its later calls (its end released what it held)', async () => {
    const w = world();
    const a = w.task('k' as TaskId);
    w.tasks.set('k', a);
    w.call('k', { op: 'put', id: 'put-3' as ObjectId, bytes: new Uint8Array(128 * KIB), refs: [] });
    w.call('k', { op: 'cancel', id: 'late', force: false });
    a.state = 'ended';
    w.tasks.delete('k');
    await settle();
    expect(w.said).toEqual([]);
  });
});
