// A call's TaskSpec (shared/api/task-spec.ts): refs nested inside inline argument values are listed once each, in
// the order first found; a call with none lists none (issue 14, session 21: no set made a task for them).
import { describe, expect, it } from 'vitest';
import { taskSpecOf } from '../../shared/api/task-spec.js';
import { ObjectRef } from '../../shared/api/ref.js';
import type { MeshCore } from '../../shared/api/core.js';
import { childTaskId, newJobId, returnObjectId, rootTaskId, type ObjectId } from '../../shared/ids.js';
import type { FunctionSource } from '../../shared/protocol/messages.js';

const jobId = newJobId();
const parentTask = rootTaskId(jobId);
const core = { jobId, parentTask, inlineMax: 64 * 1024 } as unknown as MeshCore;
const f = { fnId: 'ab'.repeat(16), kind: 'function', name: 'f', source: 'function f() {}' } as FunctionSource;
let n = 0;
const ref = (): ObjectRef => new ObjectRef(returnObjectId(childTaskId(parentTask, 1000 + n++), 0));
const spec = (args: unknown[]) =>
  taskSpecOf(core, { taskId: childTaskId(parentTask, n++), f, opts: {}, args }, () => {
    throw new Error('nothing here is large');
  });

describe('a call spec', () => {
  it('lists no nested refs when its inline values hold none, and a fresh list each time', () => {
    const a = spec([1, 'two', { three: 3 }]);
    const b = spec([]);
    expect(a.nested).toEqual([]);
    expect(b.nested).toEqual([]);
    expect(a.nested).not.toBe(b.nested);
  });

  it('lists each ref found inside its inline values once, in the order first found; top-level refs are arguments', () => {
    const [x, y, top] = [ref(), ref(), ref()];
    const s = spec([{ x, y }, [y, x], top]);
    expect(s.nested).toEqual([x.id, y.id] as ObjectId[]);
    expect(s.args[2]).toEqual({ r: top.id });
  });
});
