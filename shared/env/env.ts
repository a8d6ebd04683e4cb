// Runtime environments of task code (issue 16): npm packages bundled to ES
// modules, inline ES modules and WebAssembly binaries that a task loads with
// `mesh.import(name)` / `mesh.wasm(name)`. This file checks what a driver
// declares and turns it into artifacts (bytes per executor platform), before
// any task runs; bundling itself is the platform's (edge/bundler.ts, esbuild).
import { TabmeshError } from '../errors.js';

/** What `mesh.remote(fn, { runtimeEnv })`, actor options and `connect({ runtimeEnv })` take. */
export interface RuntimeEnv {
  /** npm package names, optionally with a subpath (`lodash-es`, `@scope/pkg/sub`), bundled for the executors. Node drivers only. */
  packages?: string[];
  /** ES module source by name; it must be self-contained (no imports). */
  modules?: Record<string, string>;
  /** WebAssembly binaries by name: bytes, or a file path (Node drivers only). */
  wasm?: Record<string, Uint8Array | string>;
  /** Where packages resolve from (a folder with node_modules). Default: the driver's working directory. */
  root?: string;
  /** Largest bundle or binary, in bytes. Default 4 MiB. */
  maxBytes?: number;
}

export const DEFAULT_ENV_MAX_BYTES = 4 * 1024 * 1024;
/** Entries in one function's runtime env (the wire bound). */
export const MAX_ENV_ENTRIES = 64;

export type EnvKind = 'module' | 'wasm';

/** An artifact ready to upload: its bytes for browser executors and for edge executors (often the same). */
export interface ResolvedEntry {
  name: string;
  kind: EnvKind;
  browser: Uint8Array;
  edge: Uint8Array;
  /** What it came from, for messages: `package lodash-es`, `module util`, `wasm ./kernel.wasm`. */
  origin: string;
}

export interface ResolvedEnv {
  readonly resolved: true;
  entries: ResolvedEntry[];
}

export type RuntimeEnvReason =
  'BAD_INPUT' | 'NOT_INSTALLED' | 'BUILTIN_IMPORT' | 'TOO_LARGE' | 'INVALID_WASM' | 'NAME_COLLISION' | 'NOT_DECLARED' | 'NOT_SUPPORTED' | 'LOAD_FAILED';

/** A runtime env that cannot be used; `reason` is stable (tests assert on it). */
export class RuntimeEnvError extends TabmeshError {
  constructor(
    readonly reason: RuntimeEnvReason,
    message: string,
  ) {
    super('BAD_ARGUMENT', message);
  }
}

/** The platform's part: bundling packages and reading files (Node drivers; browsers have none). */
export interface EnvBundler {
  /** An ES module exporting the package's namespace, for `target`'s executors. Throws RuntimeEnvError. */
  bundle(spec: string, target: 'browser' | 'edge', root: string | undefined): string;
  /** Throws RuntimeEnvError when `source` is not a valid ES module. */
  checkModule?(name: string, source: string): void;
  readFile(path: string): Uint8Array;
}

const PACKAGE_RE = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(\/[\w.@-]+)*$/i;

/** An npm package name with an optional subpath. */
export function isPackageSpec(spec: string): boolean {
  return PACKAGE_RE.test(spec);
}
const NAME_RE = /^[^\s]{1,256}$/;
const KEYS = new Set(['packages', 'modules', 'wasm', 'root', 'maxBytes']);

