// A hard pin to a live coordinator whose link does not come back (issue 14, session 23). A link node's id is its
// coordinator's mesh id, so a task hard-pinned to it waits while that coordinator lives (a flap: test/redis/
// mesh-pin-flap). When the link stays down (here: A's join token was rotated and B's was not, so A refuses the hello
// of B's agent), the task waited forever and its driver heard nothing. Now the driver is warned (PINNED_NODE_AWAY,
// event `task-pin-waiting`) and past the bound (`meshPinWaitMs`) the task fails with NodeLostError naming the link and
// the refusal, as Ray's hard node affinity does when its node is unreachable; the link back, a pin runs there again.
// Real coordinators (in-process) on a real redis-server, real edge nodes.
import { describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { startEdgeNode, type EdgeNode } from '../../edge/node.js';
import type { NodeRecord } from '../../coordinator/gcs/tables.js';
import { useRedis } from '../helpers/redis.js';
import { linkedInProcess, type CoordinatorRow, closeInProcess } from '../helpers/mesh.js';
import { getJson } from '../helpers/processes.js';
import { until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

declare const mesh: Mesh; // inside tasks

let driver: Mesh | undefined;
const inProcess: (RunningCoordinator | EdgeNode)[] = [];
const redis = useRedis(async () => {
  await driver?.close().catch(() => {});
  driver = undefined;
  await closeInProcess(inProcess);
});

const idOf = (c: RunningCoordinator) => (c.coordinator.mesh as unknown as { id: string }).id;
/** A's node standing for coordinator `peer` (its link), if any. */
const linkOf = (c: RunningCoordinator, peer: string) => [...c.coordinator.gcs.nodes.values()].find((n) => n.link === peer) as NodeRecord | undefined;

/** The bound of the test: a hard pin waits 6 s for the link (the driver is told at 3 s). */
const PIN_WAIT_MS = 6000;

describe('a hard pin to a live coordinator whose link stays down', () => {
  it('warns the driver, fails past the bound with the refusal named, and runs there again once the link is back', async () => {
    const { a, b, token } = await linkedInProcess(redis.server.url, 'pinaway', inProcess, { joinToken: 'join-1', meshPinWaitMs: PIN_WAIT_MS });
    const bId = idOf(b);
    const bNode = [...b.coordinator.gcs.nodes.values()].find((n) => n.link === undefined)!.id;
    await until(() => (linkOf(a, bId)?.resources.cpu ?? 0) >= 2, { timeoutMs: 15_000, what: "A's link to B offering B's CPUs" });
    const warnings: { code: string; message: string }[] = [];
    driver = await connect({ url: a.url, token, onWarning: (code, message) => warnings.push({ code, message }) });
    const m = driver;
    const pinned = m
      .remote(async (ms: number) => {
        await new Promise((r) => setTimeout(r, ms));
        return mesh.runtimeContext().nodeId;
      })
      .options({ scheduling: { node: bId, soft: false } });
    // Running on B when the link goes down for good: A's join token rotated, B's agent still says hello with the old.
    const held = pinned.remote(20_000);
    await until(() => linkOf(a, bId)?.tasks.size === 1, { timeoutMs: 15_000, what: 'the pinned task on B' });
    a.coordinator.tokens.set('join', 'join-2');
    [...a.coordinator.sessions].find((s) => s.meshLink === bId && !s.closed)!.ws.close(1006);
    await until(() => warnings.some((w) => w.code === 'PINNED_NODE_AWAY'), { timeoutMs: 30_000, what: 'a warning to the driver' });
    const warning = warnings.find((w) => w.code === 'PINNED_NODE_AWAY')!.message;
    expect(warning).toContain(`pinned (node affinity, not soft) to node ${bId}, another coordinator's link`);
    expect(warning).toContain('UNAUTHORIZED');
    expect(a.coordinator.gcs.events.some((e) => e.kind === 'task-pin-waiting' && e.message === warning)).toBe(true);
    // Past the bound: NodeLostError, naming the node, the link and why it is down.
    const failed =
      /it is pinned \(node affinity, not soft\) to node [0-9a-f]{16}, which is not in the mesh: it is another coordinator's link, down for \d+ s while that coordinator lives \(its link was refused here: UNAUTHORIZED/;
    await expect(m.get(held, { timeoutMs: 30_000 })).rejects.toThrow(failed);
    // B lives all along (its record), and a pin made now fails too, without waiting for the bound again.
    const rows = (await getJson<CoordinatorRow[]>(a.url, '/api/coordinators', token)) ?? [];
    expect(rows.map((r) => r.id).sort()).toEqual([idOf(a), bId].sort());
    await expect(m.get(pinned.remote(0), { timeoutMs: 30_000 })).rejects.toThrow(failed);
    // The same token again: B's next hello links, and a pin to B runs on B's node.
    a.coordinator.tokens.set('join', 'join-1');
    await until(() => linkOf(a, bId) !== undefined, { timeoutMs: 15_000, what: 'the link of B back on A' });
    expect(await m.get(pinned.remote(0), { timeoutMs: 60_000 })).toBe(bNode);
    expect(warnings.filter((w) => w.code === 'PINNED_NODE_AWAY')).toHaveLength(1);
  }, 120_000);

  it('fails once its coordinator restarted (a new node with a new id), saying so and naming the new id', async () => {
    const { a, b, token } = await linkedInProcess(redis.server.url, 'pinrestart', inProcess);
    const bId = idOf(b);
    await until(() => (linkOf(a, bId)?.resources.cpu ?? 0) >= 2, { timeoutMs: 15_000, what: "A's link to B offering B's CPUs" });
    driver = await connect({ url: a.url, token, onWarning: () => {} });
    const m = driver;
    const work = (node: string) =>
      m
        .remote(async (ms: number) => {
          await new Promise((r) => setTimeout(r, ms));
          return mesh.runtimeContext().nodeId;
        })
        .options({ scheduling: { node, soft: false } });
    const held = work(bId).remote(20_000);
    await until(() => linkOf(a, bId)?.tasks.size === 1, { timeoutMs: 15_000, what: 'the pinned task on B' });
    // B restarts on the same port (the same URL), on the same Redis.
    inProcess.splice(inProcess.indexOf(b), 1);
    await b.close();
    const left = `to node ${bId}, which is not in the mesh: it stood for coordinator ${bId} (${b.url}), which left the mesh: a coordinator that restarts is a new node with a new id`;
    await expect(m.get(held, { timeoutMs: 30_000 })).rejects.toThrow(left);
    const b2 = await startCoordinator({ redis: { url: redis.server.url, prefix: 'pinrestart' }, port: Number(new URL(b.url).port), token, httpLimits: false });
    inProcess.push(b2);
    inProcess.push(await startEdgeNode({ coordinator: b2.url, cpus: 2, reconnect: false }));
    const b2Id = idOf(b2);
    expect(b2.url).toBe(b.url);
    expect(b2Id).not.toBe(bId);
    await until(() => (linkOf(a, b2Id)?.resources.cpu ?? 0) >= 2, { timeoutMs: 15_000, what: "A's link to the restarted B" });
    await until(async () => ((await getJson<CoordinatorRow[]>(a.url, '/api/coordinators', token)) ?? []).some((r) => r.id === b2Id), {
      timeoutMs: 15_000,
      what: 'A to list the restarted B',
    });
    // A pin to the old id fails at once, naming the id its URL has now; a pin to that id runs on the new B's node.
    await expect(m.get(work(bId).remote(0), { timeoutMs: 30_000 })).rejects.toThrow(
      `${left}, as a restarted raylet is in Ray; ${b.url} is coordinator ${b2Id} now`,
    );
    const b2Node = [...b2.coordinator.gcs.nodes.values()].find((n) => n.link === undefined)!.id;
    expect(await m.get(work(b2Id).remote(0), { timeoutMs: 60_000 })).toBe(b2Node);
    // A keeps agent numbers for the coordinators of the mesh only: the old B's went with it (one entry per coordinator
    // ever seen stayed in each of three maps: a long-lived mesh whose coordinators restart grew them for good).
    const inA = a.coordinator.mesh as unknown as { agents: { tags: Map<string, number> }; links: { remembered: number } };
    await until(() => inA.links.remembered === 1 && [...inA.agents.tags.keys()].join() === b2Id, {
      timeoutMs: 15_000,
      what: "A to forget the old B's agent numbers",
    });
  }, 120_000);

  it('on a coordinator with no node of its own: warned, then failed (its passes stopped at "no node has joined")', async () => {
    const token = 'pinbare-' + Math.random().toString(36).slice(2);
    const start = async () => {
      const c = await startCoordinator({
        redis: { url: redis.server.url, prefix: 'pinbare' },
        port: 0,
        token,
        httpLimits: false,
        joinToken: 'join-1',
        meshPinWaitMs: PIN_WAIT_MS,
      });
      inProcess.push(c);
      return c;
    };
    const a = await start();
    const b = await start();
    inProcess.push(await startEdgeNode({ coordinator: b.url, cpus: 2, reconnect: false, joinToken: 'join-1' }));
    const bId = idOf(b);
    // Linked both ways: A takes B for live (its agent for B says hello once A's registry lists B; a pin to a link
    // whose coordinator A does not list yet is a pin to a node gone).
    await until(() => a.coordinator.membership.links === 1 && b.coordinator.membership.links === 1, { timeoutMs: 15_000, what: 'both linked' });
    await until(() => (linkOf(a, bId)?.resources.cpu ?? 0) >= 2, { timeoutMs: 15_000, what: "A's link to B offering B's CPUs" });
    const warnings: { code: string; message: string }[] = [];
    driver = await connect({ url: a.url, token, onWarning: (code, message) => warnings.push({ code, message }) });
    const m = driver;
    const pinned = m.remote((ms: number) => new Promise((r) => setTimeout(() => r(ms), ms))).options({ scheduling: { node: bId, soft: false } });
    const held = pinned.remote(20_000);
    await until(() => linkOf(a, bId)?.tasks.size === 1, { timeoutMs: 15_000, what: 'the pinned task on B' });
    a.coordinator.tokens.set('join', 'join-2');
    [...a.coordinator.sessions].find((s) => s.meshLink === bId && !s.closed)!.ws.close(1006);
    await until(() => warnings.some((w) => w.code === 'PINNED_NODE_AWAY'), {
      timeoutMs: 30_000,
      what: () =>
        `a warning to the driver (warnings ${JSON.stringify(warnings)}, A's last events ${JSON.stringify(a.coordinator.gcs.events.slice(-30).map((e) => [e.kind, e.message.slice(0, 140)]))} queued ${a.coordinator.scheduler.queuedCount}, nodes [${[...a.coordinator.gcs.nodes.keys()].join()}])`,
    });
    await expect(m.get(held, { timeoutMs: 30_000 })).rejects.toThrow(`to node ${bId}, which is not in the mesh: it is another coordinator's link`);
    expect(a.coordinator.gcs.nodes.size).toBe(0);
  }, 120_000);
});
