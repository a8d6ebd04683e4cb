// Issue 11: the mistakes of a newcomer's first hour get one line that names
// the URL, flag or file and says what to do; never a stack trace. Through
// connect() and through the `tabmesh` command as a child process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../edge/index.js';
import { CLI, Cluster } from '../helpers/cluster.js';
import { restartablePort } from '../helpers/processes.js';

function run(args: string[], ms = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TABMESH_TOKEN: '' } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The CLI's complaint: exactly one line on stderr, and no stack frame. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0];
}

async function failure(p: Promise<unknown>): Promise<Error & { code?: string }> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(Error);
  return e as Error & { code?: string };
}

describe("a newcomer's mistakes", () => {
  let cl: Cluster;
  let dir: string;
  let other: Server;
  let otherUrl: string;
  let closed: string;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 0 });
    dir = mkdtempSync(join(tmpdir(), 'tabmesh-newcomer-'));
    // Something that is not a coordinator: a web server that answers 404 to everything.
    other = createServer((_req, res) => res.writeHead(404).end('not here'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
    // A port nothing listens on, outside the range port 0 binds of files running beside come from.
    closed = `http://127.0.0.1:${await restartablePort()}`;
  });
  afterAll(async () => {
    await cl?.stop();
    other?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('connect()', () => {
    it('with no coordinator running: UNREACHABLE, naming the URL and `npm start`', async () => {
      const e = await failure(connect({ url: closed, token: 't', peers: false }));
      expect(e.code).toBe('UNREACHABLE');
      expect(e.message).toBe(`no tabmesh coordinator at ${closed} (connection refused): start one with \`npm start\` (or \`tabmesh start\`), or check the URL`);
    });

    it('pointed at a server that is not a coordinator: NOT_A_COORDINATOR, naming the URL', async () => {
      const e = await failure(connect({ url: otherUrl, token: 't', peers: false }));
      expect(e.code).toBe('NOT_A_COORDINATOR');
      expect(e.message).toContain(`${otherUrl} is not a tabmesh coordinator`);
    });

    it('a URL without a scheme and the dashboard address with #token= both connect', async () => {
      const bare = await connect({ url: cl.url.replace('http://', ''), token: cl.token, peers: false });
      expect(bare.jobId).toMatch(/^[0-9a-f]{16}$/);
      await bare.close();
      const dash = await connect({ url: `${cl.url}/dashboard#token=${encodeURIComponent(cl.token)}`, peers: false });
      expect(dash.jobId).toMatch(/^[0-9a-f]{16}$/);
      await dash.close();
    });

    it('a wrong or missing token: UNAUTHORIZED, saying which token and where it is', async () => {
      const wrong = await failure(connect({ url: cl.url, token: 'not-the-token', peers: false }));
      expect(wrong.code).toBe('UNAUTHORIZED');
      expect(wrong.message).toBe(
        `the coordinator at ${cl.url} refused the driver token: pass the one it printed at start (kept in .tabmesh/token) as connect({ token })`,
      );
      const none = await failure(connect({ url: cl.url, peers: false }));
      expect(none.message).toContain('needs a driver token');
      expect(none.message).toContain('.tabmesh/token');
    });
  });

  describe('the CLI', () => {
    it('`submit` with no coordinator running says so in one line with the URL', async () => {
      const file = join(dir, 'ok.js');
      writeFileSync(file, 'return 1;\n');
      const r = await run(['submit', file, '--coordinator', closed, '--token', 't']);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toBe(
        `tabmesh: no tabmesh coordinator at ${closed} (connection refused): start one with \`npm start\` (or \`tabmesh start\`), or check the URL`,
      );
    });

    it('`submit` and `node` at something that is not a coordinator say so in one line', async () => {
      const file = join(dir, 'ok.js');
      writeFileSync(file, 'return 1;\n');
      for (const args of [
        ['submit', file, '--coordinator', otherUrl, '--token', 't'],
        ['node', '--coordinator', otherUrl],
      ]) {
        const r = await run(args);
        expect(r.code, args[0]).toBe(1);
        expect(oneLine(r.stderr)).toContain(`${otherUrl} is not a tabmesh coordinator`);
      }
    });

    it('`node` with no coordinator running names the URL', async () => {
      const r = await run(['node', '--coordinator', closed.replace('http://', '')]);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toContain(`no tabmesh coordinator at ${closed} (connection refused)`);
    });

    it('`submit` of a file that does not exist names the file', async () => {
      const missing = join(dir, 'nope.js');
      const r = await run(['submit', missing, '--coordinator', cl.url, '--token', cl.token]);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toBe(`tabmesh: no such file: ${missing} (tabmesh submit takes the path of a .js file with the job's code)`);
    });

    it('`submit --wasm` or `--module` with a file that does not exist: the one-line error alone, exit 2 (no usage)', async () => {
      const file = join(dir, 'uses-wasm.js');
      writeFileSync(file, 'return 1;\n');
      const wasm = await run(['submit', file, '--coordinator', cl.url, '--token', cl.token, '--wasm', 'k=/missing.wasm']);
      expect(wasm.code).toBe(2);
      expect(oneLine(wasm.stderr)).toBe('tabmesh: --wasm k=/missing.wasm: no such file: /missing.wasm');
      const mod = await run(['submit', file, '--coordinator', cl.url, '--token', cl.token, '--module', `m=${dir}`]);
      expect(mod.code).toBe(2);
      expect(oneLine(mod.stderr)).toBe(`tabmesh: --module m=${dir}: ${dir} is a folder, not a file`);
    });

    it('`submit` with a wrong token says which token was refused and which flag to use', async () => {
      const file = join(dir, 'ok.js');
      writeFileSync(file, 'return 1;\n');
      const r = await run(['submit', file, '--coordinator', cl.url, '--token', 'wrong']);
      expect(r.code).toBe(1);
      const line = oneLine(r.stderr);
      expect(line).toContain(`the coordinator at ${cl.url} refused the token from --token (HTTP 401): pass the driver token it printed at start with --token`);
      expect(line).toContain('.tabmesh/token');
      // No flag, no environment, no token file in the data folder: it says a token is needed.
      const none = await run(['submit', file, '--coordinator', cl.url, '--data', join(dir, 'empty')]);
      expect(oneLine(none.stderr)).toContain('needs a driver token (HTTP 401): pass --token T');
    });

    it('a job with a syntax error fails with the file, line and column, and no stack', async () => {
      const file = join(dir, 'broken.js');
      writeFileSync(file, 'const a = 1;\nconst b = foo(;\nreturn a;\n');
      // A URL without a scheme is accepted.
      const r = await run(['submit', file, '--coordinator', cl.url.replace('http://', ''), '--token', cl.token]);
      expect(r.code).toBe(1);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(
        new RegExp(`^job [0-9a-f]{16} failed: SyntaxError: Unexpected token ';' at ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2:15$`),
      );
    });

    it('a second `start` on a busy port suggests --port, and leaves the data folder alone', async () => {
      const port = new URL(cl.url).port;
      const data = join(dir, 'second');
      const r = await run(['start', '--port', port, '--data', data]);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toBe(
        `tabmesh: port ${port} on 127.0.0.1 is in use (another \`npm start\`?): stop it, or start on another port with --port ${Number(port) + 1}`,
      );
      expect(existsSync(data)).toBe(false);
    });
  });
});
