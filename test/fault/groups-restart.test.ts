// Task groups across a coordinator restart (docs/decisions.md "Task groups": groups are not in the durable GCS;
// their owner sends them again). A coordinator SIGKILLed in the middle of a job of groups, one member of which was
// passed to another task (materialized: an ordinary record, durable), is started again on its data folder: the
// driver resumes, sends its groups again, the results are exact, and once freed the coordinator holds nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';
import { restartablePort } from '../helpers/processes.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

const procs: ChildProcess[] = [];
const dirs: string[] = [];
let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(args: string[]): { proc: ChildProcess; out: string[] } {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  proc.stdout.on('data', (d) => out.push(String(d)));
  proc.stderr.on('data', (d) => out.push(String(d)));
  procs.push(proc);
  return { proc, out };
}

async function startCoordinator(data: string, token: string, port: number): Promise<{ proc: ChildProcess; url: string }> {
  const c = run(['coordinator', '--data', data, '--port', String(port), '--token', token, '--groups']);
  const url = await until(() => /listening on (http:\/\/\S+)/.exec(c.out.join(''))?.[1], { timeoutMs: 20_000, what: () => `listen: ${c.out.join('')}` });
  return { ...c, url };
}

async function stats(url: string, token: string): Promise<Record<string, number> | undefined> {
  try {
    const r = await fetch(`${url}/api/stats`, { headers: { authorization: `Bearer ${token}` } });
    return r.ok ? ((await r.json()) as Record<string, number>) : undefined;
  } catch {
    return undefined;
  }
}

describe('task groups across a coordinator restart', () => {
  it('the owner sends its groups again to the restarted coordinator: exact results, a materialized member kept, drained after free', async () => {
    const data = mkdtempSync(join(tmpdir(), 'tabmesh-groups-restart-'));
    dirs.push(data);
    const token = 'groups-restart-' + Math.random().toString(36).slice(2);
    let c = await startCoordinator(data, token, await restartablePort());
    const port = Number(new URL(c.url).port);
    const d = mkdtempSync(join(tmpdir(), 'tabmesh-node-'));
    dirs.push(d);
    run(['node', '--coordinator', c.url, '--cpus', '2', '--spill-dir', d]);
    await until(async () => ((await stats(c.url, token))?.nodes ?? 0) >= 1, { timeoutMs: 20_000, what: () => 'a node' });
    mesh = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000 });
    const m = mesh;
    const work = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 3));
      return i * 7;
    });
    const twice = m.remote((x: number) => x * 2);
    const refs = Array.from({ length: 1500 }, (_, i) => work.remote(i));
    const passed = twice.remote(refs[5]); // member 5 leaves its group: an ordinary task on record
    const all = m.get(refs, { timeoutMs: 120_000 });
    await until(async () => ((await stats(c.url, token))?.tasksFinished ?? 0) >= 200, { timeoutMs: 60_000, what: () => 'under way' });
    expect((await stats(c.url, token))!.groupsSubmitted).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 100)); // the durable GCS's writes of the materialized member (grouped every 20 ms)
    c.proc.kill('SIGKILL');
    await new Promise((r) => c.proc.once('exit', r));
    c = await startCoordinator(data, token, port);
    expect(await all).toEqual(Array.from({ length: 1500 }, (_, i) => i * 7));
    expect(await m.get(passed)).toBe(70);
    const after = (await stats(c.url, token))!;
    expect(after.groupsSubmitted).toBeGreaterThan(0); // sent again by their owner
    m.free([...refs, passed]);
    let last: Record<string, number> | undefined;
    await until(
      async () => {
        const s = (last = await stats(c.url, token));
        return s !== undefined && s.tasks === 0 && s.objects === 0 && s.groups === 0;
      },
      {
        timeoutMs: 20_000,
        what: () => `drained: tasks ${last?.tasks} objects ${last?.objects} groups ${last?.groups} (queued members ${last?.groupMembersQueued})`,
      },
    );
  }, 180_000);
});
