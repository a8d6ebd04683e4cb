// Bundling runtime env packages (issue 16) with esbuild, in the Node driver:
// a package and its dependencies become one self-contained ES module, one
// build for browser executors and one for edge executors (worker_threads).
// Neither may use Node built-ins (executors have none to give): an import of
// one fails here, naming the package that made it. Synchronous (buildSync) in
// a driver, so that mesh.remote() reports a bad package before it returns; the
// coordinator bundles a submitted job's packages with `prepare` first (esbuild's
// async API: the work runs in esbuild's process, the event loop stays free).
import { build, buildSync, type BuildOptions, type Message, type Metafile } from 'esbuild';
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { isPackageSpec, RuntimeEnvError, type EnvBundler } from '../shared/env/env.js';

const BUILTINS = new Set(builtinModules);

function isBuiltin(spec: string): boolean {
  return spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]);
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The package a bundled file belongs to, from its path (the last node_modules segment). */
function packageOfFile(file: string | undefined, fallback: string): string {
  if (!file) return fallback;
  const i = file.lastIndexOf('node_modules/');
  if (i < 0) return fallback;
  return packageName(file.slice(i + 'node_modules/'.length));
}

function where(m: Message, dir: string): string {
  const l = m.location;
  if (!l) return '';
  const file = l.file.startsWith('runtimeEnv:') ? l.file : relative(dir, l.file);
  return ` (${file}:${l.line}: ${l.lineText.trim().slice(0, 120)})`;
}

function explain(spec: string, target: string, dir: string, errors: Message[]): RuntimeEnvError {
  for (const m of errors) {
    const unresolved = /^Could not resolve "([^"]+)"/.exec(m.text);
    if (!unresolved) continue;
    const imported = unresolved[1];
    const fromEntry = m.location?.file.startsWith('runtimeEnv:') ?? false;
    if (fromEntry) {
      return new RuntimeEnvError(
        'NOT_INSTALLED',
        `runtimeEnv: package ${spec} is not installed where the driver resolves packages (${dir}): npm install ${packageName(spec)}, or set runtimeEnv.root`,
      );
    }
    const importer = packageOfFile(m.location?.file, spec);
    if (isBuiltin(imported)) {
      return new RuntimeEnvError(
        'BUILTIN_IMPORT',
        `runtimeEnv: package ${spec} cannot run in an executor: ${importer === spec ? 'it' : importer} imports the Node built-in '${imported}'${where(m, dir)}; executors have no Node built-ins, file system or network`,
      );
    }
    return new RuntimeEnvError('NOT_INSTALLED', `runtimeEnv: package ${spec}: ${importer} imports '${imported}', which is not installed${where(m, dir)}`);
  }
  const first = errors[0];
  return new RuntimeEnvError(
    'BAD_INPUT',
    `runtimeEnv: package ${spec} does not bundle for ${target} executors: ${first?.text ?? 'unknown esbuild error'}${first ? where(first, dir) : ''}`,
  );
}

/**
 * esbuild's bundler for runtime envs; bundles are cached per package, target
 * and root. `files: false` (submitted jobs, which run on the coordinator):
 * no WASM file paths and no other root than the coordinator's folder.
 */
