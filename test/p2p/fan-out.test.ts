// The holder decides (issue 17, session 14), with real edge nodes: a driver's
// put read at once by tasks on four edge nodes. The driver (a Node origin
// over TCP) streams whole copies to two of them and tells the other two to
// take it from the swarm; the readers relay to each other over TCP, and the
// origin uploads at most about two copies. With its upload capped
// (`connect({ maxUploadMiBps })`) the same holds: the cap makes the origin
// the limit, and the readers it tells take the rest from each other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';
import type { PeerLinks } from '../../shared/transfer/links.js';
import { FAN_STREAMS } from '../../shared/transfer/fan-out.js';

const MB = 2 ** 20;
const SIZE = 16 * MB;
/**
 * Two whole copies, and at most the first run (1 MiB, asked with the leaves) of each reader told to swarm that
 * started alone: it asked that run before the word came (seen once in 3 runs at load 28: 2.06 copies).
 */
const MOST_COPIES = 2 + ((4 - FAN_STREAMS) * MB) / SIZE;

/** The last swarm read of each edge node: bytes by source (fetcher.ts logs them). */
function sourcesOf(cl: Cluster): Array<Record<string, number>> {
  return cl.nodes.map((n) => {
    const all = [...n.output.join('').matchAll(/swarm fetch of \S+: bytes by source (\{[^\n]*\})/g)];
    return all.length ? (JSON.parse(all[all.length - 1][1]) as Record<string, number>) : {};
  });
}

describe('a Node origin streams to two readers, the rest swarm (fan-out.ts)', () => {
  let cl: Cluster;

  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 4, cpus: 1 });
  }, 120_000);
  afterAll(async () => {
    await cl?.stop();
  });

  /** A driver puts SIZE bytes; a task on each edge node reads them at once. What the driver uploaded, and its words. */
  async function broadcast(mesh: Mesh): Promise<{ copies: number; said: { stream: number; swarm: number; streamToNodes: number }; fromEdges: number[] }> {
    const edges = [...cl.c.coordinator.gcs.nodes.keys()];
    const bytes = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i += 997) bytes[i] = (i * 13) & 255;
    let want = 0;
    for (let i = 0; i < SIZE; i += 997) want = (want + bytes[i] * (i + 1)) % 1_000_000_007;
    const obj = mesh.put(bytes);
    await mesh.wait([obj]);
    const sum = mesh.remote(function sum(x: Uint8Array) {
      let s = 0;
      for (let i = 0; i < x.length; i += 997) s = (s + x[i] * (i + 1)) % 1_000_000_007;
      return [x.length, s];
    });
    const links = (mesh.core as unknown as { links: PeerLinks }).links;
    const out0 = links.counters.bytesOut;
    const reads = edges.map((e) => sum.options({ scheduling: { node: e as NodeId, soft: false } }).remote(obj));
    expect(await mesh.get(reads)).toEqual(edges.map(() => [SIZE, want]));
    const origin = mesh.jobId;
    // Per reader, bytes from other readers (not the origin).
    const fromEdges = sourcesOf(cl).map((from) => Object.entries(from).reduce((n, [p, b]) => n + (p === origin ? 0 : b), 0));
    mesh.free([obj]);
    return { copies: (links.counters.bytesOut - out0) / SIZE, said: { ...links.fan.said }, fromEdges };
  }

  // Uncapped, the origin is not the limit on one host: a reader whose task starts after the first two were
  // served in full (CI at load: seconds apart) is streamed to as well, by design, so how many copies go out
  // depends on when the readers ask. The copies bound is the capped case's, where the readers overlap.
  it('four edge readers at once: the first two are streamed to (Node peers), every read is right', async () => {
    const mesh = await cl.driver();
    const r = await broadcast(mesh);
    if (process.env.P2P_DEBUG) console.log(`fan-out: ${JSON.stringify(r)}`);
    expect(r.said.stream).toBeGreaterThanOrEqual(FAN_STREAMS);
    expect(r.said.streamToNodes).toBe(r.said.stream); // edge readers over TCP: Node peers
    expect(r.copies).toBeLessThanOrEqual(4 + 0.01);
    await mesh.close();
  }, 120_000);

  // A reader whose task starts after the two streams ended (idle 2 s) is streamed to as well: at 4 MiB/s the streams
  // last 8 s and the file runs alone (vitest.config.ts); tried once more with a new object. Skipped in session 14
  // after 5 of 5 failures in clean-clone CI (the driver said `swarm` 0-1 times, not 2): the holder ranked readers by
  // the millisecond they first asked, and readers whose requests it read in one millisecond all ranked alike (a tie
  // of the 2nd and 3rd: 3 streams; traced at load 16, session 15, two of four readers tied in each case). Ranked by
  // the order they asked now (fan-out.ts; test/unit/fan-out).
  it(
    'a driver whose upload is capped (4 MiB/s): the same words, readers take from each other, at most about two copies',
    { retry: 1, timeout: 120_000 },
    async () => {
      const mesh = await cl.driver({ maxUploadMiBps: 4 });
      expect((mesh.core as unknown as { links: PeerLinks }).links.upload?.bytesPerMs).toBeCloseTo((4 * MB) / 1000);
      const r = await broadcast(mesh);
      if (process.env.P2P_DEBUG) console.log(`fan-out, capped: ${JSON.stringify(r)}`);
      expect(r.said.swarm).toBeGreaterThanOrEqual(4 - FAN_STREAMS);
      expect(r.fromEdges.filter((n) => n >= SIZE / 2).length).toBeGreaterThanOrEqual(4 - FAN_STREAMS);
      expect(r.copies).toBeLessThanOrEqual(MOST_COPIES);
      await mesh.close();
    },
  );

  it('a driver that says no word (as session 13, fan.speaks off): the readers keep to it (their rate guess) and it sends more than 2.5 copies', async () => {
    const mesh = await cl.driver();
    (mesh.core as unknown as { links: PeerLinks }).links.fan.speaks = false;
    const r = await broadcast(mesh);
    if (process.env.P2P_DEBUG) console.log(`no word: ${JSON.stringify(r)}`);
    expect(r.said).toEqual({ stream: 0, swarm: 0, streamToNodes: 0, fill: 0 });
    expect(r.copies).toBeGreaterThan(2.5);
    await mesh.close();
  }, 120_000);

  it('a bad cap is refused at connect', async () => {
    await expect(cl.driver({ maxUploadMiBps: -3 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});
