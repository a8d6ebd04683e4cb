// Issue 4: 50 concurrent fetches of 1 MB objects among 4 tabs finish with
// bounded memory. Four volunteer tabs with 8 MiB object budgets make 1 MiB
// objects; then 50 tasks at once each read one that another tab holds, so
// every tab receives a dozen objects at the same time while serving as many.
// Throughout, no tab's heap exceeds what it held apart from objects plus its
// budget by more than the objects in flight; afterwards it holds no more than
// its store says.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_FLAGS, type TestBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { checksum, fill } from '../helpers/task-data.js';
import { openVolunteer, volunteerEval, type VolunteerTab } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { encodeValue } from '../../shared/codec.js';
import type { NodeId } from '../../shared/ids.js';
import { CHUNK_DATA_BYTES } from '../../shared/transfer/wire.js';
import { SCTP_SEND_BUFFER } from '../../shared/transfer/raw-peer.js';

const MB = 2 ** 20;
const TABS = 4;
/** Each tab's object store budget (`?memoryMb=`). */
const BUDGET_MB = 8;
/** Objects made on each tab: 5 MiB of primary copies, under the budget until the reads come. */
const OBJECTS_PER_TAB = 5;
const READS = 50;
/**
 * CPUs of a read. A tab of 1 CPU is sent tasks for at least 1 CPU's worth
 * (its pipelining depth is at least 1) and 16 besides, so it gets all its
 * 12 or 13 reads at once and fetches their objects together.
 */
const READ_CPUS = 1 / 16;
/** The warm-up's objects: above the 64 KiB inline limit, so they move over the links. */
const WARM_BYTES = 128 * 1024;
/** Pause between two looks at a tab (each is a full GC there). */
const SAMPLE_EVERY_MS = 100;
/** One 1 MiB object as stored and moved: the codec's bytes. */
const OBJECT_BYTES = encodeValue(new Uint8Array(MB)).bytes.byteLength;

/** A tab's transfers and last events, for a failure's message. */
const TAB_STATE = `({ peer: v.node.fetcher.fetchedPeer, relay: v.node.fetcher.fetchedRelay, opened: v.node.links.opened, failures: v.node.links.failures, trouble: v.events.filter((e) => /relay|stall|dropped|cancelled|closed/.test(e.text)).slice(-20).map((e) => e.text), events: v.events.slice(-12).map((e) => e.text) })`;

/**
 * Chromium as launchBrowser starts it, plus `gc()` in pages and an exact
 * `performance.memory`, whose used heap counts ArrayBuffer backing stores
 * (where object bytes live) along with the JS heap.
 */
async function launchMeasuringBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'tabmesh-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_FLAGS, '--enable-precise-memory-info', '--js-flags=--expose-gc'],
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

interface Sample {
  /** The page's heap after a full GC: what is still referenced, not garbage. */
  heap: number;
  /** What the store counts as held in memory (spills being written included). */
  storeBytes: number;
}

