// A task group member that called out (an ordinary task since: docs/decisions.md "A group member that calls out
// becomes an ordinary task first") and was freed before a coordinator restart, its group still open: after the
// restart the owner sends the group again, and the job counts that member once (it counted twice: in the job's
// durable `gone` and again as a member of the group sent again, which ran it again). Shared by
// test/fault/restart-member.test.ts (SQLite) and test/redis/restart-member.test.ts.
import { expect } from 'vitest';
import { startCoordinator, type RunningCoordinator, type ServerOptions } from '../../coordinator/server.js';
import { connect, startEdgeNode } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { fileGate } from './file-gate.js';
import { until } from './poll.js';
import { restartablePort, TEST_REJOIN_MAX_MS } from './processes.js';
import type { Cleanups } from './restart-detached.js';

declare const mesh: Mesh; // inside tasks

const MEMBERS = 4;

export async function freedMemberAcrossRestart(storage: Pick<ServerOptions, 'dataDir' | 'redis'>, cleanups: Cleanups): Promise<void> {
  const token = 'member-' + Math.random().toString(36).slice(2);
  const opts = { ...storage, port: await restartablePort(), token, httpLimits: false as const, recoveryGraceMs: 2_000 };
  let c: RunningCoordinator = await startCoordinator(opts);
  let closed = false;
  cleanups.push(() => (closed ? undefined : c.close()));
  const node = await startEdgeNode({ coordinator: c.url, cpus: MEMBERS, rejoinMaxMs: TEST_REJOIN_MAX_MS });
  cleanups.push(() => node.leave());
  const m = await connect({ url: c.url, token, reconnectTimeoutMs: 60_000, reconnectMaxMs: TEST_REJOIN_MAX_MS, groups: true });
  cleanups.push(() => m.close());
  // Member 0 calls out (a put) and ends; the others run on past the restart: until the test opens their gate (a file
  // they poll for) once the coordinator is back, not a fixed 10 s (however long the restart takes under load).
  const gate = fileGate();
  cleanups.push(() => gate.remove());
  const f = m.remote(async (x: number, path: string) => {
    if (x === 0) return (await mesh.get(mesh.put(7))) - 7;
    const fs = process.getBuiltinModule('node:fs');
    while (!fs.existsSync(path)) await new Promise((r) => setTimeout(r, 20));
    return x;
  });
  const refs = Array.from({ length: MEMBERS }, (_, i) => f.remote(i, gate.path));
  expect(await m.get(refs[0], { timeoutMs: 30_000 })).toBe(0);
  const before = c.coordinator.statsJson();
  expect(before.groupsSubmitted).toBe(1); // the four calls went as one group
  expect(before.groupMembersMaterialized).toBe(1); // member 0 became a task when it called out
  m.free([refs[0]]);
  // Its task leaves the records (its row deleted, counted in the job's `gone`); the group stays open.
  await until(() => c.coordinator.statsJson().tasks === 0, {
    timeoutMs: 20_000,
    what: () => `member 0's task to go: ${JSON.stringify(c.coordinator.statsJson())}`,
  });
  const open = c.coordinator.statsJson();
  expect(open.groups).toBe(1); // the case at hand: its group has members running still

  closed = true;
  await c.close();
  c = await startCoordinator(opts);
  closed = false;
  gate.open();
  expect(await m.get(refs.slice(1), { timeoutMs: 60_000 })).toEqual([1, 2, 3]);
  const job = () => c.coordinator.gcs.jobs.get(m.jobId as never);
  await until(() => (job()?.counts.finished ?? 0) >= MEMBERS, { timeoutMs: 20_000, what: () => `the job's counts: ${JSON.stringify(job()?.counts)}` });
  // Each member once: member 0 is not run again, nor counted again.
  await new Promise((r) => setTimeout(r, 500));
  expect(job()!.counts).toMatchObject({ submitted: MEMBERS, finished: MEMBERS, failed: 0 });
}
