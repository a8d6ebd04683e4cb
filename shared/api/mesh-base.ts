// What a mesh answers about the cluster and the calling code (issue 2): named
// actors, nodes and their resources, the runtime context, a task's runtime
// env modules. The Mesh (mesh.ts) adds tasks, actors and objects on top.
import { TabmeshError } from '../errors.js';
import { RuntimeEnvError } from '../env/env.js';
import type { MeshCore } from './core.js';
import { sumOf } from './options.js';
import type { NodeInfo, RuntimeContext } from './types.js';

export class MeshBase {
  protected closed = false;

  constructor(readonly core: MeshCore) {}

  get jobId(): string {
    return this.core.jobId;
  }

  /** Inside a task: the module `name` of its runtime env (its namespace; loaded once per executor). */
  import<T = any>(name: string): Promise<T> {
    if (!this.core.importModule) return Promise.reject(new RuntimeEnvError('NOT_SUPPORTED', `mesh.import('${name}') works inside tasks only`));
    return this.core.importModule(name) as Promise<T>;
  }

  /** Inside a task: the WebAssembly binary `name` of its runtime env, compiled once per executor. */
  wasm(name: string): Promise<WebAssembly.Module> {
    if (!this.core.wasmModule) return Promise.reject(new RuntimeEnvError('NOT_SUPPORTED', `mesh.wasm('${name}') works inside tasks only`));
    return this.core.wasmModule(name);
  }

  /** Names of the live named actors in this job's namespace; with allNamespaces, every one with its namespace (Ray's list_named_actors). */
  listNamedActors(): Promise<string[]>;
  listNamedActors(options: { allNamespaces: true }): Promise<{ name: string; namespace: string }[]>;
  async listNamedActors(options: { allNamespaces?: boolean } = {}): Promise<string[] | { name: string; namespace: string }[]> {
    this.assertOpen();
    const { actors = [] } = await this.core.ask('namedActors', { all: !!options.allNamespaces });
    return options.allNamespaces ? actors : actors.map((a) => a.name);
  }

  /** The mesh's live nodes: id, name, kind, resources, and what is free of them now (Ray's ray.nodes()). */
  async nodes(): Promise<NodeInfo[]> {
    this.assertOpen();
    const { nodes = [] } = await this.core.ask('nodes');
    return nodes.map((n) => ({ nodeId: n.nodeId, name: n.name, kind: n.kind, alive: n.alive, resources: n.resources, available: n.available }));
  }

  /** Every resource of the live nodes, summed (Ray's cluster_resources(); CPUs are `cpu`). */
  async clusterResources(): Promise<Record<string, number>> {
    return sumOf((await this.nodes()).map((n) => n.resources));
  }

  /** What is free now of every resource, summed over the live nodes (Ray's available_resources()). */
  async availableResources(): Promise<Record<string, number>> {
    return sumOf((await this.nodes()).map((n) => n.available));
  }

  /** Where the calling code runs: job, task, node, actor and attempt (Ray's get_runtime_context()). */
  runtimeContext(): RuntimeContext {
    this.assertOpen();
    return this.core.context();
  }

  protected assertOpen(): void {
    if (this.closed) throw new TabmeshError('CLOSED', 'this mesh connection is closed');
  }
}