describe('memory under many concurrent peer fetches', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let mesh: Mesh;
  const tabs: VolunteerTab[] = [];

  beforeAll(async () => {
    // Failure detection is not what this measures: on the shared 2-core machine a tab's
    // main thread (forced to a full GC every 100 ms here) can miss 5 s of heartbeats.
    cl = await Cluster.start({ nodes: 0, deadAfterMs: 30_000 });
    b = await launchMeasuringBrowser();
    for (let i = 0; i < TABS; i++) tabs.push(await openVolunteer(cl, b, { cpus: 1, memoryMb: BUDGET_MB, name: `mem-${i}` }));
    mesh = await cl.driver();
  }, 90_000);
  afterAll(async () => {
    await cl?.stop();
    await b?.close();
  });

  /**
   * One look at tab `k`, within one turn of its event loop (no chunk is
   * handled in between): a full GC, then the heap and the store's count.
   */
  function sample(k: number): Promise<Sample> {
    return volunteerEval<Sample>(
      tabs[k].page,
      `(gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }), { heap: performance.memory.usedJSHeapSize, storeBytes: v.node.store.memoryBytes })`,
    );
  }

  const fetchedPeer = () => Promise.all(tabs.map((t) => volunteerEval<number>(t.page, 'v.node.fetcher.fetchedPeer')));

  // History (issue 17): its first relay fallbacks had causes fixed in sessions 11-13 (a holder
  // rehashing per request, SHA-256 on the main thread, a request queued behind the reader's own
  // chunks taken for a stall: test/unit/link-serve.test.ts); links stuck both ways close and their
  // source is asked again over a new link (test/sim/swarm.sim.test.ts "stuck links"). What kept it
  // skipped (session 14: 6 of 54 runs failed at load 4-36, 2-4 of 50 reads relayed): tab-to-tab
  // links froze with ~2.2 MB queued, their candidate pair sending nothing while the receiver had
  // every packet and message they sent. Each such queue was 2 MiB plus one chunk: past the
  // 2,000,000 bytes Chromium's SCTP (dcsctp) takes queued, so the data channel held the rest
  // itself until the transport said it was ready again. Session 15: a data channel's sender waits
  // at 1.5 MiB (raw-peer.ts CHANNEL_HIGH_WATER; test/unit/channel-queue.test.ts), and the printed
  // `queue samples` (P2P_DEBUG=1) count the 1-second stats samples of a queue past that buffer.
  // 30 runs alternated with the previous build (load 10-25): all passed on both; before, 291
  // samples past the buffer (every run) and 10 s stalls in 2 runs; after, none of either.
  it('50 concurrent fetches of 1 MiB objects among 4 tabs: each tab stays within its budget plus the objects in flight', async () => {
    const ids = tabs.map((t) => t.nodeId as NodeId);
    const on = (k: number) => ({ scheduling: { node: ids[k], soft: false } });
    const make = mesh.remote(fill);
    const sum = mesh.remote(checksum, { numCpus: READ_CPUS });

    // Warm-up: every tab reads a small object from every other one, which opens
    // the links and compiles what the run uses before anything is measured.
    const small = tabs.map((_, k) => make.options(on(k)).remote(WARM_BYTES, k + 1));
    const pairs = tabs.flatMap((_, k) => tabs.map((_, j) => [k, j]).filter(([, j]) => j !== k));
    const warm = await mesh.get(
      pairs.map(([k, j]) => sum.options(on(k)).remote(small[j])),
      { timeoutMs: 30_000 },
    );
    expect(warm).toEqual(pairs.map(([, j]) => checksum(fill(WARM_BYTES, j + 1))));
    const warmed = await Promise.all(tabs.map((_, k) => sample(k)));

    // 20 objects of 1 MiB, 5 on each tab, as primary copies in its store.
    const objs = Array.from({ length: TABS * OBJECTS_PER_TAB }, (_, i) => ({
      holder: i % TABS,
      seed: 1000 + i,
      ref: make.options(on(i % TABS)).remote(MB, 1000 + i),
    }));
    await mesh.wait(
      objs.map((o) => o.ref),
      { numReturns: objs.length, timeoutMs: 30_000 },
    );

    // Read i reads object i % 20 on the tab 1, 2 or 3 places after its holder:
    // 50 distinct (object, reader) pairs, so 50 transfers, each between two
    // different tabs; every tab receives 12 or 13 objects and sends as many.
    const reads = Array.from({ length: READS }, (_, i) => {
      const o = objs[i % objs.length];
      return { o, reader: (o.holder + 1 + Math.floor(i / objs.length)) % TABS };
    });
    const perTab = tabs.map((_, k) => reads.filter((r) => r.reader === k).length);

    // The baseline: what each page holds apart from objects (the page, the
    // runtime, open links), after a GC. The objects are the store's business.
    const before = await Promise.all(tabs.map((_, k) => sample(k)));
    const base = before.map((s) => s.heap - s.storeBytes);
    for (const t of tabs) await volunteerEval(t.page, '(v.node.links.peakReserved = 0, true)');
    const relayedBefore = cl.c.coordinator.gcs.stats.bytesRelayed;
    const fetchedBefore = await fetchedPeer();

    let finished = false;
    // Each link's transport counters every second while the reads run (printed when a count differs).
    const LINK_STATS = `Promise.all([...v.node.links.links].map(async ([peer, l]) => [peer.slice(0, 16), l.raw.stats ? await l.raw.stats().catch((e) => e.message) : null]))`;
    const history: unknown[] = [];
    const watching = (async () => {
      const t0 = Date.now();
      while (!finished) {
        history.push({ ms: Date.now() - t0, links: await Promise.all(tabs.map((t) => volunteerEval(t.page, LINK_STATS).catch((e: Error) => e.message))) });
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    const results = mesh
      .get(
        reads.map((r) => sum.options(on(r.reader)).remote(r.o.ref)),
        { timeoutMs: 45_000 },
      )
      .catch(async (e: Error) => {
        // What each tab was doing: its transfers and its last events.
        const states = await Promise.all(tabs.map((t) => volunteerEval(t.page, TAB_STATE).catch((x: Error) => x.message)));
        throw new Error(`${e.message}; tabs: ${JSON.stringify(states)}`);
      })
      .finally(() => (finished = true));
    // Look at every tab until all results are in, and once more after.
    const peak = tabs.map(() => ({ heap: 0, storeBytes: 0, samples: 0 }));
    await Promise.all(
      tabs.map(async (_, k) => {
        for (let last = false; !last;) {
          last = finished;
          const s = await sample(k);
          peak[k].heap = Math.max(peak[k].heap, s.heap);
          peak[k].storeBytes = Math.max(peak[k].storeBytes, s.storeBytes);
          peak[k].samples++;
          if (!last) await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
        }
      }),
    );

    // The right bytes, every one of them moved tab to tab.
    expect(await results).toEqual(reads.map((r) => checksum(fill(MB, r.o.seed))));
    const fetchedAfter = await fetchedPeer();
    await watching;
    const troubles = async () => {
      const states = await Promise.all(tabs.map((t) => volunteerEval(t.page, TAB_STATE)));
      return JSON.stringify({ ids: tabs.map((t) => t.nodeId), states, history });
    };
    const moved = fetchedAfter.map((n, k) => n - fetchedBefore[k]);
    expect(moved, moved.some((n, k) => n !== perTab[k]) ? await troubles() : '').toEqual(perTab);
    expect(cl.c.coordinator.gcs.stats.bytesRelayed - relayedBefore).toBeLessThan(OBJECT_BYTES);

    const budget = BUDGET_MB * MB;
    const figures: Record<string, number>[] = [];
    for (let k = 0; k < TABS; k++) {
      const page = tabs[k].page;
      await volunteerEval(page, 'v.node.store.idle().then(() => true)');
      const after = await sample(k);
      const links = await volunteerEval<{ peak: number; cap: number }>(page, '({ peak: v.node.links.peakReserved, cap: v.node.links.incomingBytes })');
      // Objects this tab may be moving to or from IndexedDB at once: only its
      // own primary copies go there (fetched copies are dropped instead), when
      // fetched copies fill its store, and come back to be sent to a peer.
      const tierInFlight = OBJECTS_PER_TAB * OBJECT_BYTES;
      // Received chunks the page holds before copying them: one per transfer.
      const chunksInFlight = perTab[k] * CHUNK_DATA_BYTES;
      // The bound: the baseline, the budget, and the objects in flight: the
      // receive buffers the links reserved at most at once (an object being
      // received is one buffer of its size from its first chunk on), the
      // tier's, and the chunks.
      const bound = base[k] + budget + links.peak + tierInFlight + chunksInFlight;
      const f = {
        tab: k,
        reads: perTab[k],
        samples: peak[k].samples,
        baseMb: mb(base[k]),
        peakHeapMb: mb(peak[k].heap),
        boundMb: mb(bound),
        peakStoreMb: mb(peak[k].storeBytes),
        peakReservedMb: mb(links.peak),
        endHeapMb: mb(after.heap),
        endStoreMb: mb(after.storeBytes),
      };
      figures.push(f);
      const about = `tab ${k}: ${JSON.stringify(f)}`;

      // Making 5 MiB of objects added no more to the page than its store
      // counts: anything hidden behind a stored object (a view keeps its whole
      // buffer alive) would be a whole object's size or more.
      expect(base[k] - (warmed[k].heap - warmed[k].storeBytes), about).toBeLessThan(OBJECT_BYTES);
      // The transfer layer kept its receive buffers within its cap, and the
      // tab's reads did overlap.
      expect(links.peak, about).toBeLessThanOrEqual(links.cap);
      expect(links.peak, about).toBeGreaterThanOrEqual(2 * OBJECT_BYTES);
      // The store keeps to its budget, exceeding it only by its own objects
      // being written to IndexedDB, and not at all once those are written.
      expect(peak[k].storeBytes, about).toBeLessThanOrEqual(budget + tierInFlight);
      expect(after.storeBytes, about).toBeLessThanOrEqual(budget);
      expect(peak[k].heap, about).toBeLessThanOrEqual(bound);
      // Afterwards nothing is in flight: the page holds its baseline and what
      // its store holds. Anything the run left behind (a task's arguments, a
      // copy read back from IndexedDB) would be a whole object.
      expect(after.heap - after.storeBytes - base[k], about).toBeLessThan(OBJECT_BYTES);
    }
    if (process.env.P2P_DEBUG) {
      for (const f of figures) console.log(JSON.stringify(f));
      // Transfers that met trouble on the way even though the run passed.
      for (const t of tabs) console.log(JSON.stringify(await volunteerEval(t.page, TAB_STATE)));
      // The deepest send queue a link's stats showed (sampled each second), and samples past SCTP's send buffer.
      const queued = history.flatMap((h) => {
        const links = (h as { links: unknown[] }).links;
        return links.flatMap((l) => (Array.isArray(l) ? l.map(([, s]) => (s as { buffered?: number } | null)?.buffered ?? 0) : []));
      });
      console.log(
        `queue samples: ${queued.length}, peak ${Math.max(0, ...queued)}, past ${SCTP_SEND_BUFFER}: ${queued.filter((q) => q > SCTP_SEND_BUFFER).length}`,
      );
    }
  }, 60_000);
});

function mb(n: number): number {
  return Math.round((n / MB) * 100) / 100;
}
