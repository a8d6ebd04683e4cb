// A node holds its direct tasks' reports for a later frame (LATER_MS; coordinator/scheduler/direct-hurry.ts):
// what waits on such a task at the coordinator asks the node for them (`hurry`). The node here holds them for ten
// minutes (TABMESH_TEST_LATER_MS) and beats once a minute, so only the ask can bring them before the get's timeout.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';
import { coreOf, sequential } from '../helpers/sequential.js';
import { traffic } from '../../coordinator/traffic.js';
import type { Mesh } from '../../shared/api/mesh.js';

/** Direct submission on, and the node's direct reports held far past every timeout below (keepalives come at 15 s). */
const HELD = { TABMESH_DIRECT: '1', TABMESH_TEST_LATER_MS: '600000' };

/** Runs sequential tasks until the driver holds a lease on the node and their link is open. */
async function leased(cl: Cluster, m: Mesh): Promise<void> {
  const node = [...cl.c.coordinator.gcs.nodes.keys()][0];
  await until(
    async () => {
      await sequential(m, 2);
      return coreOf(m).links?.isOpen(node) === true && (coreOf(m).direct?.counts.sent ?? 0) > 0;
    },
    { timeoutMs: 15_000, what: 'a lease on the node and a link to it' },
  );
}

describe('hurry: the coordinator asks a node for a held direct report', () => {
  let cl: Cluster | undefined;
  afterEach(async () => {
    await cl?.stop();
    cl = undefined;
  });

  it("a task whose argument is a direct task's output runs without waiting for the node's deadline; sequential tasks ask nothing", async () => {
    // Heartbeats a minute apart: a changed load rides only on the node's other frames, so no tick brings the report either.
    cl = await Cluster.start({ nodes: 0, heartbeatMs: 60_000, deadAfterMs: 600_000 });
    await cl.addNode({ cpus: 2, env: HELD });
    const m = await cl.driver({ direct: true });
    await leased(cl, m);
    // The driver's own gets: their values come by the shortcut, the coordinator asks the node nothing.
    const hurries = traffic.outOf('hurry');
    await sequential(m, 50);
    expect(traffic.outOf('hurry') - hurries).toBe(0);

    const inc = m.remote((x: number) => x + 1);
    const sent = coreOf(m).direct!.counts.sent;
    for (let i = 0; i < 3; i++) {
      const a = inc.remote(i * 10); // plain and inline: straight to the node
      const b = inc.remote(a); // a ref argument: through the coordinator, which waits for a's report
      expect(await m.get(b, { timeoutMs: 8_000 })).toBe(i * 10 + 2);
      m.free([a, b]);
    }
    expect(coreOf(m).direct!.counts.sent - sent).toBeGreaterThanOrEqual(3);
    expect(traffic.outOf('hurry') - hurries).toBeGreaterThanOrEqual(1);
  });

  it('asked while the direct task still runs: its report goes the moment it ends', async () => {
    cl = await Cluster.start({ nodes: 0, heartbeatMs: 60_000, deadAfterMs: 600_000 });
    await cl.addNode({ cpus: 2, env: HELD });
    const m = await cl.driver({ direct: true });
    await leased(cl, m);
    const slow = m.remote((x: number) => {
      const end = Date.now() + 400;
      while (Date.now() < end);
      return x;
    });
    const inc = m.remote((x: number) => x + 1);
    const sent = coreOf(m).direct!.counts.sent;
    const hurries = traffic.outOf('hurry');
    const a = slow.remote(41);
    const b = inc.remote(a); // its submission reaches the coordinator (and the ask the node) while `a` runs
    expect(await m.get(b, { timeoutMs: 8_000 })).toBe(42);
    expect(coreOf(m).direct!.counts.sent - sent).toBe(1);
    expect(traffic.outOf('hurry') - hurries).toBeGreaterThanOrEqual(1);
  });
});
