// A driver holding a direct-submission lease on a node the coordinator holds (coordinator/nodes/hold.ts, session 38:
// nodes silent with many others are held, not lost): the lease is not revoked (a revocation counts what is on its way
// there as lost, and reruns it), the driver is told the node is held and sends it nothing new, its tasks go through
// the coordinator to a node that speaks; what the held node has ends there; back, the lease is used again.
// A real coordinator, real edge-node processes (one stopped with SIGSTOP), real links.
import { afterEach, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { fileGate, type FileGate } from '../helpers/file-gate.js';
import { until } from '../helpers/poll.js';
import { sequential } from '../helpers/sequential.js';
import { leased, leasedDriver } from '../helpers/direct-driver.js';
import { taskOfObject } from '../../shared/ids.js';
import { countLostRuns } from '../helpers/lost-runs.js';

let cl: Cluster | undefined;
let gate: FileGate | undefined;
afterEach(async () => {
  await cl?.stop();
  cl = undefined;
  gate?.remove();
  gate = undefined;
});

it('a leased node held: nothing new goes straight to it, the tasks run elsewhere with exact values; its own task ends there; back, the lease is used', async () => {
  // Two nodes: the one stopped is a mass of them (a floor of 1), held up to 30 s of silence.
  cl = await Cluster.start({ nodes: 0, heartbeatMs: 500, deadAfterMs: 3000, hold: { minNodes: 1 } });
  const c = cl.c.coordinator;
  const { added, m, node, d } = await leasedDriver(cl);
  // The node that stays takes no direct tasks: what goes there comes by the coordinator's assigns.
  await cl.addNode({ cpus: 2, env: { TABMESH_DIRECT: '0' } });
  await until(() => c.gcs.nodes.size === 2, { what: 'the second node' });
  const lostRuns = countLostRuns(c);
  // A task sent straight to the leased node, running there when it stops.
  gate = fileGate();
  const slow = m.remote(async (path: string, x: number) => {
    const fs = process.getBuiltinModule('node:fs');
    while (!fs.existsSync(path)) await new Promise((r) => setTimeout(r, 20));
    return x;
  });
  const sent0 = d.counts.sent;
  const slowRef = slow.remote(gate.path, 7);
  expect(d.counts.sent).toBe(sent0 + 1);
  await until(() => c.gcs.tasks.get(taskOfObject(slowRef.id))?.state === 'running', { timeoutMs: 30_000, what: 'the slow task running there' });
  added.proc.kill('SIGSTOP');
  await until(() => c.membership.hold.size === 1 && d.heldNodes === 1, {
    timeoutMs: 30_000,
    what: () => `the node held (${c.membership.hold.size}) and its driver told (${d.heldNodes})`,
  });
  expect(c.leases.suspended).toBe(1);
  const sentHeld = d.counts.sent;
  await sequential(m, 30, 0, {
    stallMs: 20_000,
    totalMs: 60_000,
    state: () => `sent straight ${d.counts.sent - sentHeld} while held; ${JSON.stringify(d.counts)}`,
  });
  expect(d.counts.sent).toBe(sentHeld);
  expect(c.membership.hold.size).toBe(1);
  added.proc.kill('SIGCONT');
  await until(() => c.membership.hold.size === 0 && d.heldNodes === 0, { timeoutMs: 30_000, what: 'the node back, its driver told' });
  expect(c.leases.resumed).toBe(1);
  gate.open();
  expect(await m.get(slowRef, { timeoutMs: 60_000 })).toBe(7);
  // Back: sequential tasks go straight to it again.
  await leased(m, node);
  expect(d.counts.sent).toBeGreaterThan(sentHeld);
  const t = c.gcs.tasks.get(taskOfObject(slowRef.id));
  expect(t === undefined || t.spec.attempt === 0).toBe(true);
  expect(lostRuns()).toBe(0);
  expect(c.leases.revoked).toBe(0);
  expect(c.membership.counts.nodesLostSilent).toBe(0);
  console.log(`direct lease to a held node: driver counts ${JSON.stringify(d.counts)}; leases suspended ${c.leases.suspended}, resumed ${c.leases.resumed}`);
}, 180_000);
