// Bundling runtime env packages (issue 16) with esbuild, in the Node driver:
// a package and its dependencies become one self-contained ES module, one
// build for browser executors and one for edge executors (worker_threads).
// Neither may use Node built-ins (executors have none to give): an import of
// one fails here, naming the package that made it. Synchronous (buildSync),
// so that mesh.remote() reports a bad package before it returns.
import { buildSync, type Message } from 'esbuild';
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { RuntimeEnvError, type EnvBundler } from '../shared/env/env.js';

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
export function esbuildBundler(opts: { files?: boolean } = {}): EnvBundler {
  const cache = new Map<string, string>();
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
      const name = JSON.stringify(spec);
      let code: string;
      try {
        const out = buildSync({
          // The namespace as mesh.import returns it: every named export, and the default one.
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
        });
        code = out.outputFiles[0]?.text ?? '';
      } catch (e) {
        const errors = (e as { errors?: Message[] }).errors;
        if (!errors?.length) throw new RuntimeEnvError('BAD_INPUT', `runtimeEnv: package ${spec}: ${(e as Error).message}`);
        throw explain(spec, target, dir, errors);
      }
      cache.set(key, code);
      return code;
    },

    checkModule(name, source) {
      try {
        const out = buildSync({
          stdin: { contents: source, sourcefile: `runtimeEnv module ${name}`, loader: 'js' },
          bundle: true,
          write: false,
          format: 'esm',
          platform: 'neutral',
          external: ['*'],
          metafile: true,
          logLevel: 'silent',
        });
        const imports = Object.values(out.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
        if (imports.length) {
          throw new RuntimeEnvError(
            'BAD_INPUT',
            `runtimeEnv: module ${name} imports ${imports.map((p) => `'${p}'`).join(', ')}: inline modules must be self-contained (declare packages in runtimeEnv.packages and mesh.import them in the task)`,
          );
        }
      } catch (e) {
        if (e instanceof RuntimeEnvError) throw e;
        const m = (e as { errors?: Message[] }).errors?.[0];
        throw new RuntimeEnvError(
          'BAD_INPUT',
          `runtimeEnv: module ${name} is not a valid ES module: ${m ? `${m.text} (line ${m.location?.line ?? '?'})` : (e as Error).message}`,
        );
      }
    },

    readFile(path) {
      if (!files) throw new RuntimeEnvError('NOT_SUPPORTED', `a submitted job cannot read files on the coordinator (${path}); pass the WASM bytes`);
      const buf = readFileSync(resolve(path));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
  };
}