const bad = (message: string): never => {
  throw new RuntimeEnvError('BAD_INPUT', `runtimeEnv: ${message}`);
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function isResolvedEnv(v: unknown): v is ResolvedEnv {
  return isRecord(v) && v.resolved === true && Array.isArray(v.entries);
}

/**
 * Checks a declared runtime env and makes its artifacts. Every bad input is a
 * RuntimeEnvError naming what is wrong, thrown here, at remote()/submit time.
 */
export function resolveEnv(env: RuntimeEnv, bundler: EnvBundler | undefined): ResolvedEnv {
  if (!isRecord(env)) bad('must be an object { packages?, modules?, wasm? }');
  for (const k of Object.keys(env)) if (!KEYS.has(k)) bad(`unknown key '${k}' (known: ${[...KEYS].join(', ')})`);
  const maxBytes = env.maxBytes ?? DEFAULT_ENV_MAX_BYTES;
  if (!(Number.isInteger(maxBytes) && maxBytes > 0)) bad('maxBytes must be a positive integer');
  if (env.root !== undefined && (typeof env.root !== 'string' || env.root === '')) bad('root must be a folder path');
  const entries: ResolvedEntry[] = [];
  const seen = new Map<string, string>();
  const claim = (name: string, origin: string) => {
    if (!NAME_RE.test(name)) bad(`'${name.slice(0, 80)}' is not a usable name (1 to 256 characters, no spaces)`);
    const before = seen.get(name);
    if (before) throw new RuntimeEnvError('NAME_COLLISION', `runtimeEnv: the name '${name}' is declared twice (${before} and ${origin})`);
    seen.set(name, origin);
  };
  const limit = (name: string, origin: string, bytes: Uint8Array, build: string) => {
    if (bytes.byteLength > maxBytes) {
      throw new RuntimeEnvError(
        'TOO_LARGE',
        `runtimeEnv: ${origin} is ${bytes.byteLength} bytes${build}, over the limit of ${maxBytes} bytes (runtimeEnv.maxBytes)`,
      );
    }
  };

  if (env.packages !== undefined) {
    if (!Array.isArray(env.packages)) bad('packages must be an array of npm package names');
    for (const spec of env.packages as unknown[]) {
      if (typeof spec !== 'string' || !PACKAGE_RE.test(spec)) bad(`packages: ${JSON.stringify(spec)} is not an npm package name (with an optional subpath)`);
      const name = spec as string;
      claim(name, `package ${name}`);
      if (!bundler) {
        throw new RuntimeEnvError(
          'NOT_SUPPORTED',
          `runtimeEnv: package ${name} needs a Node driver to bundle it (esbuild); from here, pass its bundled source in runtimeEnv.modules`,
        );
      }
      const enc = new TextEncoder();
      const browser = enc.encode(bundler.bundle(name, 'browser', env.root));
      limit(name, `package ${name}`, browser, ' (browser bundle)');
      const edgeSrc = bundler.bundle(name, 'edge', env.root);
      const edge = sameText(browser, edgeSrc) ? browser : enc.encode(edgeSrc);
      limit(name, `package ${name}`, edge, ' (edge bundle)');
      entries.push({ name, kind: 'module', browser, edge, origin: `package ${name}` });
    }
  }
  if (env.modules !== undefined) {
    if (!isRecord(env.modules)) bad('modules must be an object { name: "ES module source" }');
    for (const [name, source] of Object.entries(env.modules as Record<string, unknown>)) {
      claim(name, `module ${name}`);
      if (typeof source !== 'string') bad(`modules.${name} must be ES module source text`);
      bundler?.checkModule?.(name, source as string);
      const bytes = new TextEncoder().encode(source as string);
      limit(name, `module ${name}`, bytes, '');
      entries.push({ name, kind: 'module', browser: bytes, edge: bytes, origin: `module ${name}` });
    }
  }
  if (env.wasm !== undefined) {
    if (!isRecord(env.wasm)) bad('wasm must be an object { name: bytes or file path }');
    for (const [name, v] of Object.entries(env.wasm as Record<string, unknown>)) {
      const origin = typeof v === 'string' ? `wasm ${name} (${v})` : `wasm ${name}`;
      claim(name, origin);
      let bytes: Uint8Array;
      // Tag checks, not instanceof: a submitted job's program makes its arrays in another realm.
      const tag = Object.prototype.toString.call(v);
      // (and copied into this realm: the codec and the wire checks know this realm's Uint8Array only).
      if (tag === '[object Uint8Array]') bytes = v instanceof Uint8Array ? v : new Uint8Array(v as ArrayLike<number>);
      else if (tag === '[object ArrayBuffer]') bytes = new Uint8Array(v as ArrayBuffer);
      else if (typeof v === 'string') {
        if (!bundler) throw new RuntimeEnvError('NOT_SUPPORTED', `runtimeEnv: ${origin}: a file path needs a Node driver; pass the bytes instead`);
        try {
          bytes = bundler.readFile(v);
        } catch (e) {
          if (e instanceof RuntimeEnvError) throw e;
          throw new RuntimeEnvError('BAD_INPUT', `runtimeEnv: ${origin}: cannot read the file: ${(e as Error).message}`);
        }
      } else return bad(`wasm.${name} must be a Uint8Array or a file path`);
      limit(name, origin, bytes, '');
      checkWasm(origin, bytes);
      entries.push({ name, kind: 'wasm', browser: bytes, edge: bytes, origin });
    }
  }
  return { resolved: true, entries };
}

/** Invalid WASM is an error here, not in every executor later. */
export function checkWasm(origin: string, bytes: Uint8Array): void {
  let ok = false;
  try {
    ok = WebAssembly.validate(bytes);
  } catch {
    ok = false;
  }
  if (!ok) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    const magic =
      head === '00 61 73 6d'
        ? 'its header is right but its contents do not validate'
        : `it does not start with the WebAssembly magic number (00 61 73 6d) but ${head || 'nothing'}`;
    throw new RuntimeEnvError('INVALID_WASM', `runtimeEnv: ${origin} is not a valid WebAssembly module (${bytes.byteLength} bytes; ${magic})`);
  }
}

/** Joins a job's env and a function's, refusing a name both declare. */
export function mergeEnvs(job: ResolvedEnv | undefined, fn: ResolvedEnv | undefined): ResolvedEnv | undefined {
  if (!job) return fn;
  if (!fn) return job;
  const names = new Map(job.entries.map((e) => [e.name, e.origin]));
  for (const e of fn.entries) {
    const before = names.get(e.name);
    if (before)
      throw new RuntimeEnvError(
        'NAME_COLLISION',
        `runtimeEnv: the name '${e.name}' is declared by the job (connect: ${before}) and by the function (${e.origin})`,
      );
  }
  return { resolved: true, entries: [...job.entries, ...fn.entries] };
}

function sameText(bytes: Uint8Array, text: string): boolean {
  if (bytes.byteLength < text.length) return false;
  const other = new TextEncoder().encode(text);
  if (other.byteLength !== bytes.byteLength) return false;
  for (let i = 0; i < other.length; i++) if (other[i] !== bytes[i]) return false;
  return true;
}
