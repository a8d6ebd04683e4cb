// Group members on an executor that dies or is restarted (shared/node/admission.ts rehome; session 27): a member is
// never reported as its own throw for what happened to its executor. A crash fails each member it ran with
// WORKER_CRASHED (the coordinator retries that within maxRetries, coordinator/groups/group-reports.ts); a restart
// for another task's force-cancel queues the members it ran again here, and they end with their own values.
import { afterEach, describe, expect, it } from 'vitest';
import { childTaskId } from '../../shared/ids.js';
import type { SpawnExecutor } from '../../shared/node/executors.js';
import { inThread } from '../helpers/in-thread.js';
import { until } from '../helpers/poll.js';
import { closeJoined, fnOf, ids, joined, reported, root, slice } from '../helpers/group-slices.js';

afterEach(closeJoined);

/** In-thread executors whose deaths a test causes: `crash(i)` is executor i's worker exiting. */
function crashable() {
  const exits: ((why: string) => void)[] = [];
  const spawn: SpawnExecutor = (index, onMessage, onExit) => {
    exits[index] = onExit;
    return inThread(index, onMessage, onExit);
  };
  return { spawn, crash: (i: number) => exits[i]('exit code 1') };
}

/** A member that waits `ms` then returns its argument: running when the test acts. */
const slow = (ms: number) => fnOf(`(x) => new Promise((r) => setTimeout(() => r(x), ${ms}))`);

describe('group members on an executor that dies or restarts', () => {
  it('an executor that crashes under members: each member it ran is reported failed WORKER_CRASHED, the others with their values', async () => {
    const { spawn, crash } = crashable();
    const { node, ws } = await joined(2, 64 * 1024, spawn);
    const m = slice(slow(300), 0, ids(4), ids(4));
    ws.deliver(m);
    await until(() => node.stats().running === 2);
    const onFirst = node.local.executors[0].tasks.size;
    expect(onFirst).toBeGreaterThan(0);
    crash(0);
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size + reported(ws, g).failed.size === 4, { what: () => JSON.stringify([...reported(ws, g).failed]) });
    const { ok, failed } = reported(ws, g);
    expect(failed.size).toBe(onFirst);
    for (const f of failed.values()) expect((f as { code: string }).code).toBe('WORKER_CRASHED');
    for (const [i, v] of ok) expect(v).toBe(i);
  });

  it("a member's force-cancel restarts its executor: the members beside it run again there and end with their own values", async () => {
    const { ws, node } = await joined(1);
    // Measured short: the node hands the members to its one executor in one batch.
    node.local.recordRun(fnOf('(x) => new Promise((r) => setTimeout(() => r(x), 200))').fnId, 0.01);
    const m = slice(slow(200), 3, ids(4), ids(4));
    ws.deliver(m);
    await until(() => node.stats().running === 4, { what: () => `4 members on the executor (${node.stats().running})` });
    ws.deliver({ t: 'cancelTask', taskId: childTaskId(root, 3 + 1), force: true });
    const g = m.spec.taskId;
    await until(() => reported(ws, g).ok.size + reported(ws, g).failed.size === 4);
    const { ok, failed } = reported(ws, g);
    expect([...failed.keys()]).toEqual([1]);
    expect((failed.get(1) as { code: string }).code).toBe('TASK_CANCELLED');
    expect([...ok.keys()].sort()).toEqual([0, 2, 3]);
    for (const [i, v] of ok) expect(v).toBe(i);
  });
});
