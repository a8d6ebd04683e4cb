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
  it('a bad flag or command is one line naming it and pointing to --help, exit code 2, for every command', () => {
    for (const [args, line] of [
      [['bogus'], "tabmesh: unknown command 'bogus' (`tabmesh --help` lists the commands)"],
      [['strat'], "tabmesh: unknown command 'strat': did you mean `tabmesh start`? (`tabmesh --help` lists the commands)"],
      [['coordinator', '--nope'], 'tabmesh: unknown flag --nope (`tabmesh coordinator --help` lists its flags)'],
      [['coordinator', '--port', 'abc'], 'tabmesh: --port must be an integer in [0, 65535] (`tabmesh coordinator --help` lists its flags)'],
      [['coordinator', '--heap-growth', '5000'], 'tabmesh: --heap-growth must be an integer in [0, 1000] (`tabmesh coordinator --help` lists its flags)'],
      [['coordinator', '--hold-share', '1.5'], 'tabmesh: --hold-share must be a number in (0, 1] (`tabmesh coordinator --help` lists its flags)'],
      [['start', '--hold-min-nodes', '0'], 'tabmesh: --hold-min-nodes must be an integer in [1, 10000000] (`tabmesh start --help` lists its flags)'],
      [
        ['coordinator', '--dead-after-ms', '8000', '--hold-dead-after-ms', '6000'],
        'tabmesh: --hold-dead-after-ms must be at least --dead-after-ms (8000) (`tabmesh coordinator --help` lists its flags)',
      ],
      [
        ['coordinator', '--hold-evict-per-sec=x'],
        'tabmesh: --hold-evict-per-sec must be a number in [0, 1000000] (`tabmesh coordinator --help` lists its flags)',
      ],
      [['start', '--prot', '8081'], 'tabmesh: unknown flag --prot: did you mean --port? (`tabmesh start --help` lists its flags)'],
      [['start', '--memory=yes'], 'tabmesh: --memory is a switch and takes no value: write --memory alone (`tabmesh start --help` lists its flags)'],
      [['node'], 'tabmesh: --coordinator URL is required (`tabmesh node --help` lists its flags)'],
      [['node', '--coordinator'], 'tabmesh: --coordinator needs a value, e.g. --coordinator http://127.0.0.1:8080 (`tabmesh node --help` lists its flags)'],
      [['node', '--url', 'http://x'], 'tabmesh: unknown flag --url: did you mean --coordinator? (`tabmesh node --help` lists its flags)'],
      [['node', '--coordinator', 'http://x', '--cpus', '0'], 'tabmesh: --cpus must be an integer in [1, 1024] (`tabmesh node --help` lists its flags)'],
      [['submit', 'job.js', '--url', 'http://x'], 'tabmesh: unknown flag --url: did you mean --coordinator? (`tabmesh submit --help` lists its flags)'],
      [['submit', '--coordinator', 'http://x'], 'tabmesh: submit takes the FILE of the job to run (`tabmesh submit --help` lists its flags)'],
      [['token', 'rotate', '--knd', 'join'], 'tabmesh: unknown flag --knd: did you mean --kind? (`tabmesh token --help` lists its flags)'],
      [['coordinator', 'extra'], "tabmesh: unexpected argument 'extra': `tabmesh coordinator` takes flags only (`tabmesh coordinator --help` lists its flags)"],
    ] as const) {
      const r = run([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.trim(), args.join(' ')).toBe(line);
    }
    const node = run(['node', '--coordinator', 'ftp://x']);
    expect(node.code).toBe(2);
    expect(node.err.trim().split('\n')).toHaveLength(1);
    expect(node.err).toMatch(/^tabmesh: --coordinator: 'ftp:\/\/x' is a ftp URL: .*`tabmesh node --help` lists its flags\)$/m);
    // Nothing asked: the whole usage, still exit 2; asked: the usage, exit 0.
    const none = run([]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('usage:');
    const help = run(['help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('tabmesh coordinator');
    for (const cmd of ['coordinator', 'start', 'node', 'submit', 'token']) {
      const r = run([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.out, cmd).toContain(`tabmesh ${cmd} `);
      expect(r.out, cmd).not.toContain(cmd === 'submit' ? 'tabmesh node' : 'tabmesh submit');
    }
  }, 180_000); // 23 CLI processes one after another: over a minute on a loaded machine

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

describe("the coordinator's node flags", () => {
  /** `tabmesh coordinator` started by node with `nodeArgs` (and NODE_OPTIONS): its /api/stats. */
  async function statsOf(nodeArgs: string[], nodeOptions?: string, flags: string[] = []): Promise<Record<string, number>> {
    const token = 'flags-' + Math.random().toString(36).slice(2);
    const env = { ...process.env, NODE_OPTIONS: nodeOptions ?? '' };
    const p = spawn(process.execPath, [...nodeArgs, CLI, 'coordinator', '--memory', '--port', '0', '--token', token, ...flags], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    try {
      await until(
        () => {
          if (p.exitCode !== null) throw new Error(`coordinator exited: ${out}`);
          return /listening on http:\/\/\S+/.test(out);
        },
        { timeoutMs: 20_000, what: () => `the coordinator to come up: ${out}` },
      );
      const url = /listening on (http:\/\/\S+)/.exec(out)![1];
      return (await (await fetch(`${url}/api/stats`, { headers: { authorization: `Bearer ${token}` } })).json()) as Record<string, number>;
    } finally {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
  }

  it("reach the coordinator from node's command line or NODE_OPTIONS, and /api/stats says which it got", async () => {
    expect(await statsOf([])).toMatchObject({ v8PoolSize: 4, singleThreadedGc: 0 });
    expect(await statsOf(['--single-threaded-gc', '--v8-pool-size=1'])).toMatchObject({ v8PoolSize: 1, singleThreadedGc: 1 });
    expect(await statsOf([], '--v8-pool-size=2')).toMatchObject({ v8PoolSize: 2, singleThreadedGc: 0 });
  }, 90_000);

  it('--hold-* reach the membership hold, and /api/stats says what it runs with', async () => {
    expect(await statsOf([])).toMatchObject({ holdShare: 0.1, holdMinNodes: 10, holdDeadAfterMs: 30_000, holdEvictPerSec: 0 });
    const flags = ['--hold-share', '0.25', '--hold-min-nodes', '50', '--hold-dead-after-ms', '60000', '--hold-evict-per-sec', '2.5'];
    expect(await statsOf([], undefined, flags)).toMatchObject({ holdShare: 0.25, holdMinNodes: 50, holdDeadAfterMs: 60_000, holdEvictPerSec: 2.5 });
  }, 90_000);
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
