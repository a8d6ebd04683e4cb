// A node's side of direct submission (shared/node/direct-tasks.ts): a task a driver pushed over its link that the node
// refuses. The coordinator counts the node as holding the function the driver's frame carried from the driver's
// submit on (coordinator/scheduler/tasks.ts submit) and may place a task or a group of that function there without
// its source before the refusal reaches it (session 27: "executor has no source", a TaskError): a node refusing a
// leased job's task for want of a slot keeps its function; a frame from a job without a lease here leaves nothing.
import { describe, expect, it } from 'vitest';
import { DirectTasks, type DirectContext } from '../../shared/node/direct-tasks.js';
import { functionIdOf } from '../../shared/env/declare.js';
import { newJobId, newNodeId } from '../../shared/ids.js';
import { encodeFrame } from '../../shared/protocol/frame.js';
import type { FunctionSource, TaskSpec } from '../../shared/protocol/messages.js';
import { taskSpec } from '../helpers/task-record.js';

const nodeId = newNodeId();
const source = '(x) => x + 1';
const fn: FunctionSource = { fnId: functionIdOf({ kind: 'function', source }), kind: 'function', name: 'inc', source };

function node(free: boolean) {
  const refusals: Uint8Array[] = [];
  const admitted: TaskSpec[] = [];
  const ctx = {
    tasks: { get: () => undefined, admit: (spec: TaskSpec) => admitted.push(spec) },
    local: { hasFreeSlot: () => free },
    fns: new Map<string, FunctionSource>(),
    links: { sendDirect: (_peer: string, b: Uint8Array) => (refusals.push(b), true) },
    paused: false,
    nodeId,
    log: () => {},
    flushLater: () => {},
  } as unknown as DirectContext;
  return { direct: new DirectTasks(ctx), ctx, refusals, admitted };
}

/** The frame a driver of `job` sends: the function's source, then the task. */
function frame(job: ReturnType<typeof newJobId>) {
  const spec = taskSpec(job, 0, 'inc', { fnId: fn.fnId, scheduling: undefined });
  return {
    k: 'task' as const,
    frame: encodeFrame(
      [
        { t: 'fn', f: fn },
        { t: 'submit', spec, to: nodeId },
      ],
      true,
    ),
  };
}

describe("a node's refusal of a direct task", () => {
  it("a busy node refuses a leased job's task but keeps the function its frame carried", () => {
    const job = newJobId();
    const { direct, ctx, refusals, admitted } = node(false);
    direct.lease({ t: 'lease', peer: job, on: true });
    direct.onLink(job, frame(job));
    expect(refusals).toHaveLength(1);
    expect(admitted).toHaveLength(0);
    expect(direct.counts.refused).toBe(1);
    expect(ctx.fns.get(fn.fnId)?.source).toBe(source);
  });

  it('a node with a free slot takes the task and its function', () => {
    const job = newJobId();
    const { direct, ctx, refusals, admitted } = node(true);
    direct.lease({ t: 'lease', peer: job, on: true });
    direct.onLink(job, frame(job));
    expect(refusals).toHaveLength(0);
    expect(admitted).toHaveLength(1);
    expect(ctx.fns.has(fn.fnId)).toBe(true);
  });

  it('a frame of a job that holds no lease here is refused and leaves no function', () => {
    const job = newJobId();
    const { direct, ctx, refusals } = node(true);
    direct.onLink(job, frame(job));
    expect(refusals).toHaveLength(1);
    expect(ctx.fns.size).toBe(0);
  });
});
