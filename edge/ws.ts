// The `ws` WebSocket of the Node side: an edge node's link to its coordinator and a Node driver's. To a coordinator
// on this machine (a loopback address: `tabmesh start`'s own node, a test's cluster) its frames carry a zero mask,
// which `ws` sends without XOR-ing each payload into a copy and reads without XOR-ing it back (sender.js skipMasking,
// receiver.js). A client masks its frames so that an intermediary (a proxy) cannot be made to read attacker-chosen
// bytes as a request of its own (RFC 6455 section 10.3); there is none on loopback. Under the soak, `tabmesh start`'s
// loop spent ~4.5 s of a profile masking its own node's 50 MB objects (issue 14, session 35). Any other address
// keeps ws's random masks.
import WebSocket from 'ws';
import type { WebSocketCtor } from '../shared/api/socket.js';

/** Whether `url` names this machine by a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

const zeroMask = (mask: Buffer): void => void mask.fill(0);

/** `ws`'s WebSocket, unmasked to a loopback address. */
export class NodeWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, isLoopback(url) ? { generateMask: zeroMask } : {});
  }

  /** A chunk frame's two parts as one message (sendFragments). */
  sendParts(head: Uint8Array, body: Uint8Array): void {
    sendFragments(this, head, body);
  }
}

/**
 * One binary message as two fragments, each sent from its own buffer: a relay chunk's bytes leave from where they
 * lie, not copied into a frame (shared/protocol/chunk-frame.ts; masked fragments are copied by `ws` as any frame).
 * A node's and a driver's socket (NodeWebSocket.sendParts) and the coordinator's (Session.sendChunkFrames).
 */
export function sendFragments(ws: WebSocket, head: Uint8Array, body: Uint8Array): void {
  ws.send(head, { binary: true, fin: false });
  ws.send(body, { binary: true, fin: true });
}

/** The constructor the node runtime and the driver take. */
export const nodeWebSocket = NodeWebSocket as unknown as WebSocketCtor;
