// Issue 11 (seen porting Ray's test_actor.py): some 30-40 live actors on one
// 2-CPU edge node, each holding no CPU while alive (Ray's default), then one
// call to each. Every call must be answered. A live actor used to keep its
// place in the coordinator's count of the node's queued tasks, so after 18
// (2 CPUs × depth 1 + 16 places) no further actor was placed, ever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';

class Cell {
  constructor(readonly i: number) {}
  read(): number {
    return this.i * 2;
  }
}

describe('many zero-CPU actors on one 2-CPU edge node', () => {
  let cl: Cluster;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
  }, 60_000);
  afterAll(async () => {
    await cl?.stop();
  });

  it('36 actors are created and each answers a call, then answer again', { timeout: 300_000 }, async () => {
    const mesh = await cl.driver();
    const C = mesh.remote(Cell);
    const t0 = Date.now();
    const actors = Array.from({ length: 36 }, (_, i) => C.remote(i));
    const first = await mesh.get(actors.map((a) => a.read.remote()));
    const t1 = Date.now();
    expect(first).toEqual(Array.from({ length: 36 }, (_, i) => i * 2));
    const again = await mesh.get(actors.map((a) => a.read.remote()));
    const t2 = Date.now();
    expect(again).toEqual(first);
    process.stderr.write(`many-actors: create+first call ${t1 - t0} ms, second round ${t2 - t1} ms\n`);
    for (const a of actors) mesh.kill(a);
  });
});
