// A `ws` client socket whose close sends the close frame and then reads nothing more: the socket stays closing at
// the coordinator (ws's client ends it only after reading the answer, or after 30 s), as a starved peer's does.
import WebSocket from 'ws';
import type { Socket } from 'node:net';
import type { WebSocketCtor } from '../../shared/api/socket.js';

export function stuckOnClose(): { ctor: WebSocketCtor; last: () => WebSocket } {
  let last: WebSocket | undefined;
  class StuckClose extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      last = this;
    }
    override close(code?: number, reason?: string): void {
      super.close(code, reason);
      (this as unknown as { _socket: Socket | null })._socket?.pause();
    }
  }
  return { ctor: StuckClose as unknown as WebSocketCtor, last: () => last! };
}
