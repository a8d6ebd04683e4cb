// A node that leaves on purpose says so (`leaving`, session 31): the coordinator places nothing more on it and
// places again at once what it had not started, not at the socket's close event, which waits seconds on a starved
// peer (here: a socket that stays closing, ws's 30 s). Tasks of maxRetries 0: a hand-back spends no retry.
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Cluster } from '../helpers/cluster.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import type { WebSocketCtor } from '../../shared/api/socket.js';
import { taskOfObject } from '../../shared/ids.js';
import { inThread } from '../helpers/in-thread.js';
import { until } from '../helpers/poll.js';
import { rawNode, type RawClient } from '../helpers/raw-client.js';
import { stuckOnClose } from '../helpers/stuck-close.js';

let cl: Cluster | undefined;
let raw: RawClient | undefined;
let stuck: WebSocket | undefined;
const nodes: NodeRuntime[] = [];
const closing: Promise<void>[] = [];
afterEach(async () => {
  raw?.ws.terminate();
  stuck?.terminate();
  await Promise.all([...closing.splice(0), ...nodes.splice(0).map((n) => n.close())]);
  await cl?.stop();
  cl = raw = stuck = undefined;
});

function node(name: string, cpus: number, ctor: WebSocketCtor = WebSocket as unknown as WebSocketCtor): NodeRuntime {
  const rt = new NodeRuntime({ url: cl!.url, kind: 'edge', name, cpus, storeBytes: 16 << 20 }, { spawnExecutor: inThread, WebSocket: ctor });
  nodes.push(rt);
  return rt;
}

it('tabmesh node leaving: its queued task runs elsewhere at once, while its socket has not ended', async () => {
  cl = await Cluster.start({ nodes: 0, deadAfterMs: 60_000 }); // silence alone takes no node for lost here
  const c = cl.c.coordinator;
  const s = stuckOnClose();
  const a = node('leaving', 1, s.ctor);
  const b = node('staying', 2);
  await Promise.all([a.ready, b.ready]);
  const m = await cl.driver({ groups: false });
  // Both on A (soft affinity: elsewhere once A cannot take them); neither is asked back by work stealing.
  const on = { scheduling: { node: a.nodeId!, soft: true }, maxRetries: 0 };
  const long = m.remote(() => new Promise<number>((r) => setTimeout(() => r(0), 60_000)), on);
  const inc = m.remote((x: number) => x + 1, on);
  const l = long.remote();
  await until(() => c.gcs.tasks.get(taskOfObject(l.id))?.state === 'running', { what: 'the long task running on A' });
  const q = inc.remote(1);
  const qt = () => c.gcs.tasks.get(taskOfObject(q.id));
  await until(() => qt()?.state === 'assigned' && qt()?.node?.id === a.nodeId, { what: 'the short task queued on A behind it' });
  nodes.splice(nodes.indexOf(a), 1);
  closing.push(a.close());
  stuck = s.last();
  expect(await m.get(q, { timeoutMs: 15_000 })).toBe(2);
  expect(qt()!.ranOn).toBe(b.nodeId);
  expect(qt()!.spec.attempt).toBe(0); // handed back, not a retry
  expect(c.gcs.nodes.has(a.nodeId!)).toBe(true); // its close event has not come: the hand-back did not wait for it
}, 60_000);

it('a node says `leaving`: what the coordinator sent it that it never started goes elsewhere; nothing more is placed on it', async () => {
  cl = await Cluster.start({ nodes: 0, deadAfterMs: 60_000 }); // silence alone takes no node for lost here
  const c = cl.c.coordinator;
  raw = await rawNode(cl.url, 'leaving', 2, false);
  const m = await cl.driver({ groups: false });
  const inc = m.remote((x: number) => x + 1, { maxRetries: 0 });
  const refs = [1, 2, 3].map((x) => inc.remote(x));
  const ids = new Set(refs.map((r) => taskOfObject(r.id)));
  await raw.until(() => raw!.of('assign').filter((x) => ids.has(x.spec.taskId)).length === 3, 'three assigns');
  const b = node('staying', 2);
  await b.ready;
  raw.send({ t: 'leaving' });
  expect(await m.get(refs, { timeoutMs: 15_000 })).toEqual([2, 3, 4]);
  const assigned = raw.of('assign').length;
  expect(
    await m.get(
      Array.from({ length: 30 }, (_, i) => inc.remote(i)),
      { timeoutMs: 15_000 },
    ),
  ).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  expect(raw.of('assign').length).toBe(assigned);
  expect(c.gcs.nodes.has(raw.welcome.nodeId!)).toBe(true); // its socket is open: the hand-back came from `leaving`
  expect(c.gcs.stats.tasksRetried).toBe(0);
}, 60_000);
