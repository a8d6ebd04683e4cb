// A task's console line that reaches the coordinator after its end (coordinator/task-logs.ts): still its
// driver's to read, up to LATE_LINES a task; a line for a task its node never ran is refused and counted.
// White-box over the wire: a real coordinator, hand-made driver and node sockets, the order forced.
import { afterEach, describe, expect, it } from 'vitest';
import { LATE_LINES } from '../../coordinator/task-logs.js';
import { encodeValue } from '../../shared/codec.js';
import { memberId, rawGroup } from '../helpers/raw-client.js';
import { GroupWorlds } from '../helpers/group-world.js';
import { taskSpec } from '../helpers/task-record.js';

const TOKEN = 'task-logs-test';
const gw = new GroupWorlds(TOKEN, '(x) => x + 1', 'inc');
afterEach(() => gw.close());

async function world() {
  const w = await gw.start();
  return { ...w, n: await gw.node('a') };
}

const val = (x: unknown) => encodeValue(x).bytes;

describe("a task's console lines after its end", () => {
  it("a group member's line behind its report reaches its owner; one of a member never on that node does not", async () => {
    const w = await world();
    w.driver.send(rawGroup(w.job, w.fn, 0, [[val(1)], [val(2)], [val(3)], [val(4)]]));
    await w.n.until(() => w.n.of('assignGroup').length === 1, 'slice');
    const sl = w.n.of('assignGroup')[0];
    const g = sl.spec.taskId;
    const i = sl.idx[0];
    const away = [0, 1, 2, 3].find((k) => !sl.idx.includes(k));
    // The report first, in the same frame as the line: the member is off its slice when its line is handled.
    w.n.send(
      { t: 'groupDone', g, s: sl.s, ok: [i], results: [{ v: val(2), refs: [] }], ms: [1] },
      { t: 'log', taskId: memberId(w.job, 0, i), level: 'warn', text: 'said before it returned', g, i },
      ...(away === undefined ? [] : [{ t: 'log' as const, taskId: memberId(w.job, 0, away), level: 'log' as const, text: 'not mine', g, i: away }]),
      { t: 'sync', x: 1 },
    );
    await w.n.until(() => w.n.of('sync').length === 1, 'sync');
    await w.driver.until(() => w.driver.of('output').length > 0, 'output');
    expect(w.driver.of('output')).toEqual([
      { t: 'output', taskId: memberId(w.job, 0, i), level: 'warn', text: 'said before it returned', fn: 'inc', node: 'a' },
    ]);
    expect(w.c.statsJson()).toMatchObject({ logsLate: 1, logsRefused: away === undefined ? 0 : 1 });
  });

  it("an ordinary task's lines after its done reach its driver, up to LATE_LINES; then one event says the rest are not passed on", async () => {
    const w = await world();
    const spec = taskSpec(w.job, 100, 'inc', { fnId: w.fn.f.fnId, scheduling: undefined });
    w.driver.send({ t: 'submit', spec });
    await w.n.until(() => w.n.of('assign').length === 1, 'assigned');
    const lines = Array.from({ length: LATE_LINES + 3 }, (_, k) => ({ t: 'log' as const, taskId: spec.taskId, level: 'log' as const, text: `late ${k}` }));
    w.n.send({ t: 'done', taskId: spec.taskId, attempt: 0, ms: 1, results: [{ v: val(1), refs: [] }] }, ...lines, { t: 'sync', x: 1 });
    await w.n.until(() => w.n.of('sync').length === 1, 'sync');
    await w.driver.until(() => w.driver.of('output').length === LATE_LINES, 'late lines');
    expect(w.c.gcs.tasks.get(spec.taskId)?.state).toBe('finished');
    expect(w.driver.of('output').map((o) => o.text)).toEqual(lines.slice(0, LATE_LINES).map((l) => l.text));
    expect(w.c.statsJson()).toMatchObject({ logsLate: LATE_LINES, logsOverLate: 3 });
    expect(w.c.gcs.events.filter((e) => e.kind === 'task-log-over')).toHaveLength(1);
  });
});
