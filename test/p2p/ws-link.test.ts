// Issue 17, tab <-> Node links over a WebSocket: a real coordinator, a real
// edge node process and a real Chromium tab. The tab dials the edge node's
// WebSocket with a one-time token handed out through the coordinator's relay;
// objects move over it checked chunk by chunk; a wrong token gets no link (the
// object then comes over WebRTC).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { HIDDEN, joined, openVolunteer, volunteerEval, type VolunteerTab } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';

const MB = 2 ** 20;

describe('links between a tab and an edge node over a WebSocket', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tab: VolunteerTab;
  let edge: NodeId;
  let mesh: Mesh;

  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 1 });
    edge = [...cl.c.coordinator.gcs.nodes.keys()][0];
    b = await launchBrowser();
    tab = await openVolunteer(cl, b, { cpus: 1, memoryMb: 256 });
    mesh = await cl.driver();
  }, 90_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
  });

  const stats = () => cl.c.coordinator.gcs.stats;
  const on = (node: string) => ({ scheduling: { node: node as NodeId, soft: false } });
  const opened = () => volunteerEval<Record<string, number>>(tab.page, '({ ...v.node.links.opened })');
  const events = () => volunteerEval<string[]>(tab.page, 'v.events.map((e) => e.text)');

  /** Makes `n` bytes on `from`, reads them in a task on `to`; checks the bytes and returns the counters' growth. */
  async function move(from: string, to: string, n: number, seed: number) {
    const make = mesh.remote(function make(n: number, seed: number) {
      const x = new Uint8Array(n);
      for (let i = 0; i < n; i += 997) x[i] = (i * seed) & 255;
      return x;
    }, on(from));
    const sum = mesh.remote(function sum(x: Uint8Array) {
      let s = 0;
      for (let i = 0; i < x.length; i += 997) s = (s + x[i] * (i + 1)) % 1_000_000_007;
      return [x.length, s];
    }, on(to));
    const obj = make.remote(n, seed);
    await mesh.wait([obj]);
    const relayed = stats().bytesRelayed;
    const peer = stats().bytesPeer;
    let s = 0;
    for (let i = 0; i < n; i += 997) s = (s + ((i * seed) & 255) * (i + 1)) % 1_000_000_007;
    expect(await mesh.get(sum.remote(obj))).toEqual([n, s]);
    return { relayed: stats().bytesRelayed - relayed, peer: stats().bytesPeer - peer };
  }

  it('a tab reads an object from an edge node over the WebSocket link (the tab opened it)', async () => {
    const d = await move(edge, tab.nodeId, 16 * MB, 3);
    expect(d.relayed).toBeLessThan(MB);
    expect(d.peer).toBeGreaterThanOrEqual(16 * MB);
    expect(await opened()).toEqual({ ws: 1 });
    expect((await events()).some((t) => t.includes(`peer link to ${edge} open over ws`))).toBe(true);
  }, 120_000);

  it('an edge node reads from the tab over a WebSocket the tab dials when the edge node opens the link', async () => {
    await volunteerEval(tab.page, '(v.node.links.closeAll(), true)');
    const d = await move(tab.nodeId, edge, 16 * MB, 5);
    expect(d.relayed).toBeLessThan(MB);
    expect(d.peer).toBeGreaterThanOrEqual(16 * MB);
    expect(await opened()).toEqual({ ws: 2 });
  }, 120_000);

  it('a wrong token gets no WebSocket link: the object comes over WebRTC', async () => {
    // The page presents a token the edge node never issued (its hello is rewritten on the way out).
    await volunteerEval(
      tab.page,
      `(() => {
        const send = WebSocket.prototype.send;
        window.__wsSend = send;
        WebSocket.prototype.send = function (d) { return send.call(this, typeof d === 'string' && d.startsWith('TMW1') ? 'TMW1' + '0'.repeat(32) : d); };
        v.node.links.closeAll();
        return true;
      })()`,
    );
    try {
      const d = await move(edge, tab.nodeId, 4 * MB, 7);
      expect(d.relayed).toBeLessThan(MB);
      expect(d.peer).toBeGreaterThanOrEqual(4 * MB);
      expect(await opened()).toEqual({ ws: 2, webrtc: 1 });
    } finally {
      await volunteerEval(tab.page, '(WebSocket.prototype.send = window.__wsSend, true)');
    }
  }, 120_000);

  it('a tab sending a bad chunk over the WebSocket is caught by the leaf check and reported to the trust table', async () => {
    await volunteerEval(tab.page, '(v.node.links.closeAll(), v.node.links.faults.corruptChunks = 1, true)');
    const d = await move(tab.nodeId, edge, 4 * MB, 11);
    // The edge node read over a new WebSocket link, refused the bad chunk and, with no other holder, took the rest through the relay.
    expect(await opened()).toEqual({ ws: 3, webrtc: 1 });
    expect(d.relayed).toBeGreaterThan(0);
    const trust = cl.c.coordinator.trust.view(tab.nodeId as NodeId);
    expect(trust.offences).toBe(1);
    expect(trust.recent.at(-1)).toMatch(/does not match its hash/);
  }, 120_000);

  it('a hidden tab serves over the WebSocket at its pace: its sender is woken by the drain ticker, not its clamped timer', async () => {
    // Chromium fires a hidden page's timers at most once a second (emulated: headless pages are always shown).
    const page = await b.newPage();
    await page.addInitScript(HIDDEN);
    await page.goto(`${cl.url}/?cpuShare=1&cpus=1&memoryMb=256`);
    const hidden = { page, nodeId: await joined(cl, page) };
    const wakes = () => volunteerEval<{ drain: number; timer: number }>(page, '({ ...v.node.links.counters.sendWakes })');
    const before = await wakes();
    const d = await move(hidden.nodeId, edge, 16 * MB, 13);
    const after = await wakes();
    const drain = after.drain - before.drain;
    const timer = after.timer - before.timer;
    console.log(`16 MiB from a hidden tab over ws: sender woken ${drain}x by the drain ticker, ${timer}x by its timer`);
    expect(await volunteerEval(page, '({ ...v.node.links.opened })')).toEqual({ ws: 1 });
    expect(d.peer).toBeGreaterThanOrEqual(16 * MB);
    // 16 MiB through a 2 MiB queue refilled below 512 KiB: the sender waits when the reader is slower than the tab
    // (how often depends on the two paces: once at load 20 in CI, not at all once at load 19 where the starved tab
    // never got 2 MiB ahead), and the ticker ends its waits (without it: none; the clamped timer would). The clamped
    // timer may end a wait too when the machine holds the tab past a second: not counted against.
    if (drain + timer > 0) expect(drain).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
