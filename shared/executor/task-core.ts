// The MeshCore a task's `mesh` talks through: its node runtime, by calls
// over the executor endpoint.
import type { ClusterInfo, Fetched, MeshCore } from '../api/core.js';
import type { EncodedValue } from '../codec.js';
import { GetTimeoutError, TabmeshError } from '../errors.js';
import { genPutIndex, PUTS_PER_GEN, type JobId, type ObjectId, type TaskId } from '../ids.js';
import type { EnvDecl, FunctionSource, TaskSpec } from '../protocol/messages.js';
import type { RuntimeContext } from '../api/types.js';
import type { ExecutorEnv, FunctionEnv } from './env.js';
import type { NodeCalls } from './node-calls.js';
import type { RunningTask } from './running.js';

/** What a task's core needs of its executor (ExecutorCore implements it). */
export interface TaskHost {
  /** Runtime envs loaded in this executor (issue 16). */
  readonly env: ExecutorEnv;
  readonly nodeId: string | null;
  /** Calls to the node runtime. */
  readonly calls: NodeCalls;
}

/** The MeshCore of a running task: it talks to the node runtime. */
export class TaskCore implements MeshCore {
  readonly jobId: JobId;
  readonly parentTask: TaskId;
  readonly held = null;
  constructor(
    private readonly ex: TaskHost,
    private readonly r: RunningTask,
    readonly inlineMax: number,
    private readonly env: FunctionEnv | undefined,
  ) {
    this.jobId = r.t.jobId;
    this.parentTask = r.t.taskId;
  }
  async importModule(name: string): Promise<unknown> {
    return this.ex.env.import(this.env, this.fnName(), name);
  }
  async wasmModule(name: string): Promise<WebAssembly.Module> {
    return this.ex.env.wasm(this.env, this.fnName(), name);
  }
  inheritedEnv(): EnvDecl[] | undefined {
    return this.env?.decls;
  }
  private fnName(): string {
    return this.r.t.name.split('.')[0];
  }
  nextSubmitIndex(): number {
    return this.r.submitIndex++;
  }
  get generation(): number {
    return this.r.t.gen;
  }
  context(): RuntimeContext {
    const t = this.r.t;
    return { jobId: t.jobId, taskId: t.taskId, nodeId: this.ex.nodeId, actorId: t.actor?.id ?? null, attempt: t.attempt };
  }
  nextPutIndex(): number {
    if (this.r.putIndex >= PUTS_PER_GEN) throw new TabmeshError('BAD_ARGUMENT', `a task may put at most ${PUTS_PER_GEN} objects`);
    return genPutIndex(this.r.t.gen, this.r.putIndex++);
  }
  registerFunction(f: FunctionSource): void {
    void this.ex.calls.call(this.r, { op: 'fn', f }, false);
  }
  submit(spec: TaskSpec): void {
    void this.ex.calls.call(this.r, { op: 'submit', spec }, false);
  }
  put(id: ObjectId, value: EncodedValue): void {
    // The bytes are the put's own (encodeValue): they move to the node.
    void this.ex.calls.call(this.r, { op: 'put', id, bytes: value.bytes, refs: value.refs }, false, [value.bytes]);
  }
  fetch(ids: ObjectId[], timeoutMs?: number): Promise<Fetched[]> {
    return this.ex.calls
      .blocking(this.r, () => this.ex.calls.call<Fetched[]>(this.r, { op: 'get', ids, timeoutMs }, true))
      .catch((e) => {
        if (e instanceof TabmeshError && e.code === 'GET_TIMEOUT') throw new GetTimeoutError(timeoutMs ?? 0, ids.length);
        throw e;
      });
  }
  async wait(ids: ObjectId[], numReturns: number, timeoutMs?: number): Promise<Set<ObjectId>> {
    const ready = await this.ex.calls.blocking(this.r, () => this.ex.calls.call<ObjectId[]>(this.r, { op: 'wait', ids, numReturns, timeoutMs }, true));
    return new Set(ready);
  }
  cancel(ids: readonly ObjectId[], force: boolean): void {
    for (const id of ids) void this.ex.calls.call(this.r, { op: 'cancel', id, force }, false);
  }
  getActor(name: string, ns?: string): Promise<{ id: string; className: string }> {
    return this.ex.calls.call(this.r, { op: 'getActor', name, ns }, true);
  }
  ask(q: 'nodes' | 'namedActors', o: { ns?: string; all?: boolean } = {}): Promise<ClusterInfo> {
    return this.ex.calls.call(this.r, { op: 'ask', q, ns: o.ns, all: o.all }, true);
  }
  killActor(id: string): void {
    void this.ex.calls.call(this.r, { op: 'killActor', id }, false);
  }
  borrow(): void {}
  release(): void {}
  async close(): Promise<void> {}
}
