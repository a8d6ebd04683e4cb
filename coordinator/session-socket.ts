// A connection's socket events on the coordinator: each event has one listener function for all sockets, which finds
// the socket's session on it (issue 14, session 38). A closure per event per socket (and the context they shared, and
// the bound wrapper of a `once`) were 6 objects and ~330 bytes a connected node that every full GC marked.
import type { RawData, WebSocket } from 'ws';
import type { Coordinator } from './coordinator.js';
import { Session } from './session.js';
import { refusalReason } from './limits/limits.js';
import { framePartsIn, type FrameIn } from '../shared/protocol/chunk-frame.js';

const SESSION = Symbol('session');
type SessionSocket = WebSocket & { [SESSION]: Session };

/** A message's data as `ws` hands it with binaryType 'fragments': a chunk frame's two parts stay apart (not copied). */
function frameOf(data: RawData): FrameIn {
  if (Array.isArray(data)) return framePartsIn(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

const sessionOf = (socket: WebSocket): Session => (socket as SessionSocket)[SESSION];

function terminate(this: WebSocket): void {
  this.terminate();
}

/** What the coordinator does with each new /ws socket (http/node-socket.ts's `accept`). */
export function acceptSessions(c: Coordinator): (socket: WebSocket, remoteAddress: string) => void {
  // `this` is the socket: EventEmitter calls its listeners so.
  function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
    const s = sessionOf(this);
    if (!isBinary) return s.fail('BAD_FRAME', 'frames must be binary');
    c.onFrame(s, frameOf(data));
  }
  function onRefusedClose(this: WebSocket): void {
    c.limits.closed(sessionOf(this).remoteAddress);
  }
  // The address's count first, then the session's end: the order of the two listeners this replaced.
  function onClose(this: WebSocket, code: number): void {
    const s = sessionOf(this);
    c.limits.closed(s.remoteAddress);
    c.onClose(s, code);
  }
  return (socket, remoteAddress) => {
    const s = new Session(socket, remoteAddress, c.flushes);
    (socket as SessionSocket)[SESSION] = s;
    // Per-address connection limit (issue 8): the one over it is told and closed.
    const over = c.limits.opened(s.remoteAddress);
    if (over) {
      socket.on('close', onRefusedClose);
      return s.fail(over.code, over.message, refusalReason(over));
    }
    c.sessions.add(s);
    // A chunk frame's header and bytes come as two fragments: kept apart, the bytes are forwarded without a copy.
    socket.binaryType = 'fragments';
    socket.on('message', onMessage);
    socket.on('close', onClose);
    socket.on('error', terminate);
  };
}