export function esbuildBundler(opts: { files?: boolean } = {}): EnvBundler & { prepare: PrepareEnv } {
  const cache = new Map<string, string>();
  /** Inline module sources checked: null when fine. */
  const checked = new Map<string, RuntimeEnvError | null>();
  const files = opts.files ?? true;
  return {
    bundle(spec, target, root) {
      if (root !== undefined && !files) {
        throw new RuntimeEnvError('NOT_SUPPORTED', `runtimeEnv.root is not available to submitted jobs: packages resolve from the coordinator's folder`);
      }
      const dir = resolve(root ?? process.cwd());
      const key = `${target}\0${dir}\0${spec}`;
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      let code: string;
      try {
        code = buildSync(bundleOptions(spec, target, dir)).outputFiles[0]?.text ?? '';
      } catch (e) {
        throw failure(spec, target, dir, e);
      }
      cache.set(key, code);
      return code;
    },

    checkModule(name, source) {
      const key = `${name}\0${source}`;
      const known = checked.get(key);
      if (known) throw known;
      if (known === null) return;
      let out;
      try {
        out = buildSync(moduleOptions(name, source));
        moduleImports(name, out.metafile);
      } catch (e) {
        throw remember(checked, key, e instanceof RuntimeEnvError ? e : moduleFailure(name, e));
      }
      remember(checked, key, null);
    },

    async prepare(env, root) {
      if (root !== undefined && !files) {
        throw new RuntimeEnvError('NOT_SUPPORTED', `runtimeEnv.root is not available to submitted jobs: packages resolve from the coordinator's folder`);
      }
      const dir = resolve(root ?? process.cwd());
      const builds: Promise<void>[] = [];
      for (const spec of env.packages ?? []) {
        if (typeof spec !== 'string' || !isPackageSpec(spec)) continue; // resolveEnv says what is wrong with it
        for (const target of ['browser', 'edge'] as const) {
          const key = `${target}\0${dir}\0${spec}`;
          if (cache.has(key)) continue;
          builds.push(
            build(bundleOptions(spec, target, dir)).then(
              (out) => void cache.set(key, out.outputFiles[0]?.text ?? ''),
              (e: unknown) => {
                throw failure(spec, target, dir, e);
              },
            ),
          );
        }
      }
      for (const [name, source] of Object.entries(env.modules ?? {})) {
        const key = `${name}\0${source}`;
        if (typeof source !== 'string' || checked.has(key)) continue;
        builds.push(
          build(moduleOptions(name, source)).then(
            (out) => {
              try {
                moduleImports(name, out.metafile);
                remember(checked, key, null);
              } catch (e) {
                remember(checked, key, e as RuntimeEnvError);
              }
            },
            (e: unknown) => void remember(checked, key, moduleFailure(name, e)),
          ),
        );
      }
      // Every build ends before the first error is reported (none is left running).
      const settled = await Promise.allSettled(builds);
      const bad = settled.find((r) => r.status === 'rejected');
      if (bad) throw bad.reason;
    },

    readFile(path) {
      if (!files) throw new RuntimeEnvError('NOT_SUPPORTED', `a submitted job cannot read files on the coordinator (${path}); pass the WASM bytes`);
      const buf = readFileSync(resolve(path));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
  };
}

/** Bundles a declaration's packages and checks its modules without blocking the event loop; later sync calls hit the cache. */
export type PrepareEnv = (env: { packages?: unknown[]; modules?: Record<string, unknown> }, root?: string) => Promise<void>;

/** The namespace as mesh.import returns it: every named export, and the default one. */
function bundleOptions(spec: string, target: 'browser' | 'edge', dir: string): BuildOptions & { write: false } {
  const name = JSON.stringify(spec);
  return {
    stdin: {
      contents: `export * from ${name};\nimport * as ns from ${name};\nexport default ns.default;\n`,
      resolveDir: dir,
      sourcefile: `runtimeEnv:${spec}`,
      loader: 'js',
    },
    bundle: true,
    write: false,
    format: 'esm',
    // Browser builds honour the `browser` field; edge builds are neutral (no `node` condition, so no built-ins).
    platform: target === 'browser' ? 'browser' : 'neutral',
    mainFields: target === 'browser' ? ['browser', 'module', 'main'] : ['module', 'main'],
    conditions: ['worker'],
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  };
}

function failure(spec: string, target: string, dir: string, e: unknown): RuntimeEnvError {
  const errors = (e as { errors?: Message[] }).errors;
  if (!errors?.length) return new RuntimeEnvError('BAD_INPUT', `runtimeEnv: package ${spec}: ${(e as Error).message}`);
  return explain(spec, target, dir, errors);
}

function moduleOptions(name: string, source: string): BuildOptions & { write: false; metafile: true } {
  return {
    stdin: { contents: source, sourcefile: `runtimeEnv module ${name}`, loader: 'js' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    external: ['*'],
    metafile: true,
    logLevel: 'silent',
  };
}

function moduleImports(name: string, metafile: Metafile): void {
  const imports = Object.values(metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
  if (imports.length) {
    throw new RuntimeEnvError(
      'BAD_INPUT',
      `runtimeEnv: module ${name} imports ${imports.map((p) => `'${p}'`).join(', ')}: inline modules must be self-contained (declare packages in runtimeEnv.packages and mesh.import them in the task)`,
    );
  }
}

function moduleFailure(name: string, e: unknown): RuntimeEnvError {
  const m = (e as { errors?: Message[] }).errors?.[0];
  return new RuntimeEnvError(
    'BAD_INPUT',
    `runtimeEnv: module ${name} is not a valid ES module: ${m ? `${m.text} (line ${m.location?.line ?? '?'})` : (e as Error).message}`,
  );
}

/** Remembers a module check (a bounded memo: a coordinator checks every submitted job's modules). */
function remember<E extends RuntimeEnvError | null>(m: Map<string, RuntimeEnvError | null>, key: string, e: E): E {
  if (m.size >= 256) m.clear();
  m.set(key, e);
  return e;
}
