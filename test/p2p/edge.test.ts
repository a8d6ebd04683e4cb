// Issue 4 between edge nodes and a Node driver: large objects move over
// WebRTC peer links (@roamhq/wrtc), not through the coordinator's relay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId } from '../../shared/ids.js';

const MB = 2 ** 20;

describe('peer links between edge nodes and a Node driver', () => {
  let cl: Cluster;
  let mesh: Mesh;
  let a: NodeId;
  let b: NodeId;

  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 2, cpus: 1 });
    [a, b] = [...cl.c.coordinator.gcs.nodes.keys()];
    mesh = await cl.driver();
  }, 60_000);
  afterAll(async () => {
    await cl?.stop();
  });

  const stats = () => cl.c.coordinator.gcs.stats;

  it('a 64 MB object made on edge A and read by a task on edge B moves peer-to-peer', async () => {
    const make = mesh.remote(
      function make(n: number) {
        const x = new Uint8Array(n);
        for (let i = 0; i < n; i += 4096) x[i] = (i >> 12) & 255;
        return x;
      },
      { scheduling: { node: a, soft: false } },
    );
    const sum = mesh.remote(
      function sum(x: Uint8Array) {
        let s = 0;
        for (let i = 0; i < x.length; i += 4096) s += x[i];
        return [x.length, s];
      },
      { scheduling: { node: b, soft: false } },
    );
    const big = make.remote(64 * MB);
    await mesh.wait([big]);
    const relayed = stats().bytesRelayed;
    const peer = stats().bytesPeer;
    let expected = 0;
    for (let i = 0; i < 64 * MB; i += 4096) expected += (i >> 12) & 255;
    expect(await mesh.get(sum.remote(big))).toEqual([64 * MB, expected]);
    expect(stats().bytesRelayed - relayed).toBeLessThan(MB);
    expect(stats().bytesPeer - peer).toBeGreaterThanOrEqual(64 * MB);
  }, 120_000);

  it("a driver's get of a large result and a node's read of a driver's large put use peer links", async () => {
    const make = mesh.remote((n: number) => new Uint8Array(n).fill(7), { scheduling: { node: b, soft: false } });
    const relayed = stats().bytesRelayed;
    const peer = stats().bytesPeer;
    const got = await mesh.get(make.remote(8 * MB));
    expect(got.length).toBe(8 * MB);
    expect(got[8 * MB - 1]).toBe(7);
    const put = mesh.put(new Uint8Array(8 * MB).fill(3));
    const len = mesh.remote((x: Uint8Array) => x.length + x[100], { scheduling: { node: a, soft: false } });
    expect(await mesh.get(len.remote(put))).toBe(8 * MB + 3);
    expect(stats().bytesRelayed - relayed).toBeLessThan(MB);
    expect(stats().bytesPeer - peer).toBeGreaterThanOrEqual(16 * MB);
  }, 120_000);
});
