// Issue 17: peers across NATs. The coordinator hands its nodes a TURN server
// (a real coturn inside the network namespace) with short-lived credentials
// derived from coturn's shared secret; links are relay-only, so host
// candidates cannot carry them: the link must go through TURN, and the object
// still arrives verified. With credentials from a wrong secret no link comes
// up, and the coordinator's relay carries the object instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { checksum, fill } from '../helpers/task-data.js';
import { startTurn, type TurnServer } from '../helpers/turn.js';
import type { NodeId } from '../../shared/ids.js';

const MB = 2 ** 20;
const SIZE = 16 * MB;
const SECRET = 'turn-secret-' + Math.random().toString(36).slice(2);

/** A cluster of two edge nodes whose links may only be relayed by `turn`, with credentials from `secret`; an object made on one read on the other. */
async function moveOne(turn: TurnServer, secret: string): Promise<{ cl: Cluster; got: unknown; peer: number; relayed: number; nodes: NodeId[] }> {
  const cl = await Cluster.start({ nodes: 0, ice: { servers: [turn.url], turnSecret: secret, relayOnly: true } });
  try {
    await cl.addNode({ cpus: 1, name: 'a' });
    await cl.addNode({ cpus: 1, name: 'b' });
    const nodes = [...cl.c.coordinator.gcs.nodes.keys()] as NodeId[];
    const mesh = await cl.driver();
    const on = (k: number) => ({ scheduling: { node: nodes[k], soft: false } });
    const big = mesh.remote(fill).options(on(0)).remote(SIZE, 5);
    await mesh.wait([big], { timeoutMs: 60_000 });
    const stats = cl.c.coordinator.gcs.stats;
    const [peer0, relayed0] = [stats.bytesPeer, stats.bytesRelayed];
    const got = await mesh.get(mesh.remote(checksum).options(on(1)).remote(big), { timeoutMs: 90_000 });
    return { cl, got, peer: stats.bytesPeer - peer0, relayed: stats.bytesRelayed - relayed0, nodes };
  } catch (e) {
    await cl.stop();
    throw e;
  }
}

describe('peer links through a TURN server', () => {
  let turn: TurnServer;
  beforeAll(async () => {
    turn = await startTurn(SECRET);
  });
  afterAll(async () => {
    await turn?.stop();
  });

  it('with relay-only links and credentials from the shared secret, a 16 MiB object moves peer to peer through TURN, verified', async () => {
    const { cl, got, peer, relayed, nodes } = await moveOne(turn, SECRET);
    try {
      expect(got).toEqual(checksum(fill(SIZE, 5)));
      expect(peer).toBeGreaterThanOrEqual(SIZE);
      expect(relayed).toBeLessThan(MB);
      // coturn accepted both nodes' coordinator-made credentials ("<expiry>:<node id>").
      const log = turn.log();
      for (const id of nodes)
        expect(log, `coturn log: ${log.slice(-3000)}`).toMatch(new RegExp(`user <\\d+:${id}>: incoming packet ALLOCATE processed, success`));
    } finally {
      await cl.stop();
    }
  }, 180_000);

  it('with credentials from a wrong secret no relay-only link comes up: the coordinator relays the object, verified', async () => {
    const { cl, got, peer, relayed } = await moveOne(turn, 'not-the-' + SECRET);
    try {
      expect(got).toEqual(checksum(fill(SIZE, 5)));
      expect(peer).toBe(0);
      expect(relayed).toBeGreaterThanOrEqual(SIZE);
    } finally {
      await cl.stop();
    }
  }, 180_000);
});
