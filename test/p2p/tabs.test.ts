// Issue 4 with real tabs: objects move peer-to-peer between volunteer tabs and
// edge nodes; a cut link or a corrupted chunk still yields the right bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { openVolunteers, volunteerEval, type VolunteerTab } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';
import { HASH_CHUNK } from '../../shared/hash.js';
import { moveBytes } from './move-bytes.js';

const MB = 2 ** 20;

describe('peer links between tabs and edge nodes', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tabA: VolunteerTab;
  let tabB: VolunteerTab;
  let edge: NodeId;
  let mesh: Mesh;

  beforeAll(async () => {
    // Dead after 30 s without a heartbeat (as memory.test.ts): the file runs beside another (project `paired`), and
    // under load a tab's main thread was once held past the default window, the tab taken for gone mid-case (session 33).
    [cl, b] = await withBrowser(Cluster.start({ nodes: 1, cpus: 1, deadAfterMs: 30_000 }));
    edge = [...cl.c.coordinator.gcs.nodes.keys()][0];
    [[tabA, tabB], mesh] = await Promise.all([
      openVolunteers(cl, b, [
        { cpus: 1, memoryMb: 256 },
        { cpus: 1, memoryMb: 256 },
      ]),
      cl.driver(),
    ]);
  }, 90_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
  });

  const on = (node: string) => ({ scheduling: { node: node as NodeId, soft: false } });

  /** moveBytes, and with P2P_DEBUG both tabs' event logs after it. */
  async function move(from: string, to: string, n: number, seed: number) {
    const d = await moveBytes(cl, mesh, from, to, n, seed);
    if (process.env.P2P_DEBUG) for (const t of [tabA, tabB]) console.log(await volunteerEval(t.page, 'v.events.map(e => e.text).join("\\n")'));
    return d;
  }

  // 32 MiB (512 leaves of HASH_CHUNK, 64 KiB): the request-count bounds below are in leaves, and a request a message (session
  // 14's gap: 549-565 requests for 64 MiB, ~275 for 32) is as far outside them as it was at 64 MiB (session 34).
  it('a 32 MiB object made in tab A and read by a task in tab B moves peer-to-peer', async () => {
    const SIZE = 32 * MB;
    const leaves = SIZE / HASH_CHUNK;
    const d = await move(tabA.nodeId, tabB.nodeId, SIZE, 3);
    expect(d.relayed).toBeLessThan(MB);
    expect(d.peer).toBeGreaterThanOrEqual(SIZE);
    // The volunteer page shows the bytes sent and received.
    expect(await volunteerEval<number>(tabA.page, 'v.stats().bytesOut')).toBeGreaterThanOrEqual(SIZE);
    expect(await volunteerEval<number>(tabB.page, 'v.stats().bytesIn')).toBeGreaterThanOrEqual(SIZE);
    expect(await tabB.page.textContent('#s-net-sub')).toMatch(/in/);
    // The reader's requests went on the link's lane (a second data channel), not behind the chunks.
    expect(await volunteerEval<number>(tabB.page, 'v.node.links.counters.laneMessages')).toBeGreaterThan(0);
    // Its chunks were checked in its hasher worker, the buffer posted to the worker once, not with each; chunks of 3
    // leaves (Chromium's 256 KiB SCTP messages) in runs of 18 (16 the first, asked as the link opened), a request a run
    // (issue 17, session 14: 549-565 requests for 64 MiB before, a request a message and runs cut short).
    const h = await volunteerEval<{ bytes: number; requests: number; buffersSent: number }>(tabB.page, 'v.hasher');
    expect(h.bytes).toBeGreaterThanOrEqual(SIZE);
    expect(h.requests).toBeGreaterThanOrEqual(Math.floor(leaves / 18));
    expect(h.requests).toBeLessThanOrEqual(leaves / 16 + 4);
    expect(h.buffersSent).toBeLessThanOrEqual(4);
  }, 120_000);

  // 4 MiB each way, as test/p2p/ws-link.test.ts moves over the same links (the tab dials the edge node's WebSocket):
  // what shows here is that the bytes go peer to peer, not through the relay (under 1 MiB relayed, the size in peer
  // bytes); 64 MiB each way until session 33 and 16 until session 34 showed nothing more.
  it('edge → tab and tab → edge move 4 MiB peer-to-peer too', async () => {
    const e2t = await move(edge, tabA.nodeId, 4 * MB, 5);
    expect(e2t.relayed).toBeLessThan(MB);
    expect(e2t.peer).toBeGreaterThanOrEqual(4 * MB);
    const t2e = await move(tabB.nodeId, edge, 4 * MB, 7);
    expect(t2e.relayed).toBeLessThan(MB);
    expect(t2e.peer).toBeGreaterThanOrEqual(4 * MB);
  }, 180_000);

  it('a link cut in the middle of a transfer: the object completes with the right bytes, over a new link or the relay', async () => {
    const opened = async () =>
      (await volunteerEval<number>(tabA.page, 'v.node.links.opened.webrtc ?? 0')) + (await volunteerEval<number>(tabB.page, 'v.node.links.opened.webrtc ?? 0'));
    const opened0 = await opened();
    await volunteerEval(tabA.page, '(v.node.links.faults.cutAfterBytes = 4 * 2 ** 20, true)');
    const d = await move(tabA.nodeId, tabB.nodeId, 16 * MB, 11);
    // Since session 16 a reader whose holder closed the link mid-transfer asks that holder again over a new link
    // (shared/transfer: the stats watchdog's change); when that link does not come up, the relay (as before).
    expect(d.relayed + d.peer).toBeGreaterThanOrEqual(16 * MB);
    expect(d.relayed > 0 || (await opened()) > opened0).toBe(true);
    expect(await volunteerEval<number | undefined>(tabA.page, 'v.node.links.faults.cutAfterBytes')).toBeUndefined();
    // The next transfer opens a new link on demand.
    const again = await move(tabA.nodeId, tabB.nodeId, 4 * MB, 13);
    expect(again.peer).toBeGreaterThanOrEqual(4 * MB);
  }, 120_000);

  it('a corrupted chunk is caught by its chunk hash, the holder reported to the trust table, and the object completed elsewhere', async () => {
    const before = await volunteerEval<number>(tabB.page, 'v.node.fetcher.hashMismatches');
    await volunteerEval(tabA.page, '(v.node.links.faults.corruptChunks = 1, true)');
    const d = await move(tabA.nodeId, tabB.nodeId, 8 * MB, 17);
    expect(await volunteerEval<number>(tabB.page, 'v.node.fetcher.hashMismatches')).toBe(before + 1);
    // The bad chunk is checked on arrival (chunk-hash tree) and its holder noted as bad; with no
    // other holder, the rest comes through the relay. `move` checked the bytes read.
    expect(await volunteerEval<string[]>(tabB.page, 'v.node.fetcher.badHolders')).toContain(tabA.nodeId);
    expect(d.relayed).toBeGreaterThan(0);
    // The reader reported the liar: an offence in the coordinator's trust table (issue 17).
    const trust = cl.c.coordinator.trust.view(tabA.nodeId as NodeId);
    expect(trust.offences).toBe(1);
    expect(trust.recent.at(-1)).toMatch(/does not match its hash/);
  }, 120_000);

  it('40 tasks reading one of 4 large objects on 4 nodes run on the holders (the event log says so)', async () => {
    await cl.addNode({ cpus: 1 });
    const nodes = [...cl.c.coordinator.gcs.nodes.keys()];
    expect(nodes.length).toBe(4);
    const make = mesh.remote((n: number, k: number) => new Uint8Array(n).fill(k));
    const objs = nodes.map((n, k) => make.options(on(n)).remote(2 * MB, k + 1));
    await mesh.wait(objs, { numReturns: 4 });
    const holderOf = new Map(objs.map((o, k) => [o.id, nodes[k]]));
    const since = cl.c.coordinator.gcs.events.at(-1)?.seq ?? 0;
    const peek = mesh.remote(function peek(x: Uint8Array) {
      return x[0];
    });
    const refs = Array.from({ length: 40 }, (_, i) => peek.remote(objs[i % 4]));
    expect(await mesh.get(refs)).toEqual(refs.map((_, i) => (i % 4) + 1));
    const placed = cl.c.coordinator.gcs.events.filter((e) => e.seq > since && (e.kind === 'placed-local' || e.kind === 'placed-remote'));
    expect(placed.length).toBeGreaterThanOrEqual(40);
    const byTask = new Map(placed.map((e) => [e.task, e]));
    for (let i = 0; i < 40; i++) {
      const taskId = refs[i].id.slice(0, 32);
      const e = byTask.get(taskId);
      expect(e, `event for task ${i}`).toBeDefined();
      // On its object's holder, unless the log says the holder was saturated, or busy while another node was not (issue 17).
      if (e!.kind === 'placed-local') expect(e!.node).toBe(holderOf.get(objs[i % 4].id));
      else expect(e!.message).toMatch(/saturated|is busy/);
    }
    expect(placed.filter((e) => e.kind === 'placed-local').length).toBeGreaterThanOrEqual(30);
  }, 120_000);
});
