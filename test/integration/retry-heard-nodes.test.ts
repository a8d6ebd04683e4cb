// A retried task goes to a node heard from lately when one has room (session 31): its last run was lost on a node
// taken for lost, most likely starved, and a node silent past its keepalive window may be starving too (bench:scale's
// 20,000-node job at load 28 lost a task to one starved node after another until it had no retries left). Here the
// least loaded node, first in join order, is silent (it never speaks); the retry goes to the other one.
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Cluster } from '../helpers/cluster.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import type { WebSocketCtor } from '../../shared/api/socket.js';
import { taskOfObject, type NodeId } from '../../shared/ids.js';
import { inThread } from '../helpers/in-thread.js';
import { rawNode, type RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/poll.js';

let cl: Cluster | undefined;
const raws: RawClient[] = [];
let b: NodeRuntime | undefined;
afterEach(async () => {
  for (const r of raws.splice(0)) r.ws.terminate();
  await b?.close();
  await cl?.stop();
  cl = b = undefined;
});

it('a retried task skips a node silent past its keepalive window for one heard from, though that one is no less loaded', async () => {
  // Silence alone takes no node for lost here; the keepalive window is 2 s, overdue a beat (1 s) past it.
  cl = await Cluster.start({ nodes: 0, heartbeatMs: 1000, deadAfterMs: 60_000 });
  const c = cl.c.coordinator;
  const lost = await rawNode(cl.url, 'lost', 2, false);
  raws.push(lost);
  const m = await cl.driver({ groups: false });
  const inc = m.remote((x: number) => x + 1, { maxRetries: 1 });
  const ref = inc.remote(1);
  const id = taskOfObject(ref.id);
  await lost.until(() => lost.of('assign').some((a) => a.spec.taskId === id), 'the assign');
  lost.send({ t: 'started', taskId: id, attempt: 0, ex: 0 });
  await lost.until(() => c.gcs.tasks.get(id)?.state === 'running', 'the task recorded running');
  const silent = await rawNode(cl.url, 'silent', 4, false);
  raws.push(silent);
  b = new NodeRuntime(
    { url: cl.url, kind: 'edge', name: 'heard', cpus: 1, storeBytes: 16 << 20 },
    { spawnExecutor: inThread, WebSocket: WebSocket as unknown as WebSocketCtor },
  );
  await b.ready;
  const rec = c.gcs.nodes.get(silent.welcome.nodeId as NodeId)!;
  (rec as { lastSeen: number }).lastSeen = Date.now() - 20_000; // silent 20 s (white-box: a starved node's silence without the wait)
  // Overdue once no stall of the coordinator's own loop (which forgives every node a heartbeat's silence) is recent.
  const heard = c.gcs.nodes.get(b.nodeId!)!;
  await until(() => c.membership.overdue(rec) && !c.membership.overdue(heard), { timeoutMs: 20_000, what: 'the silent node overdue, the other not' });
  lost.ws.terminate(); // its run is lost: the task is queued again as attempt 1
  expect(await m.get(ref, { timeoutMs: 20_000 })).toBe(2);
  expect(c.gcs.tasks.get(id)!.ranOn).toBe(b.nodeId);
  expect(silent.of('assign')).toHaveLength(0);
}, 60_000);
