// Issue 16 for submitted jobs: `tabmesh submit job.js --package … --wasm …`
// declares the job's runtime env (packages resolve in the coordinator's
// folder, WASM travels as base64); a bad one is a 400 before any worker starts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, CLI } from '../helpers/cluster.js';
import { mandelbrotTileJs, mandelbrotWasm, tileArgs } from '../../shared/examples/mandelbrot.js';
import { EXAMPLES } from '../../client-web/dashboard/examples.js';

function submit(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, 'submit', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('submitted jobs with a runtime env', () => {
  let cl: Cluster;
  let dir: string;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    dir = mkdtempSync(join(tmpdir(), 'tabmesh-job-env-'));
  });
  afterAll(async () => {
    await cl?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("tabmesh submit --package --module --wasm: the job's tasks import and compile them", async () => {
    const kernel = join(dir, 'kernel.wasm');
    writeFileSync(kernel, mandelbrotWasm());
    const helper = join(dir, 'helper.js');
    writeFileSync(helper, 'export const twice = (x) => 2 * x;\n');
    const job = join(dir, 'job.js');
    const args = [...tileArgs(3, 4, 16), 50];
    writeFileSync(
      job,
      `const f = mesh.remote(async function f(title, args) {
        const { default: slugify } = await mesh.import('@sindresorhus/slugify');
        const { twice } = await mesh.import('helper');
        const { exports } = await WebAssembly.instantiate(await mesh.wasm('kernel'), {});
        return [slugify(title), twice(21), exports.tile(...args)];
      });
      return await mesh.get(f.remote('Hello Wörld', ${JSON.stringify(args)}));`,
    );
    const r = await submit([
      job,
      '--coordinator',
      cl.url,
      '--token',
      cl.token,
      '--package',
      '@sindresorhus/slugify',
      '--module',
      `helper=${helper}`,
      '--wasm',
      `kernel=${kernel}`,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out.slice(r.out.indexOf('[')))).toEqual(['hello-woerld', 42, mandelbrotTileJs(...(args as Parameters<typeof mandelbrotTileJs>))]);
  });

  it('a bad runtime env is a 400 BAD_JOB naming the problem; the CLI checks its own flags', async () => {
    const post = (runtimeEnv: unknown) =>
      fetch(`${cl.url}/api/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cl.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ source: 'return 1', runtimeEnv }),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as { error: string; message: string } }));
    const missing = await post({ packages: ['no-such-package-tabmesh'] });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: 'BAD_JOB' });
    expect(missing.body.message).toMatch(/package no-such-package-tabmesh is not installed/);
    expect((await post({ wasm: { k: Buffer.from('nope').toString('base64') } })).body.message).toMatch(/wasm k is not a valid WebAssembly module/);
    expect((await post({ wasm: { k: '/etc/hostname' } })).body.message).toMatch(/runtimeEnv\.wasm\.k" must be the binary in base64/);
    expect((await post({ root: '/' })).body.message).toMatch(/unknown key 'root'/);
    const tooLarge = await post({ modules: { big: `export const s = '${'x'.repeat(2000)}';` }, maxBytes: 1000 });
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.message).toMatch(/module big is \d+ bytes, over the limit of 1000 bytes/);
    expect((await post({ modules: { a: 'export default 1' }, wasm: { a: Buffer.from(mandelbrotWasm()).toString('base64') } })).body.message).toMatch(
      /'a' is declared twice/,
    );

    const job = join(dir, 'one.js');
    writeFileSync(job, 'return 1');
    const flag = await submit([job, '--coordinator', cl.url, '--token', cl.token, '--wasm', 'kernel']);
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/--wasm takes NAME=FILE, not kernel/);
    const notWasm = await submit([job, '--coordinator', cl.url, '--token', cl.token, '--wasm', `k=${job}`]);
    expect(notWasm.code).toBe(2);
    expect(notWasm.err).toMatch(/not a valid WebAssembly module/);
  });

  it("the Submit view's runtime env examples run as jobs (the WASM kernel, the package)", async () => {
    const headers = { authorization: `Bearer ${cl.token}`, 'content-type': 'application/json' };
    for (const id of ['wasm', 'package']) {
      const ex = EXAMPLES.find((e) => e.id === id)!;
      const res = await fetch(`${cl.url}/api/jobs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ source: ex.source, name: ex.title, runtimeEnv: ex.packages ? { packages: ex.packages } : undefined }),
      });
      expect(res.status).toBe(201);
      const { id: jobId } = (await res.json()) as { id: string };
      let job: { status: string; result: unknown; error: unknown } = { status: 'running', result: null, error: null };
      for (let i = 0; i < 300 && job.status === 'running'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        job = (await fetch(`${cl.url}/api/jobs/${jobId}`, { headers }).then((r) => r.json())) as typeof job;
      }
      expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
      if (id === 'package') expect(job.result).toEqual(['deja-vu-encore', 'creme-brulee', 'strasse-and-co', 'i-love-volunteer-computing']);
      else {
        // The same 64 tiles computed here, in JavaScript.
        let sum = 0;
        for (let i = 0; i < 64; i++) {
          const step = 3 / (8 * 128);
          sum += mandelbrotTileJs(-2 + (i % 8) * 128 * step, -1.5 + Math.floor(i / 8) * 128 * step, step, step, 128, 128, 500);
        }
        expect(job.result).toEqual({ tiles: 64, iterations: sum });
      }
    }
  }, 90_000);

  it("bundling a submitted job's packages leaves the coordinator answering /api/stats meanwhile", async () => {
    const headers = { authorization: `Bearer ${cl.token}`, 'content-type': 'application/json' };
    // Packages no other test bundles (the coordinator caches bundles): six builds of a few hundred KiB, then one
    // that is not installed, so that the submit is answered (400) as soon as bundling ends, with no job started.
    let ended = false;
    const submitted = fetch(`${cl.url}/api/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ source: 'return 1', runtimeEnv: { packages: ['yjs', 'ajv', 'acorn', 'no-such-package-tabmesh-2'] } }),
    }).finally(() => (ended = true));
    // Stats asked one after another while the submit is in flight: with a bundler that blocks the event loop,
    // none asked once bundling started could be answered before the submit's own answer.
    let answeredBefore = 0;
    while (!ended && answeredBefore < 5) {
      const res = await fetch(`${cl.url}/api/stats`, { headers });
      expect(res.status).toBe(200);
      await res.json();
      if (!ended) answeredBefore++;
    }
    const res = await submitted;
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/no-such-package-tabmesh-2 is not installed/);
    expect(answeredBefore).toBeGreaterThanOrEqual(3);
  });

  it('a submitted program cannot make its tasks read coordinator files through runtimeEnv', async () => {
    const res = await fetch(`${cl.url}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cl.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ source: `mesh.remote(() => 1, { runtimeEnv: { wasm: { k: '/etc/hostname' } } }); return 'declared';` }),
    });
    const { id } = (await res.json()) as { id: string };
    let job: { status: string; error: { name: string; message: string } | null } = { status: 'running', error: null };
    for (let i = 0; i < 100 && job.status === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = await fetch(`${cl.url}/api/jobs/${id}`, { headers: { authorization: `Bearer ${cl.token}` } }).then((r) => r.json() as Promise<typeof job>);
    }
    expect(job.status).toBe('failed');
    expect(job.error?.message).toMatch(/a submitted job cannot read files on the coordinator/);
  });
});
