// Issue 17: a reader that finds a bad chunk reports its holder to the trust
// table. The report is checked: the reader must have asked for the object,
// the accused must be a node holding it, and one reader accuses a node once,
// so a lying reader cannot talk an honest node out of the mesh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { HostileNode } from './hostile.js';
import { connect } from '../../edge/index.js';
import type { NodeId, ObjectId } from '../../shared/ids.js';
import type { MsgOf } from '../../shared/protocol/messages.js';

describe('bad-holder reports', () => {
  let cl: Cluster;
  let liar: HostileNode | null = null;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 1, trust: { maxOffences: 3 } });
  }, 60_000);
  afterAll(async () => {
    liar?.close();
    await cl?.stop();
  });

  it('count once per reader, only against a node holding an object the reader asked for', async () => {
    const m = await connect({ url: cl.url, token: cl.token, peers: false });
    cl.meshes.push(m);
    const honest = [...cl.c.coordinator.gcs.nodes.keys()][0];
    const make = m.remote((seed: number) => new Uint8Array(200_000).fill(seed));
    const [x, y] = [make.remote(1), make.remote(2)];
    await m.wait([x, y], { numReturns: 2 });
    const trust = () => cl.c.coordinator.trust.view(honest);
    liar = await HostileNode.join(cl.url, { cpus: 0, name: 'slanderer' });
    const errors = () => liar!.peer.msgs.filter((e): e is MsgOf<'error'> => e.t === 'error');
    const accuse = (id: ObjectId, peer: string) => liar!.peer.send({ t: 'badHolder', id, peer: peer as NodeId });

    // Not asked for: no offence. Not a holder (itself, a made-up node): refused with a clear error.
    accuse(x.id, honest);
    accuse(x.id, liar.nodeId);
    accuse(x.id, 'ab'.repeat(8));
    await cl.until(() => errors().length >= 2);
    expect(
      errors()
        .map((e) => e.message)
        .join(' '),
    ).toMatch(/is not a node holding/);
    expect(trust().offences).toBe(0);

    // Asked for (located), then accused: one offence, naming the object.
    liar.peer.send({ t: 'locate', id: x.id, x: 1 }, { t: 'locate', id: y.id, x: 2 });
    accuse(x.id, honest);
    await cl.until(() => trust().offences === 1);
    expect(trust().recent[0]).toMatch(new RegExp(`${x.id.slice(0, 12)} that does not match its hash`));
    // Again, about another object: the same reader counts once.
    accuse(y.id, honest);
    accuse(x.id, honest);
    liar.peer.send({ t: 'locate', id: x.id, x: 3 });
    await cl.until(() => liar!.peer.msgs.some((e) => e.t === 'located' && e.x === 3));
    expect(trust().offences).toBe(1);
    expect(cl.c.coordinator.gcs.nodes.has(honest)).toBe(true);
  }, 60_000);
});
