// Seeded runs of swarm broadcast (issue 17) on the simulated network: one
// object, one honest origin, sometimes a second full holder that lies about
// its bytes and sometimes a reader that corrupts the chunks it passes on;
// 2-8 readers starting at random times, each becoming a full holder once it
// has the object (as a node's store does). Invariants on every run: each
// reader gets exactly the object's bytes, nothing hangs, receive buffers come
// back, every bad chunk is reported and only liars are; on calm runs with no
// liar readers took chunks from each other and the origin uploaded at most
// two copies in all.
//
//   SIM_RUNS=2000 npx vitest run test/sim/swarm.sim.test.ts     more seeds
//   SIM_SEED=12 npx vitest run test/sim/swarm.sim.test.ts       replay one seed
//   SIM_FIGURES=all npx vitest run test/sim/swarm.sim.test.ts   every network of the comparisons (wall time, Node
//                                                               source first), not only the first
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import { setChunkChecker } from '../../shared/hash.js';
import { CALM, SimNet, type NetFaults } from './net.js';
import { figureSeeds, seedsToRun } from './seeds.js';
import { CHUNK, SwarmSim, run, type SimOptions } from './swarm-run.js';
import { FAN_STREAMS } from '../../shared/transfer/fan-out.js';

afterEach(() => {
  vi.useRealTimers();
});

installNodeHasher();

/** `read` with the swarm, then as one whole-object request; chunks checked by this thread (the hash pool answers in real time, while the simulated clock jumps ahead). */
async function swarmThenAlone<T>(read: (swarm: boolean) => Promise<T>): Promise<[T, T]> {
  const pool = setChunkChecker(null);
  const swarm = await read(true).finally(() => setChunkChecker(pool));
  setChunkChecker(null);
  const alone = await read(false).finally(() => setChunkChecker(pool));
  return [swarm, alone];
}

