// Swarm broadcast's protocol (issue 17) on the simulated network, case by case:
// have maps, claims and requests, links that open late or never, readers that
// left or cap their upload, stalled and stuck links. The seeded runs are in
// swarm.sim.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import { CALM, SimNet } from './net.js';
import { CHUNK, SwarmSim, object, simulated } from './swarm-run.js';

afterEach(() => {
  vi.useRealTimers();
});

installNodeHasher();

describe('swarm protocol', () => {
  it('a reader keeps the have maps sent to it before its fetch was under way: what another reader holds comes from that reader, not the origin', async () => {
    await simulated(async () => {
      const truth = object(32, 1);
      // b locates first but hears back late; a locates next, so the coordinator lists b to it, and a tells b what it holds meanwhile.
      const sim = new SwarmSim(new SimNet(1, { ...CALM, bytesPerMs: 20_000 }), truth, { locateDelayMs: (p) => (p === 'b' ? 600 : 0) });
      const origin = sim.add('origin', { bytes: truth, liar: false });
      const b = sim.read(sim.add('b', null), 0);
      const a = sim.read(sim.add('a', null), 20);
      await sim.drive();
      await sim.finish();
      // a had the whole object before b heard back (600 ms): b took it all from a.
      expect(a.end).toBeLessThan(600);
      expect(b.peer.fetcher.swarm!.stats.fromReaders).toBe(truth.byteLength);
      expect(origin.links.counters.bytesOut / truth.byteLength).toBeLessThan(1.05);
      expect(sim.relayed).toEqual([]);
    });
  });

  it('links between readers that come up late (1 s) while the origin is fast: a reader asks the origin nothing before it heard the readers it knows of', async () => {
    await simulated(async () => {
      const truth = object(128, 4);
      // Busy reader processes: signals between readers take a second, so their links come up long after the origin's
      // (session 11: edge readers whose TCP links took 0.7-2.3 s each took most of a tab's object from it over a WebSocket).
      const net = new SimNet(4, { ...CALM, uplinkBytesPerMs: 20_000 });
      const sim = new SwarmSim(net, truth, { signalDelayMs: (a, b) => (a !== 'origin' && b !== 'origin' ? 1_000 : 0), connectTimeoutMs: 5_000 });
      const origin = sim.add('origin', { bytes: truth, liar: false });
      for (let i = 0; i < 3; i++) sim.read(sim.add(`r${i}`, null), i * 10);
      await sim.drive();
      await sim.finish();
      const copies = origin.links.counters.bytesOut / truth.byteLength;
      console.log(`swarm sim, late reader links: origin ${copies.toFixed(2)} copies, last reader at ${Math.max(...sim.reads.map((r) => r.end))} ms`);
      // Before (a reader waited 250 ms from its start for the readers it told, then asked the origin rarest first): 2.6 copies.
      expect(copies).toBeLessThan(1.3);
      expect(sim.relayed).toEqual([]);
    }, true);
  });

  it('runs asked of the origin over a stream link that take longer than a claim lasts (3 s) stay claimed, and are not taken back: the others take them from the claimer', async () => {
    await simulated(async () => {
      const truth = object(128, 5);
      // Stream links (1 MiB chunks, 8 MiB in flight) and 2 MB/s of upload per peer: the first reader's window takes
      // 4 s to arrive (session 11: a tab reading a Node origin over a WebSocket link at a few MiB/s under load).
      const net = new SimNet(5, { ...CALM, chunkBytes: 16 * CHUNK, uplinkBytesPerMs: 2_000 });
      const sim = new SwarmSim(net, truth, { stallMs: 10_000 });
      const origin = sim.add('origin', { bytes: truth, liar: false });
      for (let i = 0; i < 3; i++) sim.read(sim.add(`r${i}`, null), i * 50);
      await sim.drive();
      await sim.finish();
      const copies = origin.links.counters.bytesOut / truth.byteLength;
      console.log(`swarm sim, deep window: origin ${copies.toFixed(2)} copies, last reader at ${Math.max(...sim.reads.map((r) => r.end))} ms`);
      // Before: 2.3-2.7 copies (claims expired while their runs came; the first reader's 8 MiB window taken back, what
      // the origin had queued of it sent for nothing; the others asked 8 runs of 1 MiB each at once as they heard it).
      expect(copies).toBeLessThan(1.3);
      expect(sim.relayed).toEqual([]);
    }, true);
  });

  it("have maps, claims and requests go on the link's lane, not behind up to 2 MiB of chunks: a reader joining a busy one asks the origin for less", async () => {
    /** Two readers over 2 MB/s channels (a tab's data channel), the second 2 s after the first: the origin's upload, and the chunks asked of it. */
    const pair = (seed: number, lane: boolean) =>
      simulated(async () => {
        const truth = object(256, seed);
        const sim = new SwarmSim(new SimNet(seed, { ...CALM, bytesPerMs: 2_000, latencyMs: [2, 10], lane }), truth, { stallMs: 10_000 });
        const origin = sim.add('origin', { bytes: truth, liar: false });
        sim.read(sim.add('a', null), 0);
        sim.read(sim.add('b', null), 2_000);
        await sim.drive();
        await sim.finish();
        const asked = sim.peers.reduce((n, p) => n + (p.fetcher.swarm?.stats.askedOfFull ?? 0), 0);
        const onLane = sim.peers.reduce((n, p) => n + p.links.counters.laneMessages, 0);
        return { copies: +(origin.links.counters.bytesOut / truth.byteLength).toFixed(3), asked, onLane };
      }, true);
    for (const seed of [1, 2, 3]) {
      const [behind, lane] = [await pair(seed, false), await pair(seed, true)];
      console.log(`swarm sim, lane: ${JSON.stringify({ seed, behind, lane })}`);
      // Behind the chunks, b heard a's claims up to a second late and asked the origin for chunks a had asked already
      // (seeds 1-3: 1.07-1.08 copies, 284-291 chunks asked for 256), and a's cancels reached the origin late.
      expect(behind.onLane).toBe(0);
      expect(lane.onLane).toBeGreaterThan(0);
      expect(lane.asked).toBeLessThan(behind.asked);
      expect(lane.copies).toBeLessThan(behind.copies);
    }
  }, 120_000);

  it('two readers whose link to each other does not open in time at first (signals 1 s, links give up at 500 ms) ask each other again: they share the object, not each take it all from the origin', async () => {
    await simulated(async () => {
      const truth = object(128, 8);
      // The origin uploads 2 MB/s: one copy takes 4 s. Signals between the readers take 1 s for the first 1.5 s.
      const net = new SimNet(8, { ...CALM, uplinkBytesPerMs: 2_000 });
      const readers = (a: string, b: string) => a !== 'origin' && b !== 'origin';
      const sim = new SwarmSim(net, truth, {
        connectTimeoutMs: 500,
        stallMs: 10_000,
        signalDelayMs: (a, b) => (readers(a, b) && Date.now() < 1_500 ? 1_000 : 0),
      });
      const origin = sim.add('origin', { bytes: truth, liar: false });
      const events: string[] = [];
      for (const id of ['a', 'b']) {
        const r = sim.read(sim.add(id, null), 0);
        r.peer.fetcher.onEvent = (text) => events.push(`${id}: ${text}`);
      }
      await sim.drive();
      await sim.finish();
      const copies = origin.links.counters.bytesOut / truth.byteLength;
      const fromReaders = sim.reads.reduce((n, r) => n + r.peer.fetcher.swarm!.stats.fromReaders, 0);
      console.log(
        `swarm sim, reader links slow to open: origin ${copies.toFixed(2)} copies, ${fromReaders} B from readers, last at ${Math.max(...sim.reads.map((r) => r.end))} ms`,
      );
      // A first link attempt failed (dropped, to be asked again), and the readers then took chunks from each other.
      expect(events.some((t) => /dropped \(.*no link within 500 ms.*asked again/.test(t))).toBe(true);
      expect(fromReaders).toBeGreaterThan(truth.byteLength / 4);
      expect(copies).toBeLessThan(1.6);
      expect(sim.relayed).toEqual([]);
    }, true);
  });

  it('a reader that finished and caps its upload (1 MiB/s) is not asked before the idle full holder: the next reader takes the object from the full holder', async () => {
    await simulated(async () => {
      const truth = object(64, 9); // 4 MiB
      const sim = new SwarmSim(new SimNet(9, { ...CALM, bytesPerMs: 20_000 }), truth, { stallMs: 10_000 });
      const origin = sim.add('origin', { bytes: truth, liar: false });
      const capped = sim.add('capped', null);
      capped.links.setUploadCap(1);
      const first = sim.read(capped, 0);
      const next = sim.read(sim.add('next', null), 2_000);
      await sim.drive();
      await sim.finish();
      // The capped reader had the object before the next one began: it was listed as a holder and as a reader.
      expect(first.end).toBeLessThan(2_000);
      const from = next.peer.fetcher.swarm!.stats.lastFrom;
      console.log(`swarm sim, capped reader that finished: next took ${JSON.stringify(from)} in ${next.end - next.at} ms`);
      // Before: all 4 MiB from the capped reader at 1 MiB/s (4 s), the origin idle.
      expect(from.origin ?? 0).toBeGreaterThan(truth.byteLength / 2);
      expect(next.end - next.at).toBeLessThan(2_000);
      expect(origin.links.counters.bytesOut).toBeLessThan(2.6 * truth.byteLength);
      expect(sim.relayed).toEqual([]);
    }, true);
  });

  it("a listed reader whose link never opens (it is gone: no signal comes back) holds a reader off the origin for SILENT_DIAL_MS (2.5 s), not the link's connect timeout (5 s)", async () => {
    await simulated(async () => {
      const truth = object(16, 6);
      const sim = new SwarmSim(new SimNet(6, CALM), truth, { connectTimeoutMs: 5_000, tellUnreachable: false });
      sim.add('origin', { bytes: truth, liar: false });
      // The coordinator lists it (it located the object), but its process is gone and its socket not yet closed: signals to it go nowhere.
      sim.members.push('gone');
      const r = sim.read(sim.add('r', null), 0);
      await sim.drive();
      // The read ended while the link to the gone reader was still opening: no link failed (its connect timeout,
      // 5 s, had not run out; before, the reader asked the origin nothing until it had).
      expect(r.peer.links.failures).toBe(0);
      expect(r.peer.links.links.get('gone')?.state).toBe('connecting');
      await sim.finish();
      expect(r.peer.fetcher.fetchedPeer).toBe(1);
      expect(sim.relayed).toEqual([]);
    });
  });

  it('a listed reader that left: the coordinator refuses the signal to it (unreachable), the reader drops it and takes the object from the origin without waiting for it', async () => {
    await simulated(async () => {
      const truth = object(16, 6);
      const sim = new SwarmSim(new SimNet(6, CALM), truth, { connectTimeoutMs: 5_000 });
      const origin = sim.add('origin', { bytes: truth, liar: false });
      sim.members.push('gone'); // listed (it located the object), but no session is left to signal
      const r = sim.read(sim.add('r', null), 0);
      const events: string[] = [];
      r.peer.fetcher.onEvent = (text) => events.push(text);
      // Chunks the reader had asked of the origin when the refusal came: none (it waited for the told reader).
      let askedAtRefusal = -1;
      const unreachable = r.peer.links.unreachable.bind(r.peer.links);
      r.peer.links.unreachable = (peer) => {
        if (askedAtRefusal < 0) askedAtRefusal = r.peer.fetcher.swarm!.stats.askedOfFull;
        unreachable(peer);
      };
      await sim.drive();
      expect(r.peer.links.counters.unreachable).toBeGreaterThanOrEqual(1);
      // Its link failed on the refusal (not on the 5 s connect timeout, which the sim never reached) and it was dropped, by name.
      expect(r.peer.links.failures).toBe(1);
      expect(r.peer.links.usable('gone')).toBe(false);
      expect(events.filter((t) => /gone dropped \(.*the peer left/.test(t))).toHaveLength(1);
      expect(askedAtRefusal).toBe(0);
      await sim.finish();
      expect(r.peer.fetcher.fetchedPeer).toBe(1);
      expect(origin.links.counters.bytesOut).toBeGreaterThanOrEqual(truth.byteLength);
      expect(sim.relayed).toEqual([]);
      // Without the refusal the same read waits SILENT_DIAL_MS (2.5 s, the case above); with it, it ends long before.
      expect(r.end).toBeLessThan(1_000);
    });
  });

  it('a source dropped on a stall (its link frozen both ways for 5 s) is asked again once it answers: the read ends over the peer link, not the relay', async () => {
    await simulated(async () => {
      const truth = object(64, 2);
      const net = new SimNet(2, { ...CALM, bytesPerMs: 10_000 });
      const sim = new SwarmSim(net, truth);
      sim.add('origin', { bytes: truth, liar: false });
      const r = sim.read(sim.add('r', null), 0);
      const dropped: string[] = [];
      r.peer.fetcher.onEvent = (text) => dropped.push(text);
      setTimeout(() => net.freeze('origin', 'r', 5_000), 200);
      await sim.drive();
      await sim.finish();
      // Its requests stalled (the sim's link stall is 2 s) and it was asked again until the link thawed.
      expect(dropped.some((t) => /origin dropped \(.*stalled.*asked again/.test(t))).toBe(true);
      // It ended after the stall: once the link thawed (5.2 s), or sooner over a new link once the frozen one was closed as stuck.
      expect(r.end).toBeGreaterThan(2_200);
      expect(r.end > 5_200 || (r.peer.links.opened.webrtc ?? 0) >= 2).toBe(true);
      expect(sim.relayed).toEqual([]);
      expect(r.peer.fetcher.fetchedPeer).toBe(1);
    });
  });
});

describe('stuck links', () => {
  it('a link stuck both ways (for 60 s) is closed once nothing moved for the stall time, and the source asked again over a new link', async () => {
    await simulated(async () => {
      const truth = object(64, 3);
      const net = new SimNet(3, { ...CALM, bytesPerMs: 10_000 });
      // Links idle a minute before they close, as outside the sim: idleness does not end the stuck one.
      const sim = new SwarmSim(net, truth, { idleMs: 60_000 });
      const origin = sim.add('origin', { bytes: truth, liar: false });
      const r = sim.read(sim.add('r', null), 0);
      setTimeout(() => net.freeze('origin', 'r', 60_000), 200);
      await sim.drive(120_000);
      await sim.finish();
      // The sim's stall time is 2 s: a new link, not the thaw, ended the read.
      expect(r.end).toBeLessThan(10_000);
      expect(sim.relayed).toEqual([]);
      expect(r.peer.fetcher.fetchedPeer).toBe(1);
      expect(origin.links.opened.webrtc).toBeGreaterThanOrEqual(2);
    });
  });
});
