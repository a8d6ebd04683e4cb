// The runtime envs (issue 16) a mesh declares its functions with: a driver
// declares them (connect's job env, remote's `runtimeEnv`); a task's functions
// inherit the env of the task that declares them.
import { functionId } from '../ids.js';
import type { EnvDecl, FunctionSource } from '../protocol/messages.js';
import { EnvDeclarer, functionIdOf } from '../env/declare.js';
import { RuntimeEnvError, type EnvBundler, type ResolvedEnv, type RuntimeEnv } from '../env/env.js';
import type { MeshCore } from './core.js';

export class MeshEnvs {
  /** Set up by connect() on drivers; tasks inherit their function's. */
  private envs: EnvDeclarer | null = null;

  constructor(private readonly core: MeshCore) {}

  /** Called by connect(): the job's runtime env (already resolved) and the platform's bundler. */
  use(bundler: EnvBundler | undefined, job: ResolvedEnv | undefined): void {
    const core = this.core;
    if (!core.offerArtifact) throw new RuntimeEnvError('NOT_SUPPORTED', 'runtimeEnv is declared by drivers (mesh.remote or connect)');
    // An artifact is an object of the mesh, by content hash: the coordinator asks for its bytes only if no copy is held.
    this.envs = new EnvDeclarer(bundler, (hash, bytes) => core.offerArtifact!(hash, bytes), job);
    this.envs.declare(undefined);
  }

  /** `f` declared with `env` (or none: the job's, or the running task's). */
  declare(f: FunctionSource, env: RuntimeEnv | undefined): FunctionSource {
    return withEnv(f, this.declsFor(env));
  }

  /** The same function with another runtime env (`.options({ runtimeEnv })`). */
  reEnv(f: FunctionSource, env: RuntimeEnv): FunctionSource {
    const plain: FunctionSource = { fnId: functionId(f.kind, f.source), kind: f.kind, name: f.name, source: f.source };
    return withEnv(plain, this.declsFor(env));
  }

  private declsFor(env: RuntimeEnv | undefined): EnvDecl[] | undefined {
    if (env !== undefined && !this.envs) {
      throw new RuntimeEnvError(
        'NOT_SUPPORTED',
        'runtimeEnv is declared by drivers (mesh.remote or connect); functions a task declares use the runtime env of that task',
      );
    }
    return this.envs ? this.envs.declare(env) : this.core.inheritedEnv?.();
  }
}

function withEnv(f: FunctionSource, env: EnvDecl[] | undefined): FunctionSource {
  if (!env) return f;
  return { ...f, fnId: functionIdOf({ ...f, env }), env };
}
