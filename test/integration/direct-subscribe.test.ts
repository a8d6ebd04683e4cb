// A direct task's subscribe rides a later frame (issue 14, session 24). When the task's value comes by the
// node's shortcut before that frame leaves, the driver takes the subscribe back and says no `took` (session
// 25): for a sequential task the coordinator decoded and filed both for nothing. A shortcut that does not come
// leaves the subscribe as it was (test/integration/shortcuts: a node that says `sc` and sends nothing).
// Counted, not timed, against a real coordinator, a real edge node and a real link.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { until } from '../helpers/poll.js';
import { coreOf, sequential } from '../helpers/sequential.js';
import { leasedDriver, recorded } from '../helpers/direct-driver.js';
import { traffic } from '../../coordinator/traffic.js';

describe("a direct task's subscribe", () => {
  let cl: Cluster | undefined;
  afterEach(async () => {
    await cl?.stop();
    cl = undefined;
  });

  it('200 sequential direct tasks, each answered by its shortcut: the coordinator is sent a subscribe for few of them, and the results are exact', async () => {
    cl = await Cluster.start({ nodes: 0 });
    const { m, d } = await leasedDriver(cl);
    await recorded(cl, m);
    // A subscribe also leaves when LATER_MS (8 ms) pass before its shortcut comes: under load (30-40, helpers' runs
    // beside) most round trips take longer, and more than 100 of 200 left (session 37: 128 with the deadline at 1 ms).
    // What is counted here is what rode a frame pushed meanwhile: the deadline is put past any round trip.
    (coreOf(m) as unknown as { outbox: { laterMs: number } }).outbox.laterMs = 2_000;
    const sc = coreOf(m).shortcuts.counts;
    const [sent, taken, subscribes, finished] = [d.counts.sent, sc.taken, traffic.inOf('subscribe'), cl.c.coordinator.gcs.stats.tasksFinished];
    await sequential(m, 200);
    expect(d.counts.sent - sent).toBe(200);
    expect(sc.taken - taken).toBe(200);
    // Those that left before their shortcut came: a frame pushed meanwhile (the receipt every 32 tasks).
    expect(traffic.inOf('subscribe') - subscribes).toBeLessThan(100);
    await until(() => cl!.c.coordinator.gcs.stats.tasksFinished - finished >= 200, { timeoutMs: 60_000, what: 'the GCS to record them' });
    await until(() => [...cl!.c.coordinator.gcs.objects.values()].every((o) => o.job !== coreOf(m).jobId), {
      timeoutMs: 60_000,
      what: 'the freed results to go',
    });
  });
});