describe('swarm broadcast on a simulated network', () => {
  it('seeded runs: every reader gets the right bytes, liars are caught and reported, the origin uploads about one copy', async () => {
    const t = { runs: 0, calmClean: 0, calmSize: 0, calmOriginOut: 0, fromReaders: 0, mismatches: 0, viaRelay: 0, worstOriginCopies: 0 };
    for (const seed of seedsToRun(60)) {
      vi.useFakeTimers({ now: 0 });
      try {
        const o = await run(seed);
        t.runs++;
        t.fromReaders += o.fromReaders;
        t.mismatches += o.mismatches;
        t.viaRelay += o.viaRelay;
        if (o.calm && o.liars === 0) {
          t.calmClean++;
          t.calmSize += o.size;
          t.calmOriginOut += o.originOut;
          t.worstOriginCopies = Math.max(t.worstOriginCopies, o.originOut / o.size);
          // The leaves, and what readers asked the origin for before they heard of each other: at most two copies.
          if (o.originOut > 2 * o.size) throw new Error(`the origin uploaded ${(o.originOut / o.size).toFixed(2)} copies`);
        }
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}\n  replay: SIM_SEED=${seed} npx vitest run test/sim/swarm.sim.test.ts`);
      } finally {
        vi.useRealTimers();
      }
    }
    console.log(`swarm sim: ${JSON.stringify({ ...t, calmOriginCopies: t.calmSize ? +(t.calmOriginOut / t.calmSize).toFixed(3) : 0 })}`);
    if (t.runs >= 50) {
      expect(t.fromReaders).toBeGreaterThan(0);
      expect(t.mismatches).toBeGreaterThan(0);
      expect(t.calmClean).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe('rarest first', () => {
  it('readers ask for the chunks fewest hold first: the origin uploads less than from a random start (at most two copies)', async () => {
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const by = { rarest: { spread: [] as number[], fewest: [] as number[], copies: 0 }, random: { spread: [] as number[], fewest: [] as number[], copies: 0 } };
    for (const seed of seedsToRun(20)) {
      for (const order of ['rarest', 'random'] as const) {
        vi.useFakeTimers({ now: 0 });
        try {
          const o = await run(seed, { order, clean: true, big: true });
          by[order].spread.push(mean(o.spread));
          by[order].fewest.push(mean(o.fewest));
          by[order].copies = Math.max(by[order].copies, o.originOut / o.size);
        } catch (e) {
          throw new Error(`seed ${seed} (${order}): ${(e as Error).message}\n  replay: SIM_SEED=${seed} npx vitest run test/sim/swarm.sim.test.ts`);
        } finally {
          vi.useRealTimers();
        }
      }
    }
    const f = (k: 'rarest' | 'random') => ({
      spread: +mean(by[k].spread).toFixed(3),
      fewest: +mean(by[k].fewest).toFixed(3),
      worstOriginCopies: +by[k].copies.toFixed(2),
    });
    console.log(`swarm sim, chunk order: ${JSON.stringify({ rarest: f('rarest'), random: f('random') })}`);
    if (by.rarest.spread.length >= 15) {
      expect(by.rarest.copies).toBeLessThanOrEqual(2);
      expect(by.rarest.copies).toBeLessThan(by.random.copies);
      // Since readers serve runs that end at the object's end (session 8; before, every reader that held the last
      // chunks was dropped as a source), spread and fewest are within noise between the orders (rarest/random at 20,
      // 40, 60 seeds: spread 0.973/0.960, 0.978/0.975, 0.978/0.982; fewest 1.627/1.619, 1.51/1.491, 1.466/1.445;
      // with a lone reader's growing window 0.991/0.967, 1.606/1.609): printed, not asserted.
    }
  }, 300_000);
});

/** An object of `chunks` chunks (the last one short), its bytes from `seed`. */
function object(chunks: number, seed: number): Uint8Array {
  const b = new Uint8Array(chunks * CHUNK - 1000);
  for (let j = 0; j < b.byteLength; j += 61) b[j] = (seed + j) & 255;
  return b;
}

/** Runs `f` on the fake clock from 0; `here`: chunks checked by this thread (the hash pool answers in real time while the clock jumps ahead). */
async function simulated<T>(f: () => Promise<T>, here = false): Promise<T> {
  const pool = here ? setChunkChecker(null) : null;
  vi.useFakeTimers({ now: 0 });
  try {
    return await f();
  } finally {
    vi.useRealTimers();
    if (here) setChunkChecker(pool);
  }
}

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

/** One reader and the origin alone on a simulated link, with the swarm, then as one whole-object request: its time (ms) and the origin's bytes out. */
function loneRead(chunks: number, seed: number, net: Partial<NetFaults>): Promise<[{ ms: number; out: number }, { ms: number; out: number }]> {
  return swarmThenAlone((swarm) =>
    simulated(async () => {
      const truth = object(chunks, seed);
      const sim = new SwarmSim(new SimNet(seed, { ...CALM, ...net }), truth, { swarmMinBytes: swarm ? 1 : Infinity });
      const origin = sim.add('origin', { bytes: truth, liar: false });
      sim.read(sim.add('reader', null), 0);
      await sim.drive();
      await sim.finish();
      return { ms: sim.reads[0].end - sim.reads[0].at, out: origin.links.counters.bytesOut };
    }),
  );
}

describe('wall time', () => {
  it('one reader, one holder over a stream link (1 MiB chunks, 10 ms hops): the swarm keeps the link as busy as one whole-object request', async () => {
    // 16 MiB
    const [{ ms: swarm }, { ms: alone }] = await loneRead(256, 5, { latencyMs: [10, 10], bytesPerMs: 1_000_000, chunkBytes: 16 * CHUNK });
    console.log(`swarm sim, one reader over a stream link: swarm ${swarm} ms, one request ${alone} ms`);
    // At 1 MiB in flight (4 runs of 4 leaves) the swarm waited a round trip per MiB.
    expect(swarm).toBeLessThan(alone * 1.5);
  });

  it('one reader, one holder, a 1 MiB object over a data channel (25 ms hops): the leaves come with the first run, one round trip as one whole-object request', async () => {
    // 1 MiB less 1,000 bytes
    const [swarm, alone] = await loneRead(16, 7, { latencyMs: [25, 25], bytesPerMs: 40_000 });
    console.log(`swarm sim, one reader of 1 MiB over a data channel: swarm ${swarm.ms} ms, one request ${alone.ms} ms`);
    // Leaves first, then runs: two round trips (+50 ms).
    expect(swarm.ms).toBeLessThan(alone.ms + 25);
    expect(swarm.out).toBe(alone.out);
  });

  it('one reader, one holder, 16 MiB over a data channel (64 KiB chunks, 25 ms hops, 40 MB/s): the window grows, the channel stays about as busy as with one whole-object request', async () => {
    // 16 MiB
    const [{ ms: swarm }, { ms: alone }] = await loneRead(256, 7, { latencyMs: [25, 25], bytesPerMs: 40_000 });
    console.log(`swarm sim, one reader of 16 MiB over a data channel: swarm ${swarm} ms, one request ${alone} ms`);
    // At 1 MiB in flight (4 runs of 4 leaves) the swarm waited a round trip (50 ms) per MiB: 1,593 ms against 619.
    expect(swarm).toBeLessThan(alone * 1.3);
  });

  it('8 readers at once, each peer uploading 20 MB/s: the swarm ends before the origin alone would (and the log shows free upload over 10-30 ms hops)', async () => {
    /** When the last of 8 readers has the object (simulated ms), and the origin's upload in copies. */
    const broadcast = (seed: number, swarm: boolean, faults: NetFaults) =>
      simulated(async () => {
        const truth = object(128, seed);
        const sim = new SwarmSim(new SimNet(seed, faults), truth, { swarmMinBytes: swarm ? 1 : Infinity });
        const origin = sim.add('origin', { bytes: truth, liar: false });
        const refused: string[] = [];
        for (let i = 0; i < 8; i++) {
          const rd = sim.read(sim.add(`r${i}`, null), (i * 7) % 50);
          rd.peer.fetcher.onEvent = (t) => {
            if (/cannot serve/.test(t)) refused.push(`${rd.peer.id}: ${t}`);
          };
        }
        await sim.drive();
        await sim.finish();
        // A reader asked for a run that ends at the object's end serves it from what it holds (the request names its end):
        // before, it refused, and every reader dropped it as a source for the object.
        expect(refused).toEqual([]);
        return { ms: Math.max(...sim.reads.map((r) => r.end)), copies: +(origin.links.counters.bytesOut / truth.byteLength).toFixed(2) };
      });
    const uplink: NetFaults = { ...CALM, bytesPerMs: 50_000, uplinkBytesPerMs: 20_000 };
    const free: NetFaults = { ...CALM, bytesPerMs: 100_000, latencyMs: [10, 30] };
    for (const seed of figureSeeds([1, 2, 3])) {
      const fig = { seed, uplink: { swarm: await broadcast(seed, true, uplink), alone: await broadcast(seed, false, uplink) } };
      const more = { free: { swarm: await broadcast(seed, true, free), alone: await broadcast(seed, false, free) } };
      console.log(`swarm sim, wall time: ${JSON.stringify({ ...fig, ...more })}`);
      expect(fig.uplink.swarm.ms).toBeLessThan(fig.uplink.alone.ms / 2);
      expect(fig.uplink.swarm.copies).toBeLessThanOrEqual(2);
    }
  }, 300_000);
});

describe('a Node source first (swarm-policy.ts), the holder decides (fan-out.ts)', () => {
  type Mode = 'policy' | 'rate' | 'swarm' | 'alone';
  /**
   * 8 MiB from `origin` to 4 edge nodes and 4 tabs at once, as bench:objects broadcast: links touching a Node
   * process (the origin when `nodeOrigin`, the edges) carry 30 MB/s, tab to tab 5 MB/s, and each peer uploads
   * 10 MB/s but a Node origin `nodeUp`. Modes: the policy (the holder's word first), the readers' rate alone (the
   * holder says no word: session 13), the swarm from the start (preferNode off), the origin alone. The edges
   * start reading `edgesAt` ms after the tabs (their tasks start late under load: bench, session 14).
   */
  const broadcast = (
    seed: number,
    mode: Mode,
    nodeOrigin: boolean,
    nodeUp: number,
    edgesAt = 0,
    links: Pick<SimOptions, 'signalDelayMs' | 'connectTimeoutMs'> = {},
  ) =>
    simulated(async () => {
      const truth = object(128, seed);
      const edges = ['e0', 'e1', 'e2', 'e3'];
      const faults: NetFaults = {
        ...CALM,
        bytesPerMs: 5_000,
        uplinkBytesPerMs: 10_000,
        nodes: { ids: nodeOrigin ? ['origin', ...edges] : edges, bytesPerMs: 30_000 },
      };
      if (nodeOrigin) faults.nodes!.uplinkBytesPerMs = nodeUp;
      const sim = new SwarmSim(new SimNet(seed, faults), truth, { swarmMinBytes: mode === 'alone' ? Infinity : 1, ...links });
      const origin = sim.add('origin', { bytes: truth, liar: false });
      origin.links.fan.speaks = mode !== 'rate';
      for (const [i, id] of [...edges, 't0', 't1', 't2', 't3'].entries()) {
        const p = sim.add(id, null);
        p.fetcher.swarm!.preferNode = mode === 'policy' || mode === 'rate';
        sim.read(p, ((i * 7) % 50) + (id.startsWith('e') ? edgesAt : 0));
      }
      await sim.drive();
      await sim.finish();
      const stats = sim.reads.map((r) => r.peer.fetcher.swarm!.stats);
      const sum = (k: 'nodeFirst' | 'turned' | 'fromReaders' | 'fanned' | 'streamed' | 'filled') => stats.reduce((n, s) => n + s[k], 0);
      return {
        ms: Math.max(...sim.reads.map((r) => r.end)),
        copies: +(origin.links.counters.bytesOut / truth.byteLength).toFixed(2),
        nodeFirst: sum('nodeFirst'),
        turned: sum('turned'),
        fromReaders: sum('fromReaders'),
        fanned: sum('fanned'),
        streamed: sum('streamed'),
        filled: sum('filled'),
        /** Readers the origin streamed to that are edges (Node relays are streamed to first). */
        edgesStreamed: sim.reads.filter((r) => r.peer.id.startsWith('e') && r.peer.fetcher.swarm!.stats.streamed > 0).length,
        /** Per reader, copies of the object it took from the origin, and when it ended (simulated ms). */
        fromOrigin: Object.fromEntries(
          sim.reads.map((r) => [r.peer.id, `${((r.peer.fetcher.swarm!.stats.lastFrom.origin ?? 0) / truth.byteLength).toFixed(2)}@${r.end}`]),
        ),
      };
    }, true);

  it('a Node origin that keeps up (240 MB/s): it streams whole copies to 2 edges and tells the rest to swarm; at most 2 copies, in about the time of the origin alone (which sends 8)', async () => {
    for (const seed of figureSeeds([1, 2, 3])) {
      const fig = {
        policy: await broadcast(seed, 'policy', true, 240_000),
        rate: await broadcast(seed, 'rate', true, 240_000),
        swarm: await broadcast(seed, 'swarm', true, 240_000),
        alone: await broadcast(seed, 'alone', true, 240_000),
      };
      console.log(`swarm sim, Node origin keeping up: ${JSON.stringify({ seed, ...fig })}`);
      expect(fig.policy.streamed).toBe(FAN_STREAMS);
      expect(fig.policy.edgesStreamed).toBe(FAN_STREAMS);
      expect(fig.policy.fanned).toBe(8 - FAN_STREAMS);
      expect(fig.policy.copies).toBeLessThanOrEqual(2);
      expect(fig.policy.ms).toBeLessThan(fig.alone.ms * 1.3);
      expect(fig.policy.ms).toBeLessThan(fig.swarm.ms);
      // Without the holder's word every reader keeps to the origin (session 13's policy): 8 copies.
      expect(fig.rate.nodeFirst).toBe(8);
      expect(fig.rate.turned).toBe(0);
      expect(fig.rate.fromReaders).toBe(0);
      expect(fig.rate.copies).toBeGreaterThanOrEqual(8);
    }
  }, 300_000);

  it('a Node origin that is the limit (8 MB/s for 8 readers): at most 2 copies, sooner than alone; the readers alone (no word) turn late and send more', async () => {
    for (const seed of figureSeeds([1, 2])) {
      const fig = {
        policy: await broadcast(seed, 'policy', true, 8_000),
        rate: await broadcast(seed, 'rate', true, 8_000),
        alone: await broadcast(seed, 'alone', true, 8_000),
      };
      console.log(`swarm sim, Node origin at its limit: ${JSON.stringify({ seed, ...fig })}`);
      expect(fig.policy.fanned).toBe(8 - FAN_STREAMS);
      expect(fig.policy.copies).toBeLessThanOrEqual(2);
      expect(fig.policy.ms).toBeLessThan(fig.alone.ms);
      expect(fig.rate.turned).toBeGreaterThanOrEqual(6);
      expect(fig.rate.copies).toBeGreaterThan(fig.policy.copies);
    }
  }, 300_000);

  // Without the bound on what a holder's readers asked for (fan-out.ts): 3.06, 2.79, 3.14 copies (session 15); with it
  // 2.74, 2.69, 2.86, the last reader 10-20% later: the edges outranked the tabs half through their streams and were
  // streamed whole copies besides. Told to fill (session 16), they take what the tabs hold from them: 1.87, 2.02, 2.21,
  // the last reader 1.27, 1.10, 1.21 s against 0.85, 0.62, 0.75 (the tabs' uploads, 10 MB/s, against the origin's 240).
  // What is left over 2: up to 2 MiB a turned reader keeps asked of the origin (a quarter of this 8 MiB object).
  it('edge readers that start late (150 ms, the tabs streamed to have half the object): they fill (what the tabs hold from the tabs), the origin sends about 2 copies', async () => {
    for (const seed of figureSeeds([1, 2, 3])) {
      const fig = await broadcast(seed, 'policy', true, 240_000, 150);
      console.log(`swarm sim, late edges: ${JSON.stringify({ seed, ...fig })}`);
      expect(fig.filled).toBeGreaterThanOrEqual(1);
      expect(fig.copies).toBeLessThanOrEqual(2.3);
      expect(fig.fromReaders).toBeGreaterThan(0);
    }
  }, 300_000);

  it('edges told to fill whose links to the tabs do not open in time at first (signals 1 s, links give up at 500 ms): they ask the tabs again and do not take the whole object from the origin', async () => {
    // Busy processes (bench, session 16, load 33-42): an edge told to fill had no link to a tab within 5 s, dropped
    // them all for the whole fetch and took all 64 MiB from the origin (2.33 copies).
    const tab = (p: string) => p.startsWith('t');
    const edge = (p: string) => p.startsWith('e');
    const links = {
      connectTimeoutMs: 500,
      signalDelayMs: (a: string, b: string) => ((edge(a) && tab(b)) || (tab(a) && edge(b)) ? (Date.now() < 1_500 ? 1_000 : 0) : 0),
    };
    for (const seed of figureSeeds([1, 2, 3])) {
      const fig = await broadcast(seed, 'policy', true, 240_000, 150, links);
      console.log(`swarm sim, late edges, slow links: ${JSON.stringify({ seed, ...fig })}`);
      expect(fig.filled).toBeGreaterThanOrEqual(1);
      expect(fig.copies).toBeLessThanOrEqual(2.3);
    }
  }, 300_000);

  it('a tab origin: no reader keeps to it (it is no Node source), the swarm starts at once and the origin sends at most 2 copies', async () => {
    for (const seed of figureSeeds([1, 2, 3])) {
      const fig = await broadcast(seed, 'policy', false, 0);
      console.log(`swarm sim, tab origin: ${JSON.stringify({ seed, ...fig })}`);
      expect(fig.nodeFirst).toBe(0);
      expect(fig.copies).toBeLessThanOrEqual(2);
      expect(fig.fromReaders).toBeGreaterThan(0);
    }
  }, 300_000);
});
