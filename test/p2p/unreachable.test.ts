// A signal to a peer that left (issue 17): the real coordinator tells the
// sender (`unreachable`) instead of dropping it, so a swarm reader that was
// told of that peer drops it at once and takes the object from the live
// holder, instead of waiting for a link that cannot open.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { NodeId, ObjectId } from '../../shared/ids.js';
import type { PeerLinks } from '../../shared/transfer/links.js';
import type { ObjectFetcher } from '../../shared/transfer/fetcher.js';

const SIZE = 4 << 20;

describe('a signal to a peer that left', () => {
  let cl: Cluster;
  let mesh: Mesh;

  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 1 });
    mesh = await cl.driver();
  }, 60_000);
  afterAll(async () => {
    await cl?.stop();
  });

  it('a reader told of a peer that left gets the refusal, drops it and reads from the live holder; the link is not tried again', async () => {
    const [holder] = [...cl.c.coordinator.gcs.nodes.keys()];
    const leaver = await cl.addNode({ cpus: 1, name: 'leaver' });
    const goneId = [...cl.c.coordinator.gcs.nodes.values()].find((n) => n.name === 'leaver')!.id;
    await leaver.kill('SIGKILL');
    await cl.until(
      () => !cl.c.coordinator.gcs.nodes.has(goneId),
      20_000,
      () => 'the killed node is still in the mesh',
    );

    const make = mesh.remote(
      function make(n: number) {
        const x = new Uint8Array(n);
        for (let i = 0; i < n; i += 4093) x[i] = i & 255;
        return x;
      },
      { scheduling: { node: holder as NodeId, soft: false } },
    );
    const ref = make.remote(SIZE);
    await mesh.wait([ref]);
    const id = (ref as unknown as { id: ObjectId }).id;
    const o = cl.c.coordinator.gcs.objects.get(id)!;

    const core = mesh.core as unknown as { links: PeerLinks; fetcher: ObjectFetcher };
    const events: string[] = [];
    core.fetcher.onEvent = (t) => events.push(t);
    const refusedBefore = cl.c.coordinator.signalling.refused;
    // The holder is an edge node over TCP, which a reader keeps to (swarm-policy.ts) without telling other readers:
    // here the reader swarms, as with a tab origin, so it tells the leaver.
    core.fetcher.swarm!.preferNode = false;
    // The coordinator's list named the leaver as a reader of it a moment ago (it located the object, then went).
    const bytes = await core.fetcher.swarm!.fetch(id, o.size, o.hash, [holder], [goneId]);
    // The stored object (a small kind header and the bytes), each chunk checked against its hash on arrival.
    expect(bytes.byteLength).toBe(o.size);
    expect(o.size).toBeGreaterThanOrEqual(SIZE);

    expect(cl.c.coordinator.signalling.refused).toBeGreaterThan(refusedBefore);
    expect(core.links.counters.unreachable).toBeGreaterThanOrEqual(1);
    // Its link failed on the refusal (one failure, before the 5 s connect timeout could count one), and it is not tried again.
    expect(core.links.failures).toBe(1);
    expect(core.links.usable(goneId)).toBe(false);
    expect(events.filter((t) => t.includes(`${goneId} dropped`) && t.includes('the peer left'))).toHaveLength(1);
    // Every byte came from the live holder: no relay.
    expect(core.fetcher.swarm!.stats.fromFull).toBe(o.size);
  }, 90_000);
});
