// A driver's side of runtime envs (issue 16): resolves what a job or a
// function declares, uploads each artifact once (as an object of the job whose
// content hash is the artifact's hash), and gives the function table the
// declarations nodes load before a function's first task.
import { contentHash } from '../hash.js';
import { functionId, type FunctionId } from '../ids.js';
import type { EnvDecl, FunctionSource } from '../protocol/messages.js';
import { isResolvedEnv, mergeEnvs, resolveEnv, type EnvBundler, type ResolvedEntry, type ResolvedEnv, type RuntimeEnv } from './env.js';

/** Puts raw artifact bytes as an object of the job and holds it for the job's life; returns its id. */
export type ArtifactPut = (bytes: Uint8Array) => string;

export class EnvDeclarer {
  private readonly uploaded = new Map<string, EnvDecl['b']>();
  /** Resolved envs by the RuntimeEnv object given (a remote function's options are reused across .options()). */
  private readonly resolved = new WeakMap<object, ResolvedEnv>();
  private jobDecls: EnvDecl[] | undefined;

  constructor(
    private readonly bundler: EnvBundler | undefined,
    private readonly put: ArtifactPut,
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
      a = { id: this.put(bytes) as EnvDecl['b']['id'], hash, size: bytes.byteLength };
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
