// A reader for transfer tests: an ObjectFetcher over `links` that is told
// `holders` hold every object it asks for, and fails the test if it falls
// back to the coordinator's relay. Used over the fake network
// (test/unit/transfer.test.ts) and real fast links (test/p2p/fast-link.test.ts).
import { ObjectFetcher } from '../../shared/transfer/fetcher.js';
import { ObjectClient } from '../../shared/api/object-client.js';
import type { PeerLinks } from '../../shared/transfer/links.js';
import type { Msg } from '../../shared/protocol/messages.js';

/** `swarm`: from all holders at once (swarm.ts), else one after another. */
export function peerOnlyReader(links: PeerLinks, holders: string[], swarm = false): ObjectFetcher {
  const objects = new ObjectClient(
    (m: Msg) => {
      if (m.t === 'fetch') throw new Error('the relay was used');
    },
    () => 0,
  );
  const f: ObjectFetcher = new ObjectFetcher(
    objects,
    links,
    (m) => {
      if (m.t === 'locate') setImmediate(() => f.onLocated({ t: 'located', x: m.x, peers: holders }));
    },
    { swarmMinBytes: swarm ? 1 : Infinity },
  );
  return f;
}

/** Deterministic bytes that differ from chunk to chunk. */
export function sampleBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
}
