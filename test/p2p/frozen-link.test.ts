// Issue 17 (session 16): a WebRTC link that freezes for real is found by the
// stats watchdog (link-watch.ts) and closed; the reader's transfer goes on over
// a new link. The freeze: a packet filter in the test's own network namespace
// drops every UDP packet sent to the holder's end of the link (the reader's
// acknowledgements), so the holder's SCTP fills its window and then sends only
// retransmissions, further and further apart, while its queue holds bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { openVolunteers, volunteerEval } from '../browser/volunteers.js';
import type { LinkStats } from '../../shared/transfer/link-stats.js';
import SimplePeer from 'simple-peer';
import wrtc from '@roamhq/wrtc';
import { Cluster } from '../helpers/cluster.js';
import { blackholeUdp, canBlackhole } from '../helpers/blackhole.js';
import { until } from '../helpers/poll.js';
import { simplePeerFactory } from '../../shared/transfer/raw-peer.js';
import type { PeerLinks } from '../../shared/transfer/links.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';

const MB = 2 ** 20;
// The freeze comes once AHEAD is sent, at a cap that leaves 5 s (Node) or 10 s (tabs) of the transfer after it: a
// freeze that lands late under load still finds it under way. What is left then goes uncapped over a new link. Session
// 34: half the cap, half the bytes ahead and 24 MiB, the same margins as 48 MiB after 8 MiB at twice the cap, and 24
// MiB less moved over the new link.
const SIZE = 24 * MB;
const AHEAD = 4 * MB;

