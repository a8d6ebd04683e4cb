// Peer links for Node (edge nodes and Node drivers): simple-peer over
// @roamhq/wrtc, loaded when first needed so that a platform without its
// binary still runs (objects then move through the coordinator's relay).
// TABMESH_PEERS=0 turns peer links off.
import SimplePeer from 'simple-peer';
import { simplePeerFactory, type PeerFactory } from '../shared/transfer/raw-peer.js';

let loaded: Promise<PeerFactory | undefined> | null = null;

export function edgePeers(): Promise<PeerFactory | undefined> {
  if (process.env.TABMESH_PEERS === '0') return Promise.resolve(undefined);
  loaded ??= import('@roamhq/wrtc').then(
    (mod) => simplePeerFactory(SimplePeer, { wrtc: (mod as { default?: unknown }).default ?? mod }),
    (e: Error) => {
      process.stderr.write(`tabmesh: no WebRTC here (${e.message}); objects move through the coordinator's relay\n`);
      return undefined;
    },
  );
  return loaded;
}
