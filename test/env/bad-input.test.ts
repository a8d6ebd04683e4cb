// Issue 16: each bad runtime env is a clear RuntimeEnvError at remote() /
// connect() time, before any task runs (nothing reaches the coordinator).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { RuntimeEnvError, type RuntimeEnvReason } from '../../shared/env/env.js';
import { connect } from '../../edge/index.js';
import { mandelbrotWasm } from '../../shared/examples/mandelbrot.js';

/** A folder with node_modules holding packages that cannot run in executors. */
function fixtureRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'tabmesh-env-'));
  const pkg = (name: string, main: string) => {
    const dir = join(root, 'node_modules', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', main: 'index.js' }));
    writeFileSync(join(dir, 'index.js'), main);
  };
  pkg('reads-files', `import { readFileSync } from 'node:fs';\nexport const read = (p) => readFileSync(p, 'utf8');\n`);
  pkg('uses-reader', `import { read } from 'reads-files';\nexport const config = () => read('/etc/hostname');\n`);
  pkg('needs-missing', `import x from 'not-installed-anywhere';\nexport default x;\n`);
  return root;
}

function reasonOf(f: () => unknown): { reason: RuntimeEnvReason; message: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RuntimeEnvError);
    return { reason: (e as RuntimeEnvError).reason, message: (e as Error).message };
  }
  throw new Error('expected a RuntimeEnvError');
}