describe.skipIf(!canBlackhole())('a frozen WebRTC link (a real freeze: its packets dropped)', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let mesh: Mesh;
  let edge: NodeId;

  beforeAll(async () => {
    // The tabs' browser (the second case's) starts while the coordinator does.
    [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
    // WebRTC between the two Node peers, not their TCP link.
    await cl.addNode({ cpus: 1, env: { TABMESH_FAST_LINKS: '0' } });
    [edge] = [...cl.c.coordinator.gcs.nodes.keys()];
    // The driver holds the put and serves it at 4 MiB/s: the freeze comes while the transfer is under way.
    mesh = await cl.driver({ peers: simplePeerFactory(SimplePeer as never, { wrtc }), maxUploadMiBps: 4 });
  }, 60_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
  });

  it("the holder's watchdog closes the link; the edge's read goes on over a new one and its bytes are right", async () => {
    const links = (mesh.core as unknown as { links: PeerLinks }).links;
    const data = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 4096) data[i] = (i * 7919) >>> 12;
    let expected = 0;
    for (let i = 0; i < SIZE; i += 4096) expected += data[i];
    const ref = mesh.put(data);
    const sum = mesh.remote(
      (x: Uint8Array) => {
        let s = 0;
        for (let i = 0; i < x.length; i += 4096) s += x[i];
        return [x.length, s];
      },
      { scheduling: { node: edge, soft: false } },
    );
    const out0 = links.counters.bytesOut;
    const result = mesh.get(sum.remote(ref));
    await until(() => links.isOpen(edge) && links.counters.bytesOut - out0 >= AHEAD, { timeoutMs: 30_000, what: 'AHEAD sent to the edge' });
    const first = links.links.get(edge)!;
    // Every port the holder's end may use: ICE moves a link whose pair dies to another pair (127.0.0.1, ::1, 198.18.0.1).
    const st = await first.raw.stats!();
    const ports = (st.localCandidates ?? []).filter((c) => c.protocol === 'udp').map((c) => c.port as number);
    expect(ports).toContain(st.pair?.local?.port);
    const hole = blackholeUdp(ports);
    const trace = process.env.P2P_DEBUG
      ? setInterval(() => {
          void first.raw.stats!().then(
            (x) =>
              console.log(JSON.stringify({ t: Date.now() % 100000, buf: first.raw.bufferedAmount, drained: first.drained, pair: x.pair, tr: x.transport })),
            (e: Error) => console.log('stats failed', e.message),
          );
        }, 1000)
      : null;
    try {
      await until(() => first.state === 'closed', { timeoutMs: 40_000, what: 'the frozen link closed' });
      expect(links.counters.frozen).toBe(1);
      // The cap only made the freeze land mid-transfer: the other 20 MiB go uncapped over the new link (5 s less).
      links.setUploadCap(undefined);
      expect(await result).toEqual([SIZE, expected]);
    } finally {
      if (trace) clearInterval(trace);
      hole.remove();
    }
    // The rest came over a new link, not through the coordinator's relay.
    expect(links.opened.webrtc).toBeGreaterThanOrEqual(2);
    expect(cl.c.coordinator.gcs.stats.bytesRelayed).toBeLessThan(MB);
  }, 120_000);

  it("between two tabs (Chromium's SCTP): the holder tab closes the frozen link and the reader tab's read goes on over a new one", async () => {
    // The holder serves at 2 MiB/s (its volunteer setting): the freeze comes while the transfer is under way, with
    // 10 s of it left after the first AHEAD (at twice that, 5 s: a freeze that lands late under load finds it done).
    const [holder, reader] = await openVolunteers(cl, b, [{ cpus: 1, uploadMiBps: 2 }, { cpus: 1 }]);
    const make = mesh.remote(
      (n: number) => {
        const x = new Uint8Array(n);
        for (let i = 0; i < n; i += 4096) x[i] = (i >> 12) & 255;
        return x;
      },
      { scheduling: { node: holder.nodeId, soft: false } },
    );
    const sum = mesh.remote(
      (x: Uint8Array) => {
        let t = 0;
        for (let i = 0; i < x.length; i += 4096) t += x[i];
        return [x.length, t];
      },
      { scheduling: { node: reader.nodeId, soft: false } },
    );
    let expected = 0;
    for (let i = 0; i < SIZE; i += 4096) expected += (i >> 12) & 255;
    const ref = make.remote(SIZE);
    await mesh.wait([ref]);
    // The link the read takes is open before it starts: in CI (session 16) the holder tab had sent nothing 30 s into
    // the read, as when the tabs' first link does not come up within its 5 s under load and the read goes through
    // the relay. This case is about a link that freezes mid-transfer, so the link is made first (tried again until
    // it opens) and the read goes over it; what the read then does is checked as before (a new link, no relay).
    await until(() => volunteerEval<boolean>(reader.page, `v.node.links.linkTo(${JSON.stringify(holder.nodeId)}, true).then(() => true, () => false)`), {
      timeoutMs: 60_000,
      what: 'a link from the reader tab to the holder tab',
    });
    const sent = () => volunteerEval<number>(holder.page, 'v.stats().peerBytesOut');
    const result = mesh.get(sum.remote(ref));
    await until(async () => (await sent()) >= AHEAD, { timeoutMs: 30_000, what: 'AHEAD sent by the holder tab' }).catch(async (e: Error) => {
      // What each tab saw, and whether the read went through the relay instead (CI, session 16: not seen).
      const events = await Promise.all([holder, reader].map((t) => volunteerEval<string>(t.page, 'v.events.map((e) => e.text).join(" | ")')));
      throw new Error(`${e.message}; relayed ${cl.c.coordinator.gcs.stats.bytesRelayed} B; holder: ${events[0]}; reader: ${events[1]}`);
    });
    const st = await volunteerEval<LinkStats>(holder.page, `v.node.links.links.get(${JSON.stringify(reader.nodeId)}).raw.stats()`);
    const ports = (st.localCandidates ?? []).filter((c) => c.protocol === 'udp').map((c) => c.port as number);
    expect(ports).toContain(st.pair?.local?.port);
    const hole = blackholeUdp(ports);
    const link = `v.node.links.links.get(${JSON.stringify(reader.nodeId)})`;
    const trace = process.env.P2P_DEBUG
      ? setInterval(() => {
          void volunteerEval(
            holder.page,
            `${link} ? ${link}.raw.stats().then((x) => ({ buf: ${link}.raw.bufferedAmount, drained: ${link}.drained, tr: x.transport, pair: x.pair })) : 'gone'`,
          ).then(
            (x) => console.log(JSON.stringify(x)),
            (e: Error) => console.log('stats failed', e.message),
          );
        }, 1000)
      : null;
    if (process.env.P2P_DEBUG) console.log(JSON.stringify({ ports, st }));
    try {
      await until(async () => (await volunteerEval<number>(holder.page, 'v.stats().linksFrozen')) >= 1, {
        timeoutMs: 40_000,
        what: 'the holder tab to close the frozen link',
      });
      // The holder's cap only made the freeze land mid-transfer: what is left (about 20 MiB, 10 s at 2 MiB/s) goes
      // uncapped over the new link. The node's cap, not the page's setting (kept in the profile's storage).
      await volunteerEval(holder.page, 'v.node.links.setUploadCap(undefined)');
    } finally {
      if (trace) clearInterval(trace);
      hole.remove();
    }
    expect(await result).toEqual([SIZE, expected]);
    // Chromium says the holder's close to the reader as an error (its SCTP ABORT): a close all the same, so the
    // reader asked the holder again over a new link, not the relay.
    expect(await volunteerEval<number>(reader.page, 'v.node.links.opened.webrtc')).toBeGreaterThanOrEqual(2);
    expect(cl.c.coordinator.gcs.stats.bytesRelayed).toBeLessThan(MB);
    if (process.env.P2P_DEBUG) {
      for (const t of [holder, reader]) console.log(t.nodeId, await volunteerEval<string>(t.page, 'v.events.map((e) => e.text).join("\\n")'));
      console.log('relayed', cl.c.coordinator.gcs.stats.bytesRelayed);
    }
  }, 150_000);
});
