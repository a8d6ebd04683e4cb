// A submitted job's runtime env (issue 16): what POST /api/jobs, the CLI's
// --package / --wasm / --module and the dashboard declare. It is resolved here,
// at submit time, so that a bad one is a 400 before any worker starts: packages
// from the coordinator's folder, WASM as base64 (a job never names files on the
// coordinator), modules as source. Bundling runs in esbuild's own process
// through its async API, so the coordinator answers meanwhile.
import { esbuildBundler } from '../../edge/bundler.js';
import { resolveEnv, RuntimeEnvError, type ResolvedEnv } from '../../shared/env/env.js';
import { JobError } from './job-error.js';

export interface JobRuntimeEnv {
  packages?: string[];
  modules?: Record<string, string>;
  /** name → base64 of the binary */
  wasm?: Record<string, string>;
  /** The largest bundle or binary, in bytes (runtimeEnv.maxBytes; default 4 MiB). */
  maxBytes?: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
let bundler: ReturnType<typeof esbuildBundler> | null = null;

export async function resolveJobEnv(env: JobRuntimeEnv | undefined): Promise<ResolvedEnv | undefined> {
  if (env === undefined) return undefined;
  const bad = (message: string): never => {
    throw new JobError('BAD_JOB', 400, message);
  };
  if (env === null || typeof env !== 'object' || Array.isArray(env)) bad('"runtimeEnv" must be an object { packages?, modules?, wasm? }');
  for (const k of Object.keys(env))
    if (!['packages', 'modules', 'wasm', 'maxBytes'].includes(k)) bad(`"runtimeEnv" has an unknown key '${k}' (known: packages, modules, wasm, maxBytes)`);
  let wasm: Record<string, Uint8Array> | undefined;
  if (env.wasm !== undefined) {
    if (env.wasm === null || typeof env.wasm !== 'object' || Array.isArray(env.wasm)) bad('"runtimeEnv.wasm" must be an object { name: base64 }');
    wasm = {};
    for (const [name, b64] of Object.entries(env.wasm)) {
      if (typeof b64 !== 'string' || b64.length % 4 !== 0 || !BASE64.test(b64)) bad(`"runtimeEnv.wasm.${name}" must be the binary in base64`);
      wasm[name] = new Uint8Array(Buffer.from(b64, 'base64'));
    }
  }
  const b = (bundler ??= esbuildBundler({ files: false }));
  try {
    if (Array.isArray(env.packages) || (env.modules && typeof env.modules === 'object')) {
      await b.prepare({ packages: Array.isArray(env.packages) ? env.packages : [], modules: env.modules ?? {} });
    }
    return resolveEnv({ packages: env.packages, modules: env.modules, wasm, maxBytes: env.maxBytes }, b);
  } catch (e) {
    if (e instanceof RuntimeEnvError) bad(e.message);
    throw e;
  }
}
