// The TaskSpec of a call (ARCHITECTURE.md, "A task's life", step 1): small
// argument values inline, large ones put first, refs as refs; resources and
// options with their defaults.
import { encodeValue, type EncodedValue } from '../codec.js';
import type { ObjectId, TaskId } from '../ids.js';
import type { Arg, FunctionSource, TaskSpec } from '../protocol/messages.js';
import type { MeshCore } from './core.js';
import { DEFAULTS, normalizeScheduling, verifyOf } from './options.js';
import { ObjectRef } from './ref.js';
import type { RemoteOptions } from './types.js';

export interface SpecRequest {
  taskId: TaskId;
  f: FunctionSource;
  opts: RemoteOptions;
  args: unknown[];
  /** Resources of an actor's creation (replacing the options' own). */
  resourcesOverride?: Record<string, number>;
  actor?: TaskSpec['actor'];
  /** The actor a method call goes to. */
  actorRef?: ObjectRef;
  /** The mesh's default `verify` (the job's, issue 8). */
  verify?: RemoteOptions['verify'];
}

/** Builds the spec; `putLarge` stores an argument too large to travel inline and returns its id. */
export function taskSpecOf(core: MeshCore, r: SpecRequest, putLarge: (enc: EncodedValue) => ObjectId): TaskSpec {
  const { taskId, f, opts } = r;
  const specArgs: Arg[] = [];
  // Made at the first ref found inside an inline value: most tasks have none (a set and its spread a task, issue 14).
  let nested: Set<ObjectId> | null = null;
  for (const a of r.args) {
    if (a instanceof ObjectRef) {
      specArgs.push({ r: a.id });
      continue;
    }
    const enc = encodeValue(a);
    if (enc.bytes.byteLength > core.inlineMax) {
      specArgs.push({ r: putLarge(enc) });
    } else {
      specArgs.push({ v: enc.bytes });
      for (const id of enc.refs) (nested ??= new Set()).add(id);
    }
  }
  let resources: Record<string, number> = { ...(opts.resources ?? {}) };
  resources.cpu = opts.numCpus ?? DEFAULTS.numCpus;
  if (r.resourcesOverride) resources = r.resourcesOverride;
  // Method calls name no function of their own: the node runs them on the instance.
  const fnId = f.fnId || (r.actorRef ? (r.actorRef.id.slice(0, 32) as TaskSpec['fnId']) : f.fnId);
  return {
    taskId,
    jobId: core.jobId,
    parentId: core.parentTask,
    fnId,
    name: opts.name ?? f.name,
    args: specArgs,
    nested: nested ? [...nested] : [],
    numReturns: opts.numReturns ?? DEFAULTS.numReturns,
    resources,
    maxRetries: opts.maxRetries ?? DEFAULTS.maxRetries,
    attempt: 0,
    timeoutMs: opts.timeoutMs ?? DEFAULTS.timeoutMs,
    scheduling: normalizeScheduling(opts.scheduling),
    actor: r.actor,
    retryExceptions: opts.retryExceptions || undefined,
    verify: verifyOf(r.actor ? undefined : (opts.verify ?? r.verify)),
  };
}
