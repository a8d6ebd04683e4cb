// A node's `submit` with `local: true` says it runs the task already (bottom-up scheduling), and the coordinator
// records it there without placing it. Our nodes never say so for an actor task (shared/node/call-server.ts); a node
// that does would place an actor on itself past the scheduler (its resources, its name's claim in a mesh): the
// coordinator places such a task as any other (session 38). White-box over the wire: hand-made driver and nodes.
import { afterEach, describe, expect, it } from 'vitest';
import { childTaskId, type TaskId } from '../../shared/ids.js';
import { GroupWorlds } from '../helpers/group-world.js';
import { rawClient } from '../helpers/raw-client.js';
import { taskSpec } from '../helpers/task-record.js';

const TOKEN = 'local-submit-test';
const gw = new GroupWorlds(TOKEN, 'class C { constructor() { this.n = 0; } }', 'C');
afterEach(() => gw.close());

describe("a node's local submit", () => {
  it('of an actor creation is placed by the scheduler, not on the node that sent it', async () => {
    const w = await gw.start();
    const a = await gw.node('a');
    // A task of the driver's runs on `a` (the only node then); it submits an actor that needs what only `b` has.
    const parent = taskSpec(w.job, 0, 'C', { fnId: w.fn.f.fnId, scheduling: undefined });
    w.driver.send({ t: 'submit', spec: parent });
    await a.until(() => a.of('assign').length === 1, 'the parent assigned');
    const b = gw.keep(
      await rawClient(w.url, { role: 'node', node: { kind: 'edge', name: 'b', resources: { cpu: 2, special: 1 }, storeBytes: 1 << 30 }, groups: true }),
    );
    a.send({ t: 'started', taskId: parent.taskId, attempt: 0, ex: 0 });
    const id = childTaskId(parent.taskId as TaskId, 0);
    const create = taskSpec(w.job, 0, 'C', {
      taskId: id,
      parentId: parent.taskId,
      fnId: w.fn.f.fnId,
      resources: { cpu: 1, special: 1 },
      scheduling: undefined,
      actor: { kind: 'create', id },
    });
    a.send({ t: 'submit', spec: create, local: true }, { t: 'sync', x: 1 });
    await a.until(() => a.of('sync').length === 1, 'sync');
    expect(a.of('error')).toEqual([]);
    await b.until(() => b.of('assign').some((m) => m.spec.taskId === id), 'the creation placed on b');
    expect(w.c.gcs.tasks.get(id)?.node?.name).toBe('b');
  });
});
