// A bench's children end with it, even when it is killed with SIGKILL (its
// handlers never run): a forked child hears its IPC channel close, a spawned
// one sees itself handed to another parent (bench/processes.ts endWithParent).
// Runs the built bench code (npm run build first), as the benches do.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { alive, until } from '../helpers/poll.js';

const PROCESSES = pathToFileURL(join(import.meta.dirname, '../../dist/bench/processes.js')).href;

describe("a bench's children", () => {
  const pids: number[] = [];
  let dir = '';
  afterEach(() => {
    for (const p of pids.splice(0)) if (alive(p)) process.kill(p, 'SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('end when the bench is killed with SIGKILL: a forked one and one without an IPC channel', async () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-children-'));
    const child = join(dir, 'child.mjs');
    writeFileSync(child, `import { endWithParent } from '${PROCESSES}';\nendWithParent();\nsetInterval(() => {}, 1000);\n`);
    const parent = join(dir, 'parent.mjs');
    writeFileSync(
      parent,
      `import { fork, spawn } from 'node:child_process';
const forked = fork(${JSON.stringify(child)}, [], { stdio: 'ignore' });
const spawned = spawn(process.execPath, [${JSON.stringify(child)}], { stdio: 'ignore', env: { ...process.env, TABMESH_BENCH_PARENT: String(process.pid) } });
console.log(JSON.stringify([forked.pid, spawned.pid]));
setInterval(() => {}, 1000);
`,
    );
    const p = spawn(process.execPath, [parent], { stdio: ['ignore', 'pipe', 'inherit'] });
    pids.push(p.pid!);
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += String(d)));
    const kids = await until(() => (out.includes(']') ? (JSON.parse(out) as number[]) : undefined), { timeoutMs: 20_000, what: 'the children to start' });
    pids.push(...kids);
    expect(kids.every(alive)).toBe(true);
    p.kill('SIGKILL');
    await until(() => !kids.some(alive), { timeoutMs: 10_000, what: () => `the children to end (${kids.filter(alive).join(', ')} still running)` });
  }, 30_000);
});
