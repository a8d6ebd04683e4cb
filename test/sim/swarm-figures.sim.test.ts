// Swarm broadcast (issue 17) against one whole-object request on the simulated
// network: wall time of one reader and of eight, and a Node source first with
// the holder deciding who streams and who swarms (swarm-policy.ts, fan-out.ts).
//
//   SIM_FIGURES=all npx vitest run test/sim/swarm-figures.sim.test.ts   every network of the comparisons, not
//                                                                       only the first
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import { setChunkChecker } from '../../shared/hash.js';
import { CALM, SimNet, type NetFaults } from './net.js';
import { figureSeeds } from './seeds.js';
import { CHUNK, SwarmSim, object, simulated, type SimOptions } from './swarm-run.js';
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
