// Direct submission (issue 14, session 15; shared/protocol/direct.ts): a
// driver holding a lease on a node pushes its plain sequential tasks straight
// to it over their TCP link; the coordinator records them from the driver's
// own submit and sends no assign. Counted, not timed, against a real
// coordinator, real edge-node processes and real links.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';
import { taskOfObject, type NodeId } from '../../shared/ids.js';
import { traffic } from '../../coordinator/traffic.js';
import type { DriverCore } from '../../shared/api/driver.js';
import type { Mesh } from '../../shared/api/mesh.js';

const coreOf = (m: Mesh): DriverCore => m.core as DriverCore;

/** Runs `n` tasks of `f` one after another (get, then free), checking each value. */
async function sequential(m: Mesh, n: number, from = 0): Promise<void> {
  const twice = m.remote((x: number) => x * 2);
  for (let i = from; i < from + n; i++) {
    const r = twice.remote(i);
    expect(await m.get(r)).toBe(i * 2);
    m.free(r);
  }
}

/** Runs sequential tasks until the driver holds a lease on `node` and their TCP link is open. */
async function leased(m: Mesh, node: string): Promise<void> {
  await until(
    async () => {
      await sequential(m, 2);
      return coreOf(m).links?.isOpen(node) === true && (coreOf(m).direct?.counts.sent ?? 0) > 0;
    },
    { timeoutMs: 15_000, what: 'a lease on the node and a link to it' },
  );
}

describe('direct submission', () => {
  let cl: Cluster | undefined;
  afterEach(async () => {
    await cl?.stop();
    cl = undefined;
  });

  it('a driver with a lease sends its sequential tasks straight to the node: no assign, the GCS records each one, results are exact', async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    const m = await cl.driver();
    const node = [...cl.c.coordinator.gcs.nodes.keys()][0];
    await leased(m, node);
    const d = coreOf(m).direct!;
    const sent = d.counts.sent;
    const assigns = traffic.outOf('assign');
    const readies = traffic.outOf('ready');
    const finished = cl.c.coordinator.gcs.stats.tasksFinished;
    await sequential(m, 100, 10);
    expect(d.counts.sent - sent).toBe(100);
    expect(d.counts.refused).toBe(0);
    expect(traffic.outOf('assign') - assigns).toBe(0);
    expect(traffic.outOf('ready') - readies).toBe(0);
    await until(() => cl!.c.coordinator.gcs.stats.tasksFinished - finished >= 100, { what: 'the GCS to record them' });
    expect(cl.c.coordinator.gcs.stats.tasksFinished - finished).toBe(100);
    await until(() => [...cl!.c.coordinator.gcs.objects.values()].every((o) => o.job !== coreOf(m).jobId), { what: 'the freed results to go' });
  });
});
