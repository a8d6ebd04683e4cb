// Issue 17, tab <-> Node links over a WebSocket: a real coordinator, a real
// edge node process and a real Chromium tab. The tab dials the edge node's
// WebSocket with a one-time token handed out through the coordinator's relay;
// objects move over it checked chunk by chunk; a wrong token gets no link (the
// object then comes over WebRTC). A tab on an https page keeps WebRTC.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { HIDDEN, joined, openVolunteer, volunteerEval, type VolunteerTab } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';
import { moveBytes } from './move-bytes.js';

const MB = 2 ** 20;

// One Chromium for both clusters (a launch is ~1-2 CPU-seconds), started with the first: it takes the https
// page's self-signed certificate, which changes nothing for the http pages. Each describe closes its pages.
let browser: Promise<TestBrowser> | undefined;
const sharedBrowser = () => (browser ??= launchBrowser({ ignoreHTTPSErrors: true }));
afterAll(async () => {
  await (await browser?.catch(() => undefined))?.close();
});

describe('links between a tab and an edge node over a WebSocket', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tab: VolunteerTab;
  let edge: NodeId;
  let mesh: Mesh;

  beforeAll(async () => {
    [cl, b] = await Promise.all([Cluster.start({ nodes: 1, cpus: 1 }), sharedBrowser()]);
    edge = [...cl.c.coordinator.gcs.nodes.keys()][0];
    [tab, mesh] = await Promise.all([openVolunteer(cl, b, { cpus: 1, memoryMb: 256 }), cl.driver()]);
  }, 90_000);
  afterAll(async () => {
    await cl?.stop();
    await Promise.all((b?.context.pages() ?? []).map((p) => p.close()));
  });

  const opened = () => volunteerEval<Record<string, number>>(tab.page, '({ ...v.node.links.opened })');
  const events = () => volunteerEval<string[]>(tab.page, 'v.events.map((e) => e.text)');

  /** What the edge node logged about its links and fetches (its account, printed when a link assertion fails). */
  const edgeLinkLog = () =>
    cl.nodes[0].output
      .join('')
      .split('\n')
      .filter((l) => /link|swarm|relay|peer/.test(l))
      .slice(-30)
      .join('\n');

  const move = (from: string, to: string, n: number, seed: number) => moveBytes(cl, mesh, from, to, n, seed);

  // 4 MiB each way (16 until session 34), as the cases below move over the same links: which way the bytes went is
  // told by the relay's and the peers' counts against the size (under 1 MiB relayed), and by the links opened.
  it('a tab reads an object from an edge node over the WebSocket link (the tab opened it)', async () => {
    const d = await move(edge, tab.nodeId, 4 * MB, 3);
    expect(d.relayed).toBeLessThan(MB);
    expect(d.peer).toBeGreaterThanOrEqual(4 * MB);
    expect(await opened()).toEqual({ ws: 1 });
    expect((await events()).some((t) => t.includes(`peer link to ${edge} open over ws`))).toBe(true);
  }, 120_000);

  it('an edge node reads from the tab over a WebSocket the tab dials when the edge node opens the link', async () => {
    await volunteerEval(tab.page, '(v.node.links.closeAll(), true)');
    const d = await move(tab.nodeId, edge, 4 * MB, 5);
    expect(d.relayed).toBeLessThan(MB);
    expect(d.peer).toBeGreaterThanOrEqual(4 * MB);
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
    // (CI on 5d4221f once saw no third link, not reproduced in 6 runs: the edge node's own account is printed when it fails.)
    expect(await opened(), edgeLinkLog()).toEqual({ ws: 3, webrtc: 1 });
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
    const d = await move(hidden.nodeId, edge, 64 * MB, 13);
    const after = await wakes();
    const drain = after.drain - before.drain;
    const timer = after.timer - before.timer;
    console.log(`64 MiB from a hidden tab over ws: sender woken ${drain}x by the drain ticker, ${timer}x by its timer`);
    expect(await volunteerEval(page, '({ ...v.node.links.opened })')).toEqual({ ws: 1 });
    expect(d.peer).toBeGreaterThanOrEqual(64 * MB);
    // 64 MiB through a 2 MiB queue refilled below 512 KiB: the sender waits when the reader is slower than the tab (how
    // often depends on the two paces: 16 MiB saw no wait in 2 of 8 runs at load 7 and once at load 19 in CI, 64 MiB 6
    // to 11), and the ticker ends its waits (without it: none; the clamped timer would). The clamped timer may end a
    // wait too when the machine holds the tab past a second: not counted against.
    if (drain + timer > 0) expect(drain).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

/** A TLS endpoint with a self-signed certificate for 127.0.0.1 in front of `target` (an http URL): its https URL. */
async function tlsProxy(target: string): Promise<{ url: string; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'tabmesh-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const { port } = new URL(target);
  const server = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (c) => {
    const up = connect(Number(port), '127.0.0.1');
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy()).on('close', () => up.destroy());
    up.on('error', () => c.destroy()).on('close', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  rmSync(dir, { recursive: true, force: true });
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

// A page served over https cannot open ws:// (mixed content, blocked), and a
// Node peer has no certificate for wss: such a tab keeps WebRTC to Node peers
// from the first offer, never dials, and no side waits out a dial.
describe('a tab on an https page and an edge node', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tls: { url: string; close(): void };
  let tab: VolunteerTab;
  let edge: NodeId;
  let mesh: Mesh;

  beforeAll(async () => {
    [cl, b] = await Promise.all([Cluster.start({ nodes: 1, cpus: 1 }), sharedBrowser()]);
    edge = [...cl.c.coordinator.gcs.nodes.keys()][0];
    tls = await tlsProxy(cl.url);
    const page = await b.newPage();
    // Every WebSocket the page opens, by URL.
    await page.addInitScript(`(() => {
      const W = WebSocket;
      window.__wsUrls = [];
      window.WebSocket = function (u, p) { window.__wsUrls.push(String(u)); return new W(u, p); };
      window.WebSocket.prototype = W.prototype;
      Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
    })()`);
    await page.goto(`${tls.url}/?cpuShare=1&cpus=1&memoryMb=256`);
    tab = { page, nodeId: await joined(cl, page) };
    mesh = await cl.driver();
  }, 90_000);
  afterAll(async () => {
    await cl?.stop();
    await Promise.all((b?.context.pages() ?? []).map((p) => p.close()));
    tls?.close();
  });

  it('objects move both ways over WebRTC; the page opens no WebSocket but its coordinator socket (wss)', async () => {
    const there = await moveBytes(cl, mesh, edge, tab.nodeId, 4 * MB, 17);
    const back = await moveBytes(cl, mesh, tab.nodeId, edge, 4 * MB, 19);
    expect(there.peer + back.peer).toBeGreaterThanOrEqual(8 * MB);
    expect(there.relayed + back.relayed).toBeLessThan(MB);
    expect(await volunteerEval(tab.page, '({ ...v.node.links.opened })')).toEqual({ webrtc: 1 });
    const urls = (await tab.page.evaluate('window.__wsUrls')) as string[];
    expect(urls.length).toBeGreaterThan(0);
    expect(urls.every((u) => u.startsWith('wss://127.0.0.1:') && !u.includes('/tabmesh-link'))).toBe(true);
    // Neither side asked for or said it failed a dial.
    const events = await volunteerEval<string[]>(tab.page, 'v.events.map((e) => e.text)');
    expect(events.some((t) => /over ws|dial/.test(t))).toBe(false);
  }, 120_000);
});