describe('bad runtime envs fail at declaration', () => {
  let cl: Cluster;
  let m: Mesh;
  let root: string;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 0 });
    m = await cl.driver();
    root = fixtureRoot();
  });
  afterAll(async () => {
    await cl?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const task = async function task() {
    return 1;
  };
  const declare = (runtimeEnv: object) => () => m.remote(task, { runtimeEnv: runtimeEnv as never });

  it('a package that is not installed', () => {
    const e = reasonOf(declare({ packages: ['no-such-package-tabmesh'] }));
    expect(e.reason).toBe('NOT_INSTALLED');
    expect(e.message).toMatch(/package no-such-package-tabmesh is not installed .*npm install no-such-package-tabmesh/);
    const dep = reasonOf(declare({ packages: ['needs-missing'], root }));
    expect(dep.reason).toBe('NOT_INSTALLED');
    expect(dep.message).toMatch(/needs-missing imports 'not-installed-anywhere', which is not installed/);
  });

  it('a package that reaches for a Node built-in, directly or through a dependency, names the package and the import', () => {
    const direct = reasonOf(declare({ packages: ['reads-files'], root }));
    expect(direct.reason).toBe('BUILTIN_IMPORT');
    expect(direct.message).toMatch(/package reads-files cannot run in an executor: it imports the Node built-in 'node:fs'/);
    const through = reasonOf(declare({ packages: ['uses-reader'], root }));
    expect(through.reason).toBe('BUILTIN_IMPORT');
    expect(through.message).toMatch(
      /package uses-reader cannot run in an executor: reads-files imports the Node built-in 'node:fs' \(node_modules\/reads-files\/index\.js:1/,
    );
  });

  it('a bundle, module or binary over the size limit', () => {
    const pkg = reasonOf(declare({ packages: ['@sindresorhus/slugify'], maxBytes: 1000 }));
    expect(pkg.reason).toBe('TOO_LARGE');
    expect(pkg.message).toMatch(/package @sindresorhus\/slugify is \d+ bytes \(browser bundle\), over the limit of 1000 bytes \(runtimeEnv\.maxBytes\)/);
    const mod = reasonOf(declare({ modules: { big: `export const s = '${'x'.repeat(5000)}';` }, maxBytes: 4096 }));
    expect(mod.reason).toBe('TOO_LARGE');
    const wasm = reasonOf(declare({ wasm: { k: mandelbrotWasm() }, maxBytes: 100 }));
    expect(wasm.reason).toBe('TOO_LARGE');
    // The default limit (4 MiB) refuses a 5 MiB module.
    expect(reasonOf(declare({ modules: { huge: `export const s = '${'y'.repeat(5 << 20)}';` } })).reason).toBe('TOO_LARGE');
  });

  it('invalid WebAssembly bytes, from memory or from a file', () => {
    const junk = reasonOf(declare({ wasm: { k: new Uint8Array([1, 2, 3, 4, 5]) } }));
    expect(junk.reason).toBe('INVALID_WASM');
    expect(junk.message).toMatch(/wasm k is not a valid WebAssembly module \(5 bytes; it does not start with the WebAssembly magic number/);
    const truncated = mandelbrotWasm().slice(0, 40);
    expect(reasonOf(declare({ wasm: { k: truncated } })).message).toMatch(/its header is right but its contents do not validate/);
    const file = join(root, 'bad.wasm');
    writeFileSync(file, 'not wasm');
    expect(reasonOf(declare({ wasm: { k: file } })).reason).toBe('INVALID_WASM');
    expect(reasonOf(declare({ wasm: { k: join(root, 'absent.wasm') } })).message).toMatch(/cannot read the file/);
    // A valid file path works.
    const good = join(root, 'kernel.wasm');
    writeFileSync(good, mandelbrotWasm());
    expect(() => declare({ wasm: { k: good } })()).not.toThrow();
  });

  it('a name declared twice, within one env or by the job and the function', async () => {
    const twice = reasonOf(declare({ packages: ['@sindresorhus/slugify'], modules: { '@sindresorhus/slugify': 'export default 1;' } }));
    expect(twice.reason).toBe('NAME_COLLISION');
    expect(twice.message).toMatch(/the name '@sindresorhus\/slugify' is declared twice \(package @sindresorhus\/slugify and module @sindresorhus\/slugify\)/);
    expect(reasonOf(declare({ modules: { k: 'export default 1;' }, wasm: { k: mandelbrotWasm() } })).reason).toBe('NAME_COLLISION');
    const job = await connect({ url: cl.url, token: cl.token, runtimeEnv: { modules: { util: 'export const a = 1;' } } });
    try {
      const e = reasonOf(() => job.remote(task, { runtimeEnv: { modules: { util: 'export const b = 2;' } } }));
      expect(e.reason).toBe('NAME_COLLISION');
      expect(e.message).toMatch(/'util' is declared by the job \(connect: module util\) and by the function \(module util\)/);
    } finally {
      await job.close();
    }
  });

  it('malformed declarations and module source', () => {
    expect(reasonOf(declare({ packages: 'lodash' })).message).toMatch(/packages must be an array/);
    expect(reasonOf(declare({ packages: ['../etc/passwd'] })).message).toMatch(/is not an npm package name/);
    expect(reasonOf(declare({ modules: { m: 42 } })).message).toMatch(/modules\.m must be ES module source text/);
    expect(reasonOf(declare({ wasm: { k: 42 } })).message).toMatch(/wasm\.k must be a Uint8Array or a file path/);
    expect(reasonOf(declare({ pakages: ['x'] })).message).toMatch(/unknown key 'pakages'/);
    expect(reasonOf(declare({ modules: { 'a b': 'export default 1' } })).message).toMatch(/'a b' is not a usable name/);
    const syntax = reasonOf(declare({ modules: { broken: 'export const = 1;' } }));
    expect(syntax.reason).toBe('BAD_INPUT');
    expect(syntax.message).toMatch(/module broken is not a valid ES module: .*\(line 1\)/);
    expect(reasonOf(declare({ modules: { imports: "import x from 'lodash';\nexport default x;" } })).message).toMatch(
      /module imports imports 'lodash': inline modules must be self-contained/,
    );
  });

  it('a bad job env fails connect() before connecting; nothing reached the coordinator', async () => {
    const jobsBefore = cl.c.coordinator.gcs.jobs.size;
    const err = await connect({ url: cl.url, token: cl.token, runtimeEnv: { wasm: { k: new Uint8Array(8) } } }).catch((e) => e);
    expect(err).toBeInstanceOf(RuntimeEnvError);
    expect(err.reason).toBe('INVALID_WASM');
    expect(cl.c.coordinator.gcs.jobs.size).toBe(jobsBefore);
    // The failed remote() calls above submitted nothing either.
    expect(cl.c.coordinator.gcs.tasks.size).toBe(0);
  });

  it('mesh.import and mesh.wasm outside a task say where they work', async () => {
    await expect(m.import('x')).rejects.toThrow(/works inside tasks only/);
    await expect(m.wasm('x')).rejects.toThrow(/works inside tasks only/);
  });
});
