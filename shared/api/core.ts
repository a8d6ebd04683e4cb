// The seam between the user-facing Mesh and where it runs: a driver talks to
// the coordinator over a WebSocket (DriverCore), a task talks to its node's
// runtime through the executor port (TaskCore). Both implement MeshCore.
import type { JobId, ObjectId, TaskId } from '../ids.js';
import type { EncodedValue } from '../codec.js';
import type { Failure } from '../errors.js';
import type { EnvDecl, FunctionSource, MsgOf, TaskSpec } from '../protocol/messages.js';
import type { RuntimeContext } from './types.js';
import type { HeldObjects } from './held-objects.js';

/** The coordinator's answer to a cluster question: its nodes, or its named actors. */
export type ClusterInfo = Pick<MsgOf<'info'>, 'nodes' | 'actors'>;

/** An object's content as a reader gets it: bytes, or why there are none. */
export type Fetched = { bytes: Uint8Array; failure?: undefined } | { failure: Failure; bytes?: undefined };

export interface MeshCore {
  readonly jobId: JobId;
  /** The task that submits: a driver's root task, or the running task. */
  readonly parentTask: TaskId;
  /** The submitting task's retry generation (0 for a driver): its children's ids derive from it. */
  readonly generation: number;
  /** Where the calling code runs. */
  context(): RuntimeContext;
  /** Largest value passed inline in a task spec. */
  readonly inlineMax: number;
  /** A driver's records of the objects it holds, where its handles are counted (tracked with a FinalizationRegistry); null in a task, whose handles are released at task end. */
  readonly held: HeldObjects | null;
  nextSubmitIndex(): number;
  nextPutIndex(): number;
  registerFunction(f: FunctionSource): void;
  /** `key`, `index`: a remote function's call (that function with its options; the parent's submit index of `spec`): a driver may group it (driver-groups.ts). */
  submit(spec: TaskSpec, key?: object, index?: number): void;
  put(id: ObjectId, value: EncodedValue): void;
  /** Drivers: the bytes of a runtime env artifact its job declares (issue 16), kept to put when the coordinator asks. */
  offerArtifact?(hash: string, bytes: Uint8Array): void;
  /** Content of each object, in order; rejects with GetTimeoutError after timeoutMs. */
  fetch(ids: ObjectId[], timeoutMs?: number): Promise<Fetched[]>;
  /** Resolves with the ids that are ready once `numReturns` are, or at the timeout. */
  wait(ids: ObjectId[], numReturns: number, timeoutMs?: number): Promise<Set<ObjectId>>;
  /** Cancels the tasks making `ids` (a driver's group members among them are materialized in one message a group). */
  cancel(ids: readonly ObjectId[], force: boolean): void;
  borrow(ids: ObjectId[]): void;
  /** A named actor's id and class; the caller then holds a handle to it. */
  getActor(name: string, namespace?: string): Promise<{ id: string; className: string }>;
  /** Cluster info (Ray's nodes(), list_named_actors): `namespace` unset means the job's. */
  ask(q: 'nodes' | 'namedActors', o?: { ns?: string; all?: boolean }): Promise<ClusterInfo>;
  killActor(id: string): void;
  release(ids: ObjectId[]): void;
  close(): Promise<void>;
  /** Runtime envs (issue 16), inside tasks only: a module's namespace, a compiled WASM module, the running function's env. */
  importModule?(name: string): Promise<unknown>;
  wasmModule?(name: string): Promise<WebAssembly.Module>;
  inheritedEnv?(): EnvDecl[] | undefined;
}
