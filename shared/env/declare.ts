// A driver's side of runtime envs (issue 16): resolves what a job or a
// function declares, offers each artifact once to the mesh (an object whose id
// derives from its content hash; the coordinator asks for the bytes only when
// the mesh holds no copy), and gives the function table the declarations nodes
// load before a function's first task.
import { contentHash } from '../hash.js';
import { artifactObjectId, functionId, type FunctionId } from '../ids.js';
import type { EnvDecl, FunctionSource } from '../protocol/messages.js';
import { isResolvedEnv, mergeEnvs, resolveEnv, type EnvBundler, type ResolvedEntry, type ResolvedEnv, type RuntimeEnv } from './env.js';

/** Offers an artifact's bytes to the mesh for the job's life (the driver keeps them to put when asked). */
export type ArtifactOffer = (hash: string, bytes: Uint8Array) => void;

export class EnvDeclarer {
  private readonly uploaded = new Map<string, EnvDecl['b']>();
  /** Resolved envs by the RuntimeEnv object given (a remote function's options are reused across .options()). */
  private readonly resolved = new WeakMap<object, ResolvedEnv>();
  private jobDecls: EnvDecl[] | undefined;

  constructor(
    private readonly bundler: EnvBundler | undefined,
    private readonly offer: ArtifactOffer,
    private readonly job: ResolvedEnv | undefined,
  ) {}

  /** Resolves a job's env before connecting: bad input fails connect() at once. */
  static resolveJob(env: RuntimeEnv | ResolvedEnv | undefined, bundler: EnvBundler | undefined): ResolvedEnv | undefined {
    if (env === undefined) return undefined;
    return isResolvedEnv(env) ? env : resolveEnv(env, bundler);
  }

  /** The declarations of a function: the job's env plus its own (a name in both is a collision). */
  declare(fnEnv: RuntimeEnv | undefined): EnvDecl[] | undefined {
    if (fnEnv === undefined) return (this.jobDecls ??= this.job?.entries.length ? this.job.entries.map((e) => this.upload(e)) : undefined);
    let own = typeof fnEnv === 'object' && fnEnv !== null ? this.resolved.get(fnEnv) : undefined;
    if (!own) {
      own = resolveEnv(fnEnv, this.bundler);
      this.resolved.set(fnEnv, own);
    }
    const all = mergeEnvs(this.job, own);
    return all?.entries.length ? all.entries.map((e) => this.upload(e)) : undefined;
  }

  private upload(e: ResolvedEntry): EnvDecl {
    return { name: e.name, kind: e.kind, b: this.artifact(e.browser), e: e.edge === e.browser ? this.artifact(e.browser) : this.artifact(e.edge) };
  }

  private artifact(bytes: Uint8Array): EnvDecl['b'] {
    const hash = contentHash(bytes);
    let a = this.uploaded.get(hash);
    if (!a) {
      a = { id: artifactObjectId(hash), hash, size: bytes.byteLength };
      this.offer(hash, bytes);
      this.uploaded.set(hash, a);
    }
    return a;
  }
}

/** What a function's id adds for its env: the same source with another env is another function. */
export function envDigest(env: EnvDecl[] | undefined): string {
  if (!env?.length) return '';
  return '\0env\0' + env.map((d) => `${d.name}\0${d.kind}\0${d.b.hash}\0${d.e.hash}`).join('\0');
}

/** FunctionId = hash(kind, source, env): what the coordinator checks a function's id against. */
export function functionIdOf(f: Pick<FunctionSource, 'kind' | 'source' | 'env'>): FunctionId {
  return functionId(f.kind, f.source + envDigest(f.env));
}
