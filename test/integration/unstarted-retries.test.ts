// A node lost before it started a task spends none of the task's retries (session 31). bench:scale's 20,000-node
// job failed "no retries left" at load 28: starved node processes were taken for lost while tasks waited in their
// queues, and each loss counted as a run, so a retried task placed on the next starved node ran out. As Ray, whose
// owner asks another lease for a task no worker was pushed, only a run that started counts. Here a raw node takes
// three tasks of maxRetries 0, says `started` for one only, and dies: the two it never started run on another node,
// the one it started fails as lost. The same for a task group's slice: members report running with `groupStarted`
// (shared/node/groups.ts), a real node's long member says so.
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Cluster } from '../helpers/cluster.js';
import { NodeRuntime } from '../../shared/node/runtime.js';
import type { WebSocketCtor } from '../../shared/api/socket.js';
import { taskOfObject } from '../../shared/ids.js';
import { until } from '../helpers/poll.js';
import { inThread } from '../helpers/in-thread.js';
import { rawNode, type RawClient } from '../helpers/raw-client.js';

let cl: Cluster | undefined;
let raw: RawClient | undefined;
let b: NodeRuntime | undefined;
afterEach(async () => {
  raw?.ws.terminate();
  await b?.close();
  await cl?.stop();
  cl = raw = b = undefined;
});

it('a node lost with tasks it never started: they run elsewhere without spending a retry; the one it started is lost', async () => {
  cl = await Cluster.start({ nodes: 0, deadAfterMs: 60_000 }); // silence alone takes no node for lost here
  const c = cl.c.coordinator;
  raw = await rawNode(cl.url, 'starved', 2, false);
  const m = await cl.driver({ groups: false });
  const inc = m.remote((x: number) => x + 1, { maxRetries: 0 });
  const refs = [1, 2, 3].map((x) => inc.remote(x));
  const ids = new Set(refs.map((r) => taskOfObject(r.id)));
  await raw.until(() => raw!.of('assign').filter((a) => ids.has(a.spec.taskId)).length === 3, 'three assigns');
  const first = raw.of('assign').find((a) => a.spec.taskId === taskOfObject(refs[0].id))!;
  raw.send({ t: 'started', taskId: first.spec.taskId, attempt: first.spec.attempt, ex: 0 });
  await raw.until(() => c.gcs.tasks.get(first.spec.taskId)?.state === 'running', 'the first task recorded running');
  b = new NodeRuntime(
    { url: cl.url, kind: 'edge', name: 'healthy', cpus: 2, storeBytes: 16 << 20 },
    { spawnExecutor: inThread, WebSocket: WebSocket as unknown as WebSocketCtor },
  );
  await b.ready;
  raw.ws.terminate(); // lost: its close event comes at once
  expect(await m.get(refs.slice(1), { timeoutMs: 20_000 })).toEqual([3, 4]);
  await expect(m.get(refs[0], { timeoutMs: 20_000 })).rejects.toMatchObject({ name: 'NodeLostError' });
  // The two re-queued ran as their next attempt (fresh child ids), not counted against maxRetries 0.
  expect(c.gcs.tasks.get(taskOfObject(refs[1].id))?.spec.attempt).toBe(1);
}, 60_000);

it('task groups: a node lost with a slice: the members it never reported running run elsewhere without spending a retry; the one it did is lost', async () => {
  cl = await Cluster.start({ nodes: 0, deadAfterMs: 60_000, groups: true });
  const c = cl.c.coordinator;
  raw = await rawNode(cl.url, 'starved', 4, true);
  const m = await cl.driver({ groups: true });
  const inc = m.remote((x: number) => x + 1, { maxRetries: 0 });
  const refs = [1, 2, 3, 4, 5, 6].map((x) => inc.remote(x)); // one turn: one group (MIN_GROUP 4)
  await raw.until(() => raw!.of('assignGroup').length > 0, 'a slice');
  const sl = raw.of('assignGroup')[0];
  expect(sl.idx).toContain(0);
  expect(sl.idx.length).toBeGreaterThan(1); // members it will never start beside the one it does
  expect(c.statsJson().groupsSubmitted).toBe(1);
  raw.send({ t: 'groupStarted', g: sl.spec.taskId, s: sl.s, idx: [0] });
  const grp = c.groups!.table.groups.get(sl.spec.taskId)!;
  await until(() => grp.startedOn?.[0] === sl.s, { what: 'member 0 recorded running' });
  b = new NodeRuntime(
    { url: cl.url, kind: 'edge', name: 'healthy', cpus: 2, storeBytes: 16 << 20 },
    { spawnExecutor: inThread, WebSocket: WebSocket as unknown as WebSocketCtor },
  );
  await b.ready;
  raw.ws.terminate();
  expect(await m.get(refs.slice(1), { timeoutMs: 20_000 })).toEqual([3, 4, 5, 6, 7]);
  await expect(m.get(refs[0], { timeoutMs: 20_000 })).rejects.toMatchObject({ name: 'NodeLostError' });
}, 60_000);

it('task groups: a member still running a few ms after its dispatch is reported `groupStarted` by a real node', async () => {
  cl = await Cluster.start({ nodes: 1, cpus: 2, groups: true });
  const c = cl.c.coordinator;
  const m = await cl.driver({ groups: true });
  const slow = m.remote(async (ms: number) => {
    await new Promise((r) => setTimeout(r, ms));
    return ms;
  });
  const refs = [400, 0, 0, 0, 0, 0].map((ms) => slow.remote(ms)); // one group (MIN_GROUP 4)
  const grp = () => [...c.groups!.table.groups.values()][0];
  await until(() => grp()?.startedOn?.[0] !== undefined && grp()!.startedOn![0] >= 0, { what: 'the long member reported running' });
  expect(await m.get(refs, { timeoutMs: 20_000 })).toEqual([400, 0, 0, 0, 0, 0]);
}, 60_000);
