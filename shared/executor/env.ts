// Runtime envs inside an executor (issue 16): each artifact's bytes arrive
// once, with the first task of a function that declares it; a module is
// evaluated and a WASM binary compiled once per executor (by content hash),
// on the first mesh.import / mesh.wasm, and cached. Module code runs in the
// executor's global scope, so the executor's sandbox applies to it as it does
// to task code.
import { RuntimeEnvError } from '../env/env.js';
import type { EnvDecl } from '../protocol/messages.js';
import type { RunEnv } from './protocol.js';

/** Evaluates ES module source (a blob: URL in browsers, a data: URL in worker_threads). */
export type ModuleLoader = (bytes: Uint8Array, label: string) => Promise<unknown>;

/** A function's env as its tasks see it. */
export interface FunctionEnv {
  decls: EnvDecl[];
  side: 'b' | 'e';
}

/** Globals a module might expect that executors do not have: a ReferenceError on one says so. */
const DOM_GLOBALS = /^(document|window|localStorage|sessionStorage|HTMLElement|Element|Node|alert|location|history)$/;

export class ExecutorEnv {
  private readonly bytes = new Map<string, Uint8Array>();
  private readonly modules = new Map<string, Promise<unknown>>();
  private readonly wasms = new Map<string, Promise<WebAssembly.Module>>();

  constructor(private readonly loader: ModuleLoader | undefined) {}

  /** Takes the env sent with a function's first task; returns what its tasks use. */
  accept(env: RunEnv): FunctionEnv {
    for (const b of env.bytes) if (!this.modules.has(b.hash) && !this.wasms.has(b.hash)) this.bytes.set(b.hash, b.bytes);
    return { decls: env.decls, side: env.side };
  }

  import(env: FunctionEnv | undefined, fnName: string, name: string): Promise<unknown> {
    const d = this.find(env, fnName, name, 'module');
    const hash = d[env!.side].hash;
    let p = this.modules.get(hash);
    if (!p) {
      const src = this.take(hash, name);
      const loader = this.loader;
      if (!loader) return Promise.reject(new RuntimeEnvError('NOT_SUPPORTED', `this executor cannot load ES modules (module '${name}')`));
      p = loader(src, name).catch((e: unknown) => {
        this.modules.delete(hash);
        this.bytes.set(hash, src);
        throw loadFailed(name, e);
      });
      this.modules.set(hash, p);
    }
    return p;
  }

  wasm(env: FunctionEnv | undefined, fnName: string, name: string): Promise<WebAssembly.Module> {
    const d = this.find(env, fnName, name, 'wasm');
    const hash = d[env!.side].hash;
    let p = this.wasms.get(hash);
    if (!p) {
      const bin = this.take(hash, name);
      p = WebAssembly.compile(bin).catch((e: unknown) => {
        this.wasms.delete(hash);
        this.bytes.set(hash, bin);
        throw new RuntimeEnvError('LOAD_FAILED', `compiling WebAssembly '${name}' failed in this executor: ${(e as Error)?.message ?? e}`);
      });
      this.wasms.set(hash, p);
    }
    return p;
  }

  private find(env: FunctionEnv | undefined, fnName: string, name: string, kind: 'module' | 'wasm'): EnvDecl {
    const call = kind === 'module' ? `mesh.import('${name}')` : `mesh.wasm('${name}')`;
    if (typeof name !== 'string') throw new RuntimeEnvError('BAD_INPUT', `${call}: the name must be a string`);
    const d = env?.decls.find((x) => x.name === name);
    if (!d) {
      const names = env?.decls.map((x) => `'${x.name}' (${x.kind})`).join(', ');
      throw new RuntimeEnvError(
        'NOT_DECLARED',
        `${call}: '${name}' is not in the runtime env of ${fnName} (${names ? `it declares ${names}` : 'it declares none'}); declare it in runtimeEnv of mesh.remote or connect`,
      );
    }
    if (d.kind !== kind) {
      throw new RuntimeEnvError(
        'NOT_DECLARED',
        `${call}: '${name}' is declared as ${d.kind === 'wasm' ? 'WebAssembly: use mesh.wasm' : 'a module: use mesh.import'}`,
      );
    }
    return d;
  }

  private take(hash: string, name: string): Uint8Array {
    const b = this.bytes.get(hash);
    if (!b) throw new RuntimeEnvError('LOAD_FAILED', `the bytes of '${name}' (${hash.slice(0, 12)}) never reached this executor`);
    // Once evaluated or compiled, the cache keeps the result, not the bytes.
    this.bytes.delete(hash);
    return b;
  }
}

function loadFailed(name: string, e: unknown): RuntimeEnvError {
  const err = e as Error;
  const m = err instanceof ReferenceError ? /^(\S+) is not defined$/.exec(err.message) : null;
  const hint = m && DOM_GLOBALS.test(m[1]) ? ` (module code runs in an executor, a worker with no DOM: '${m[1]}' does not exist there)` : '';
  return new RuntimeEnvError('LOAD_FAILED', `loading module '${name}' failed in this executor: ${err?.name ?? 'Error'}: ${err?.message ?? String(e)}${hint}`);
}
