// A driver with direct submission on (issue 14, shared/protocol/direct.ts),
// leased to a node of a test cluster: the setups test/integration/direct*
// share (a driver whose frames a test holds, FrameGate).
import { Cluster } from './cluster.js';
import { until } from './poll.js';
import { coreOf, sequential } from './sequential.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { ConnectOptions } from '../../shared/api/connect-options.js';
import { FrameGate } from './held-socket.js';
import { TERMINAL } from '../../coordinator/gcs/tables.js';

/** Direct submission is on by default; said anyway, so that a run with TABMESH_DIRECT=0 in its environment tests it too. */
export const ON = { TABMESH_DIRECT: '1' };

/**
 * Until every task `m` submitted is recorded and has ended in the GCS: a direct task's value comes before its record
 * (the driver's submit rides on a later frame: a barrier sends it) and before its report.
 */
export async function recorded(cl: Cluster, m: Mesh): Promise<void> {
  await coreOf(m).objects.sync();
  const job = coreOf(m).jobId;
  const groups = cl.c.coordinator.groups?.table;
  await until(
    () =>
      [...cl.c.coordinator.gcs.tasks.values()].every((t) => t.spec.jobId !== job || TERMINAL.has(t.state)) &&
      // A task group's members are columns of its record, not task records (issue 14): none queued or on a node.
      [...(groups?.ofJob(job as never) ?? [])].every((g) => g.queued + g.running === 0),
    { what: "the job's tasks recorded ended" },
  );
}

/** Runs sequential tasks until the driver holds a lease on `node` and their TCP link is open. */
export async function leased(m: Mesh, node: string): Promise<void> {
  await until(
    async () => {
      await sequential(m, 2);
      return coreOf(m).links?.isOpen(node) === true && (coreOf(m).direct?.counts.sent ?? 0) > 0;
    },
    { timeoutMs: 15_000, what: 'a lease on the node and a link to it' },
  );
}

/**
 * One direct node (of `cpus`) and a driver with direct submission (on `more`'s socket, if given), leased to it.
 * Its tasks go alone (no task groups: a turn's calls of one function would leave as a group, not straight to the node).
 */
export async function leasedDriver(cl: Cluster, more: Partial<ConnectOptions> = {}, cpus = 2) {
  const added = await cl.addNode({ cpus, env: ON });
  const m = await cl.driver({ groups: false, ...more, direct: true });
  const node = [...cl.c.coordinator.gcs.nodes.keys()][0];
  await leased(m, node);
  return { added, m, node, d: coreOf(m).direct! };
}

/** One direct node and a driver whose frames a test holds (FrameGate), leased to the node; its warnings kept. */
export async function gatedLeased(cl: Cluster) {
  const gate = new FrameGate();
  const { added, m, node, d } = await leasedDriver(cl, { WebSocket: gate.socket() });
  const warnings: string[] = [];
  coreOf(m).onWarning = (code, message) => warnings.push(`${code}: ${message}`);
  return { added, gate, m, node, d, warnings };
}
