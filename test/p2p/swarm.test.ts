// Swarm broadcast with real tabs and edge nodes (issue 17): a large object made
// in tab A is read at once by tasks on three edge nodes, while tab B, which
// read it earlier, serves it with corrupted chunks. Each reader takes chunks
// from every holder and from the other readers, checks each one, takes a bad
// one from another source, and reports the liar to the trust table; the
// origin uploads less than two copies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, withBrowser } from '../helpers/browser.js';
import { Cluster } from '../helpers/cluster.js';
import { openVolunteers, volunteerEval, type VolunteerTab } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';

const MB = 2 ** 20;
const SIZE = 16 * MB;

describe('swarm broadcast between tabs and edge nodes', () => {
  let cl: Cluster;
  let b: TestBrowser;
  let tabA: VolunteerTab;
  let tabB: VolunteerTab;
  let edges: NodeId[];
  let mesh: Mesh;

  beforeAll(async () => {
    [cl, b] = await withBrowser(Cluster.start({ nodes: 3, cpus: 1 }));
    edges = [...cl.c.coordinator.gcs.nodes.keys()];
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

  it('three readers at once: right bytes everywhere, the lying holder reported, the origin uploads under two copies', async () => {
    const make = mesh.remote(function make(n: number) {
      const x = new Uint8Array(n);
      for (let i = 0; i < n; i += 991) x[i] = (i * 7) & 255;
      return x;
    }, on(tabA.nodeId));
    const sum = mesh.remote(function sum(x: Uint8Array) {
      let s = 0;
      for (let i = 0; i < x.length; i += 991) s = (s + x[i] * (i + 1)) % 1_000_000_007;
      return [x.length, s];
    });
    let want = 0;
    for (let i = 0; i < SIZE; i += 991) want = (want + ((i * 7) & 255) * (i + 1)) % 1_000_000_007;
    const obj = make.remote(SIZE);
    await mesh.wait([obj]);
    // Tab B reads it first (it now holds a copy and counts as a swarm member), then lies about it.
    expect(await mesh.get(sum.options(on(tabB.nodeId)).remote(obj))).toEqual([SIZE, want]);
    await volunteerEval(tabB.page, '(v.node.links.faults.corruptChunks = 2, true)');
    const originOut = await volunteerEval<number>(tabA.page, 'v.node.links.counters.bytesOut');

    const reads = edges.map((e) => sum.options(on(e)).remote(obj));
    expect(await mesh.get(reads)).toEqual(edges.map(() => [SIZE, want]));

    // The liar's bad chunks were caught and reported: offences in the trust table, and none for honest nodes.
    expect(await volunteerEval<number>(tabB.page, 'v.node.links.faults.corruptChunks')).toBe(0);
    const trust = cl.c.coordinator.trust;
    expect(trust.view(tabB.nodeId as NodeId).offences).toBeGreaterThanOrEqual(1);
    expect(trust.view(tabB.nodeId as NodeId).recent.at(-1)).toMatch(/does not match its hash/);
    for (const n of [tabA.nodeId, ...edges]) expect(trust.view(n as NodeId).offences).toBe(0);
    // The readers took chunks from each other and from tab B: the origin sent under two copies.
    const sent = (await volunteerEval<number>(tabA.page, 'v.node.links.counters.bytesOut')) - originOut;
    if (process.env.P2P_DEBUG) console.log(`origin sent ${(sent / SIZE).toFixed(2)} copies`);
    expect(sent).toBeLessThan(2 * SIZE);
  }, 180_000);
});
