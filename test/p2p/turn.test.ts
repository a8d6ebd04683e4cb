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
// Over the inline limit, many chunks: what moves it (TURN, or the relay) is what is checked, by
// bytes against the size (under 1 MiB relayed, or all of it). 16 MiB until session 34: 12 MiB more through coturn,
// node-wrtc and the relay for the same checks.
const SIZE = 4 * MB;
const SECRET = 'turn-secret-' + Math.random().toString(36).slice(2);

/**
 * A cluster of two edge nodes whose links may only be relayed by `turn`, with credentials from `secret`; an object
 * made on one read on the other. `env`: the nodes' environment besides the test's.
 */
async function moveOne(
  turn: TurnServer,
  secret: string,
  env?: Record<string, string>,
): Promise<{ cl: Cluster; got: unknown; peer: number; relayed: number; nodes: NodeId[]; output: string[] }> {
  const cl = await Cluster.start({ nodes: 0, ice: { servers: [turn.url], turnSecret: secret, relayOnly: true } });
  try {
    const a = await cl.addNode({ cpus: 1, name: 'a', env });
    const b = await cl.addNode({ cpus: 1, name: 'b', env });
    const nodes = [...cl.c.coordinator.gcs.nodes.keys()] as NodeId[];
    const mesh = await cl.driver();
    const on = (k: number) => ({ scheduling: { node: nodes[k], soft: false } });
    const big = mesh.remote(fill).options(on(0)).remote(SIZE, 5);
    await mesh.wait([big], { timeoutMs: 60_000 });
    const stats = cl.c.coordinator.gcs.stats;
    const [peer0, relayed0] = [stats.bytesPeer, stats.bytesRelayed];
    const got = await mesh.get(mesh.remote(checksum).options(on(1)).remote(big), { timeoutMs: 90_000 });
    return { cl, got, peer: stats.bytesPeer - peer0, relayed: stats.bytesRelayed - relayed0, nodes, output: [...a.output, ...b.output] };
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

  it('with relay-only links and credentials from the shared secret, a 4 MiB object moves peer to peer through TURN, verified', async () => {
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
    // What is tested is the relay taking over, not how long a link may take to open: 1 s, not 5 (the reader tries
    // the holder's link 4 times with 1, 2, 4 s between: 29.5 s of CI at 5 s, session 19).
    const { cl, got, peer, relayed, output } = await moveOne(turn, 'not-the-' + SECRET, { TABMESH_LINK_CONNECT_MS: '1000' });
    try {
      expect(got).toEqual(checksum(fill(SIZE, 5)));
      expect(peer).toBe(0);
      expect(relayed).toBeGreaterThanOrEqual(SIZE);
      expect(output.join('')).toContain('no link within 1000 ms');
    } finally {
      await cl.stop();
    }
  }, 180_000);
});
