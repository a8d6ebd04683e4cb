// Seeded runs of swarm broadcast (issue 17) on the simulated network: one
// object, one honest origin, sometimes a second full holder that lies about
// its bytes and sometimes a reader that corrupts the chunks it passes on;
// 2-8 readers starting at random times, each becoming a full holder once it
// has the object (as a node's store does). Invariants on every run: each
// reader gets exactly the object's bytes, nothing hangs, receive buffers come
// back, every bad chunk is reported and only liars are; on calm runs with no
// liar readers took chunks from each other and the origin uploaded at most
// two copies in all. The swarm's protocol, case by case, is in
// swarm-protocol.sim.test.ts; its comparisons with one whole-object request in
// swarm-figures.sim.test.ts.
//
//   SIM_RUNS=2000 npx vitest run test/sim/swarm.sim.test.ts     more seeds
//   SIM_SEED=12 npx vitest run test/sim/swarm.sim.test.ts       replay one seed
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import { seedsToRun } from './seeds.js';
import { run } from './swarm-run.js';

afterEach(() => {
  vi.useRealTimers();
});

installNodeHasher();

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
