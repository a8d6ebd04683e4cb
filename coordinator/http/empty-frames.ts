// A node's keepalive is an empty binary frame (shared/node/heartbeat.ts): 10,000 idle nodes send ~670 a second to
// each coordinator (issue 14). Through ws each goes the socket's 'data' event, the Receiver's Writable stream
// (write, _write, its parse loop: header, mask, data) and a 'message' event, for a frame with nothing in it. Here
// a read that is exactly one such frame (6 bytes: FIN + binary, masked, length 0, the mask) while ws's Receiver
// sits between frames with nothing held is a keepalive at once; any other read goes to ws as before (a frame cut
// over reads, one in a read with others, a fragmented message under way, a closing socket). What ws would do with
// that frame is emit an empty Buffer as a binary message: the caller's handler does what its 'message' one would.
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** FIN, no RSV bits, opcode 2 (binary); masked (a client's), payload length 0. */
const FIN_BINARY = 0x82;
const MASKED_EMPTY = 0x80;
/** Header and the 4-byte mask. */
const EMPTY_FRAME_BYTES = 6;

/** What ws 8's Receiver keeps of a frame under way (private: checked, and the fast path stays off without it). */
interface ReceiverState {
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
  writableLength: number;
}

/** ws's Receiver between frames: nothing buffered, no message in fragments, nothing queued in its stream. */
function between(r: ReceiverState): boolean {
  return r._state === 0 && r._bufferedBytes === 0 && r._fragmented === 0 && r.writableLength === 0;
}

function receiverOf(ws: WebSocket): ReceiverState | undefined {
  const r = (ws as unknown as { _receiver?: Partial<ReceiverState> })._receiver;
  const ok =
    r !== undefined &&
    typeof r._state === 'number' &&
    typeof r._bufferedBytes === 'number' &&
    typeof r._fragmented === 'number' &&
    typeof r.writableLength === 'number';
  return ok ? (r as ReceiverState) : undefined;
}

/**
 * Empty binary frames of `ws` read alone go to `onEmpty` instead of through ws's parser (their 'message' event is
 * not emitted). Call it when the socket is handed over, before any read (ws's 'data' listener is the only one then).
 * False, and nothing changed, when this ws does not look as expected (another version): every frame goes through ws.
 */
export function takeEmptyFrames(ws: WebSocket, onEmpty: () => void): boolean {
  const socket = (ws as unknown as { _socket?: Duplex })._socket;
  const receiver = receiverOf(ws);
  if (!socket || !receiver) return false;
  const listeners = socket.listeners('data');
  if (listeners.length !== 1) return false;
  const toWs = listeners[0] as (this: Duplex, chunk: Buffer) => void;
  socket.removeListener('data', toWs);
  socket.on('data', function (this: Duplex, chunk: Buffer) {
    if (chunk.length === EMPTY_FRAME_BYTES && chunk[0] === FIN_BINARY && chunk[1] === MASKED_EMPTY && ws.readyState === ws.OPEN && between(receiver))
      return onEmpty();
    toWs.call(this, chunk);
  });
  return true;
}
