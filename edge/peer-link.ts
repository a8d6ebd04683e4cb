// Peer links for Node (edge nodes and Node drivers): simple-peer over
// @roamhq/wrtc, loaded when first needed so that a platform without its
// binary still runs (objects then move through the coordinator's relay).
// TABMESH_PEERS=0 turns peer links off. Between Node peers a plain TCP link
// is tried first (edge/fast-link.ts; TABMESH_FAST_LINKS=0 turns it off).
import SimplePeer from 'simple-peer';
import { simplePeerFactory, type PeerFactory } from '../shared/transfer/raw-peer.js';
import { fastPeerFactory } from './fast-link.js';

let loaded: Promise<PeerFactory | undefined> | null = null;

export function edgePeers(): Promise<PeerFactory | undefined> {
  if (process.env.TABMESH_PEERS === '0') return Promise.resolve(undefined);
  const fast = process.env.TABMESH_FAST_LINKS !== '0';
  loaded ??= import('@roamhq/wrtc').then(
    (mod) => {
      const webrtc = simplePeerFactory(SimplePeer, { wrtc: (mod as { default?: unknown }).default ?? mod });
      return fast ? fastPeerFactory(webrtc) : webrtc;
    },
    (e: Error) => {
      process.stderr.write(
        `tabmesh: no WebRTC here (${e.message}); ${fast ? 'TCP links to Node peers, else' : 'objects move through'} the coordinator's relay\n`,
      );
      return fast ? fastPeerFactory(undefined) : undefined;
    },
  );
  return loaded;
}
