// The `ws` WebSocket of Node drivers and edge nodes, with an all-zero masking
// key: a client must mask its frames (RFC 6455 5.3), and ws XORs every byte
// it sends with the key; a zero key leaves the bytes as they are, so ws skips
// that pass (4% of a driver's CPU in a batch of 20,000 tasks, perf, session 9).
// Masking guards proxies against a browser page's script choosing the bytes
// on the wire; a browser's frames keep their random keys.
import WebSocket from 'ws';
import type { WebSocketCtor } from '../shared/api/socket.js';

function zeroMask(mask: Uint8Array): void {
  mask.fill(0);
}

class ZeroMaskWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { generateMask: zeroMask });
  }
}

export const NodeWebSocket = ZeroMaskWebSocket as unknown as WebSocketCtor;
