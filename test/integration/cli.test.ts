// The tabmesh command and the package as users install it.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';

function run(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('tabmesh CLI', () => {
  it('bad flags and commands get a usage message and exit code 2', () => {
    for (const args of [
      ['bogus'],
      ['coordinator', '--nope'],
      ['coordinator', '--port', 'abc'],
      ['node'],
      ['node', '--coordinator', 'ftp://x'],
      ['node', '--coordinator', 'http://x', '--cpus', '0'],
      [],
    ]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain('usage:');
    }
    const help = run(['help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('tabmesh coordinator');
  });

  it('`start` runs a coordinator and a local node, prints the URL and a token stored in the data folder', async () => {
    const data = mkdtempSync(join(tmpdir(), 'tabmesh-cli-'));
    const p = spawn(process.execPath, [CLI, 'start', '--port', '0', '--data', data, '--cpus', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    try {
      await until(
        () => {
          if (p.exitCode !== null) throw new Error(`start exited: ${out}`);
          return /local edge node/.test(out);
        },
        { timeoutMs: 20_000, what: () => `start to come up: ${out}` },
      );
      const url = /listening on (http:\/\/\S+)/.exec(out)![1];
      const token = /driver token: (\S+)/.exec(out)![1];
      expect(readFileSync(join(data, 'token'), 'utf8').trim()).toBe(token);
      const stats = await (await fetch(`${url}/api/stats`, { headers: { authorization: `Bearer ${token}` } })).json();
      expect(stats.nodes).toBe(1);
      expect((await fetch(`${url}/api/stats`)).status).toBe(401);
    } finally {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
      rmSync(data, { recursive: true, force: true });
    }
  });
});

describe('the package', () => {
  it("`import { connect } from 'tabmesh'` resolves in Node through the package's exports", () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabmesh-consumer-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(ROOT, join(dir, 'node_modules', 'tabmesh'), 'dir');
      writeFileSync(
        join(dir, 'main.mjs'),
        `import { connect, ObjectRef, TaskError } from 'tabmesh';
         import { connect as browserConnect } from 'tabmesh/browser';
         console.log(JSON.stringify([typeof connect, typeof ObjectRef, typeof TaskError, typeof browserConnect]));`,
      );
      const r = spawnSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual(['function', 'function', 'function', 'function']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
