// `tabmesh submit`: a file runs as a job; the CLI streams its log and exits with its status.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, Cluster } from '../helpers/cluster.js';

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tabmesh submit', () => {
  let cl: Cluster;
  let dir: string;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    dir = mkdtempSync(join(tmpdir(), 'tabmesh-submit-'));
  });
  afterAll(async () => {
    await cl?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a file as a job, prints its log and result, and exits 0', async () => {
    const file = join(dir, 'sum.js');
    writeFileSync(
      file,
      `const f = mesh.remote(function inc(x) { console.log('inc', x); return x + 1; });\nconsole.log('go');\nconst out = await mesh.get([1, 2, 3].map((x) => f.remote(x)));\nreturn out.reduce((a, b) => a + b, 0);\n`,
    );
    const r = await run(['submit', file, '--coordinator', cl.url, '--token', cl.token]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^go$/m);
    expect(r.stdout).toMatch(/\[inc@[^\]]+\] inc 2/);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('9');
    expect(r.stderr).toMatch(/100% 3\/3 tasks/);
    expect(r.stderr).toMatch(/succeeded/);
  });

  it('a job that returns nothing prints its log and no result line', async () => {
    const file = join(dir, 'log-only.js');
    writeFileSync(file, `console.log('only this');\n`);
    const r = await run(['submit', file, '--coordinator', cl.url, '--token', cl.token]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['only this']);
  });

  it('exits 1 with the error when the job fails, and 1 with a bad token', async () => {
    const file = join(dir, 'fail.js');
    writeFileSync(file, `throw new Error('nope');`);
    const r = await run(['submit', file, '--coordinator', cl.url, '--token', cl.token]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/failed: Error: nope/);
    const unauth = await run(['submit', file, '--coordinator', cl.url, '--token', 'wrong']);
    expect(unauth.code).toBe(1);
    expect(unauth.stderr).toMatch(/refused the token from --token/);
    expect(unauth.stderr).not.toMatch(/^\s+at /m);
  });

  it('a missing FILE is one line naming it and the command --help, exit 2 (no usage dump)', async () => {
    const r = await run(['submit', '--coordinator', cl.url]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['tabmesh: submit takes the FILE of the job to run (`tabmesh submit --help` lists its flags)']);
  });
});
