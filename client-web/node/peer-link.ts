// Peer links for a browser node: simple-peer's own browser bundle over the
// browser's WebRTC (plain `simple-peer` needs Node globals Vite does not
// provide). `?peers=0` in the page's URL turns them off (benchmarks of the relay).
// Links to Node peers go over a WebSocket where the tab can dial one (ws-link.ts).
import SimplePeer from 'simple-peer/simplepeer.min.js';
import { simplePeerFactory, type PeerFactory } from '../../shared/transfer/raw-peer.js';
import { wsPeerFactory } from './ws-link.js';

export function browserPeers(): PeerFactory | undefined {
  if (typeof RTCPeerConnection === 'undefined') return undefined;
  if (new URLSearchParams(globalThis.location?.search ?? '').get('peers') === '0') return undefined;
  // Every browser's data channel fires 'bufferedamountlow': a sender waits for it, not on a timer (a hidden tab's fire once a second).
  // simple-peer's send is the channel's, which copies the bytes before it returns (Blink).
  // Chunks of as many leaves as the peer's SCTP takes in a message (Chromium: 3): a third of the messages, checks and events.
  return wsPeerFactory(simplePeerFactory(SimplePeer, {}, { drainEvents: true, sendCopies: true, largeMessages: true }));
}
