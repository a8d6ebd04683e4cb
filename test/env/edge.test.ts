// Issue 16 on edge nodes: tasks and actors with npm packages, inline modules
// and WebAssembly; each artifact fetched once per node across many tasks and
// two jobs, and read back from disk by a restarted node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type EdgeProcess } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { TaskError } from '../../shared/errors.js';
import { mandelbrotTileJs, mandelbrotWasm, tileArgs } from '../../shared/examples/mandelbrot.js';

declare const mesh: Mesh; // inside tasks

const SLUGIFY = '@sindresorhus/slugify';

/** Lines of a node's output that say it fetched (or loaded from disk) the artifact `name`. */
function envLines(n: EdgeProcess, verb: 'fetched' | 'loaded from disk', name: string): number {
  const text = n.output.join('');
  const re = new RegExp(
    `runtime env: ${verb === 'fetched' ? 'fetched ' : ''}\\w+ '${name.replace(/[/@.]/g, '\\$&')}' \\([^)]*\\)${verb === 'fetched' ? ' from the mesh' : ' loaded from disk'}`,
    'g',
  );
  return text.match(re)?.length ?? 0;
}

describe('runtime envs on edge nodes', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    m = await cl.driver();
  });
  afterAll(() => cl?.stop());

  it('a task uses an npm package that has dependencies of its own', async () => {
    const slug = m.remote(
      async function slug(s: string) {
        const { default: slugify } = await mesh.import('@sindresorhus/slugify');
        return slugify(s) as string;
      },
      { runtimeEnv: { packages: [SLUGIFY] } },
    );
    // transliterate (a dependency) turns the accents and ß into ASCII; escape-string-regexp (another) builds its patterns.
    expect(await m.get([slug.remote('Déjà Vu, encore!'), slug.remote('Straße & Co')])).toEqual(['deja-vu-encore', 'strasse-and-co']);
  });

  it('a task uses an inline ES module: named exports and the default one', async () => {
    const stats = `export function mean(xs) { return xs.reduce((a, b) => a + b, 0) / xs.length; }\nexport default 'stats v1';`;
    const f = m.remote(
      async function useStats(xs: number[]) {
        const s = await mesh.import('stats');
        return [s.mean(xs), s.default];
      },
      { runtimeEnv: { modules: { stats } } },
    );
    expect(await m.get(f.remote([1, 2, 3, 6]))).toEqual([3, 'stats v1']);
  });

  it('a task compiles a WebAssembly module once and instantiates it with its own imports', async () => {
    const tile = m.remote(
      async function tile(args: number[]) {
        const mod = await mesh.wasm('mandelbrot');
        const { exports } = await WebAssembly.instantiate(mod, {});
        return (exports.tile as (...a: number[]) => number)(...args);
      },
      { runtimeEnv: { wasm: { mandelbrot: mandelbrotWasm() } } },
    );
    const args = Array.from({ length: 8 }, (_, i) => [...tileArgs(i, 4, 32), 100]);
    expect(await m.get(args.map((a) => tile.remote(a)))).toEqual(args.map((a) => mandelbrotTileJs(...(a as Parameters<typeof mandelbrotTileJs>))));
  });

  it('an actor uses a package; the job env reaches nested tasks', async () => {
    class Slugger {
      n = 0;
      async slug(s: string) {
        const { default: slugify } = await mesh.import('@sindresorhus/slugify');
        this.n++;
        return `${this.n}:${slugify(s)}`;
      }
    }
    const a = m.remote(Slugger, { runtimeEnv: { packages: [SLUGIFY] } }).remote();
    expect(await m.get([a.slug.remote('Hello World'), a.slug.remote('Crème Brûlée')])).toEqual(['1:hello-world', '2:creme-brulee']);

    // A function declared inside a task inherits that task's runtime env.
    const outer = m.remote(
      async function outer(s: string) {
        const inner = mesh.remote(async function inner(x: string) {
          const { default: slugify } = await mesh.import('@sindresorhus/slugify');
          return slugify(x);
        });
        return await mesh.get(inner.remote(s));
      },
      { runtimeEnv: { packages: [SLUGIFY] } },
    );
    expect(await m.get(outer.remote('Nested Call'))).toBe('nested-call');
  });

  it('a name the task did not declare fails with the name and the declared ones', async () => {
    const f = m.remote(
      async function wrongName() {
        return await mesh.import('lodash');
      },
      { runtimeEnv: { modules: { util: 'export const x = 1;' }, wasm: { k: mandelbrotWasm() } } },
    );
    const err = await m.get(f.remote()).catch((e) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect(err.remoteName).toBe('RuntimeEnvError');
    expect(err.remoteMessage).toMatch(/'lodash' is not in the runtime env of wrongName \(it declares 'util' \(module\), 'k' \(wasm\)\)/);
    const none = m.remote(async function noEnv() {
      return await mesh.wasm('k');
    });
    expect((await m.get(none.remote()).catch((e) => e)).remoteMessage).toMatch(/'k' is not in the runtime env of noEnv \(it declares none\)/);
  });

  it('module code that reaches for the DOM fails at load time, saying executors have none', async () => {
    const f = m.remote(
      async function usesDom() {
        return await mesh.import('dom');
      },
      { runtimeEnv: { modules: { dom: 'export const width = window.innerWidth;' } } },
    );
    const err = await m.get(f.remote()).catch((e) => e);
    expect(err.remoteName).toBe('RuntimeEnvError');
    expect(err.remoteMessage).toMatch(/loading module 'dom' failed.*window is not defined.*no DOM/);
  });

  it('each artifact is fetched once per node across 200 tasks and two jobs; a restarted node reads it from disk', async () => {
    const second = await cl.addNode({ cpus: 2 });
    const first = cl.nodes[0];
    const counted = `export const tag = 'counted-${Date.now()}';`;
    // Bytes no other test declared (a custom section), so that no node has them yet.
    const env = { modules: { counted }, wasm: { kernel: withCustomSection(mandelbrotWasm(), counted) } };
    const work = async function work(i: number) {
      const c = await mesh.import('counted');
      const mod = await mesh.wasm('kernel');
      const { exports } = await WebAssembly.instantiate(mod, {});
      return `${c.tag}:${(exports.tile as (...a: number[]) => number)(0, 0, 0.01, 0.01, 2, 2, 10 + (i % 3))}`;
    };
    const job1 = m.remote(work, { runtimeEnv: env, scheduling: 'spread' });
    const out1 = await m.get(Array.from({ length: 200 }, (_, i) => job1.remote(i)));
    expect(new Set(out1).size).toBe(3);

    const m2 = await cl.driver(); // a second job declares the same content: same hashes
    const job2 = m2.remote(work, { runtimeEnv: env, scheduling: 'spread' });
    const out2 = await m2.get(Array.from({ length: 100 }, (_, i) => job2.remote(i)));
    expect(out2).toEqual(out1.slice(0, 100));

    for (const n of [first, second]) {
      expect(envLines(n, 'fetched', 'counted')).toBe(1);
      expect(envLines(n, 'fetched', 'kernel')).toBe(1);
    }

    // The second node restarts on the same folder: it reads the artifacts back from disk.
    await second.kill('SIGKILL');
    await cl.until(
      () => cl.c.coordinator.gcs.nodes.size === 1,
      15_000,
      () => 'the killed node to be gone',
    );
    const again = await cl.addNode({ cpus: 2, spillDir: second.dir });
    const pinned = m2.remote(work, { runtimeEnv: env, scheduling: { node: await nodeIdOf(cl, again), soft: false } });
    expect(await m2.get(pinned.remote(1))).toBe(out1[1]);
    expect(envLines(again, 'loaded from disk', 'counted')).toBe(1);
    expect(envLines(again, 'loaded from disk', 'kernel')).toBe(1);
    expect(envLines(again, 'fetched', 'counted') + envLines(again, 'fetched', 'kernel')).toBe(0);
  });
});

/** The binary with a custom section appended (still valid; other bytes, so another hash). */
function withCustomSection(wasm: Uint8Array, text: string): Uint8Array {
  const name = new TextEncoder().encode('tag');
  const payload = new TextEncoder().encode(text);
  const size = 1 + name.length + payload.length;
  if (size > 127 || payload.length > 127) throw new Error('keep the tag short');
  return new Uint8Array([...wasm, 0, size, name.length, ...name, ...payload]);
}

/** The id of the node an edge process joined as (the newest one). */
async function nodeIdOf(cl: Cluster, _n: EdgeProcess): Promise<string> {
  const nodes = [...cl.c.coordinator.gcs.nodes.values()];
  return nodes[nodes.length - 1].id;
}
