// Ported from ray-project/ray python/ray/tests/test_advanced*.py (issue 13):
// custom resources by the thousand. Ray's assertions kept; Ray's numpy
// draws are a seeded generator here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { seeded } from './setup.js';

describe('test_advanced.py on edge nodes', () => {
  let cl: Cluster;
  const numCustomResources = 10_000;
  const random = seeded(10_000);
  const randint = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo));
  const totalResources: Record<string, number> = {};
  for (let i = 0; i < numCustomResources; i++) totalResources[String(i)] = randint(1, 7);

  // Ray: ray.init(num_cpus=5, resources=total_resources); the machine is shared, so 2 CPUs.
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 0 });
    await cl.addNode({ cpus: 2, resources: totalResources });
  }, 120_000);
  afterAll(() => cl.stop());

  it('test_many_custom_resources', async () => {
    const m = await cl.driver();
    const f = () => 1;
    const remoteFunctions = [];
    for (let n = 0; n < 20; n++) {
      const numResources = randint(0, numCustomResources + 1);
      // A permutation's first numResources names: a partial Fisher-Yates shuffle.
      const names = Object.keys(totalResources);
      for (let i = 0; i < numResources; i++) {
        const j = i + Math.floor(random() * (names.length - i));
        [names[i], names[j]] = [names[j], names[i]];
      }
      const randomResources: Record<string, number> = {};
      for (const r of names.slice(0, numResources)) randomResources[r] = totalResources[r];
      remoteFunctions.push(m.remote(f, { resources: randomResources }));
    }
    remoteFunctions.push(m.remote(f));
    remoteFunctions.push(m.remote(f, { resources: totalResources }));
    const results = [];
    for (const rf of remoteFunctions) results.push(rf.remote(), rf.remote(), rf.remote());
    expect(await m.get(results)).toEqual(results.map(() => 1));
    // The node offers every one of them (Ray's cluster_resources()).
    const cluster = await m.clusterResources();
    expect(Object.keys(cluster).length).toBe(numCustomResources + 1);
    expect(cluster['9999']).toBe(totalResources['9999']);
  }, 120_000);
});
