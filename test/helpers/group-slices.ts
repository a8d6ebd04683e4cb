// Task group slices as a coordinator sends them (assignGroup) and their reports as a node sends them (groupDone):
// the unit tests of a node's groups (test/unit/node-groups*.test.ts) share them.
import { expect } from 'vitest';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { childTaskId, functionId, newJobId, rootTaskId, type TaskId } from '../../shared/ids.js';
import type { FunctionSource, MsgOf } from '../../shared/protocol/messages.js';
import type { NodeRuntime } from '../../shared/node/runtime.js';
import type { SpawnExecutor } from '../../shared/node/executors.js';
import { nodeOnFakeSocket, type FakeCoordinatorSocket } from './node-socket.js';

export const jobId = newJobId();
export const root = rootTaskId(jobId);
const open: NodeRuntime[] = [];
/** Closes the nodes `joined` made (a test file's afterEach). */
export async function closeJoined(): Promise<void> {
  for (const n of open.splice(0)) await n.close();
}

export async function joined(cpus = 2, inlineMax = 64 * 1024, spawn?: SpawnExecutor): Promise<{ node: NodeRuntime; ws: FakeCoordinatorSocket }> {
  const r = await nodeOnFakeSocket(cpus, inlineMax, spawn);
  open.push(r.node);
  return r;
}

export function fnOf(source: string): FunctionSource {
  return { fnId: functionId('function', source), kind: 'function', name: 'f', source };
}

/** Members `idx` of the group whose member 0 is the parent's submit `first`, each with its one argument. */
export function slice(f: FunctionSource, first: number, idx: number[], args: unknown[], s = 0, attempt = 0): MsgOf<'assignGroup'> {
  const spec: MsgOf<'assignGroup'>['spec'] = {
    taskId: childTaskId(root, first),
    jobId,
    parentId: root,
    fnId: f.fnId,
    name: 'f',
    args: [],
    nested: [],
    numReturns: 1,
    resources: { cpu: 1 },
    maxRetries: 0,
    attempt,
    timeoutMs: 0,
  };
  return { t: 'assignGroup', spec, first, s, attempt, idx, args: args.map((a) => [encodeValue(a).bytes]), fn: f };
}

/** Every ended member of group `g` (slice `s`) as reported: ok values by index, failures by index. */
export function reported(
  ws: FakeCoordinatorSocket,
  g: TaskId,
  s = 0,
): { ok: Map<number, unknown>; failed: Map<number, MsgOf<'groupDone'>['results'][number] | { code: string; message: string; taskId: string }> } {
  const ok = new Map<number, unknown>();
  const failed = new Map<number, { code: string; message: string; taskId: string }>();
  for (const d of ws.of('groupDone')) {
    if (d.g !== g || d.s !== s) continue;
    d.ok.forEach((i, k) => {
      expect(ok.has(i) || failed.has(i)).toBe(false); // each member once
      const r = d.results[k];
      ok.set(i, r.v ? decodeValue(r.v) : r);
    });
    for (const f of d.failed ?? []) {
      expect(ok.has(f.i) || failed.has(f.i)).toBe(false);
      failed.set(f.i, f.failure);
    }
  }
  return { ok, failed };
}

export const ids = (n: number, from = 0) => Array.from({ length: n }, (_, k) => from + k);
