// A leased node's messages parked for a late record (coordinator/parked-messages.ts, issue 14 session 20):
// replayed in order once what they name is recorded, a task's messages never passing one another; bounded;
// past a bound or PARKED_MS what is parked is spoiled (reports dropped, the rest handled as it is, the task's
// submission told to run it again).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ParkedMessages, PARKED_MS, PARKED_MSGS_PER_LEASE, PARKED_TASKS_PER_LEASE } from '../../coordinator/parked-messages.js';
import { childTaskId, putObjectId, returnObjectId, rootTaskId, type JobId, type TaskId } from '../../shared/ids.js';
import type { Msg } from '../../shared/protocol/messages.js';
import { fakeSession } from '../helpers/fake-session.js';
import { taskSpec } from '../helpers/task-record.js';

const JOB = '0123456789abcdef' as JobId;
const A = childTaskId(rootTaskId(JOB), 0);
const B = childTaskId(rootTaskId(JOB), 1);

const started = (taskId: TaskId): Msg => ({ t: 'started', taskId, attempt: 0, ex: 0 }) as Msg;
const done = (taskId: TaskId): Msg => ({ t: 'done', taskId, attempt: 0, ms: 1, results: [{ v: new Uint8Array(1), refs: [] }] }) as unknown as Msg;
const put = (task: TaskId, i: number): Msg => ({ t: 'put', id: putObjectId(task, i), v: new Uint8Array(1), size: 1, refs: [] }) as unknown as Msg;
const release = (...ids: string[]): Msg => ({ t: 'release', ids }) as unknown as Msg;

/** Parked messages over a fake record table: `recorded` tasks are known; what is handled is kept in order. */
function setup() {
  const recorded = new Set<string>();
  const handled: Msg[] = [];
  const unknown = (m: Msg): string | null => {
    switch (m.t) {
      case 'started':
      case 'done':
        return recorded.has(m.taskId) ? null : m.taskId;
      case 'put':
        return recorded.has(m.id.slice(0, 32)) ? null : m.id;
      case 'submit':
        return recorded.has(m.spec.parentId) ? null : m.spec.parentId;
      default:
        return null;
    }
  };
  const handle = (m: Msg) => {
    handled.push(m);
    if (m.t === 'submit' && recorded.has(m.spec.parentId)) recorded.add(m.spec.taskId);
  };
  const p = new ParkedMessages(
    (_s, m) => unknown(m) === null,
    (_s, m) => handle(m),
  );
  const s = fakeSession('node');
  return { p, s, recorded, handled };
}

describe('parked messages of a late direct submission', () => {
  afterEach(() => vi.useRealTimers());

  it("replays a task's messages in order once it is recorded, with a later release of its put behind them; other tasks' stay", () => {
    const { p, s, recorded, handled } = setup();
    const msgs = [started(A), put(A, 0), done(A)];
    for (const m of msgs) expect(p.park(s, m, A, 1)).toBe(true);
    expect(p.park(s, started(B), B, 1)).toBe(true);
    // The node's release of A's put names no unknown task, but A's messages are parked: it goes behind them.
    const rel = release(putObjectId(A, 0));
    expect(p.behind(s, rel)).toBe(A);
    expect(p.park(s, rel, A, 1)).toBe(true);
    expect(p.behind(s, release(returnObjectId(B, 0)))).toBe(B);
    expect(p.behind(s, started(childTaskId(A, 0)))).toBe(null);
    p.replay(s); // nothing recorded yet
    expect(handled).toEqual([]);
    recorded.add(A);
    p.replay(s);
    expect(handled).toEqual([...msgs, rel]);
    expect(p.has(s)).toBe(true); // B's
    recorded.add(B);
    p.replay(s);
    expect(handled.at(-1)).toEqual(started(B));
    expect(p.has(s)).toBe(false);
  });

  it("a nested task's messages go in the same replay as the parent's submit that records it", () => {
    const { p, s, recorded, handled } = setup();
    const child = taskSpec(JOB, 0, 'child', { parentId: A, taskId: childTaskId(A, 0) });
    const submit = { t: 'submit', spec: child } as unknown as Msg;
    p.park(s, submit, A, 1);
    p.park(s, done(child.taskId), child.taskId, 1);
    recorded.add(A);
    p.replay(s);
    expect(handled).toEqual([submit, done(child.taskId)]);
  });

  it('a message naming a task an earlier parked one still waits for stays behind it, even once its own record is here', () => {
    const { p, s, recorded, handled } = setup();
    // A release naming both tasks, parked under B: A's later put waits behind it until B is recorded too.
    p.park(s, started(B), B, 1);
    p.park(s, release(putObjectId(B, 0), putObjectId(A, 0)), B, 1);
    p.park(s, put(A, 0), A, 1);
    recorded.add(A);
    p.replay(s);
    expect(handled).toEqual([]); // A's put stays behind the release naming A, which waits for B
    recorded.add(B);
    p.replay(s);
    expect(handled.map((m) => m.t)).toEqual(['started', 'release', 'put']);
  });

  it('more tasks than the bound per lease: the message is not parked (handled as it is)', () => {
    const { p, s } = setup();
    for (let i = 0; i < PARKED_TASKS_PER_LEASE; i++)
      expect(p.park(s, started(childTaskId(rootTaskId(JOB), 10 + i)), childTaskId(rootTaskId(JOB), 10 + i), 1)).toBe(true);
    expect(p.park(s, started(A), A, 1)).toBe(false);
    // A second lease doubles the room.
    expect(p.park(s, started(A), A, 2)).toBe(true);
  });

  it('past the message bound what is parked is spoiled: reports dropped, puts handled as they are, the submission told to run it again', () => {
    const { p, s, handled } = setup();
    p.park(s, started(A), A, 1);
    for (let i = 0; i < PARKED_MSGS_PER_LEASE; i++) p.park(s, put(A, i), A, 1);
    expect(p.has(s)).toBe(false);
    expect(handled.every((m) => m.t === 'put')).toBe(true);
    expect(handled).toHaveLength(PARKED_MSGS_PER_LEASE);
    expect(p.counts.spoiled).toBe(PARKED_MSGS_PER_LEASE + 1);
    // Its later report is dropped, a later put handled as it is.
    expect(p.spoiled(s, done(A))).toBe('drop');
    expect(p.spoiled(s, put(A, 5000))).toBe('as-is');
    expect(p.spoiled(s, done(B))).toBe(null);
    expect(p.takeSpoiled(s, A)).toBe(true);
    expect(p.takeSpoiled(s, A)).toBe(false);
  });

  it('a record later than PARKED_MS: what is parked is spoiled when the submission comes, so it runs again', () => {
    vi.useFakeTimers();
    const { p, s, handled } = setup();
    p.park(s, started(A), A, 1);
    p.park(s, put(A, 0), A, 1);
    vi.advanceTimersByTime(PARKED_MS - 1);
    expect(p.takeSpoiled(s, A)).toBe(false);
    vi.advanceTimersByTime(2);
    expect(p.takeSpoiled(s, A)).toBe(true);
    expect(handled).toEqual([put(A, 0)]);
    expect(p.has(s)).toBe(false);
  });

  it('what is spoiled but recorded by then is handled, reports included', () => {
    vi.useFakeTimers();
    const { p, s, recorded, handled } = setup();
    p.park(s, started(B), B, 1);
    p.park(s, done(A), B, 1); // behind B's (as a message naming both would be)
    recorded.add(A);
    vi.advanceTimersByTime(PARKED_MS + 1);
    expect(p.takeSpoiled(s, B)).toBe(true);
    expect(handled).toEqual([done(A)]);
  });
});
