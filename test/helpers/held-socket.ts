// A `ws` WebSocket whose outgoing frames a test can hold back and let go, in
// order: to play a driver whose submissions wait at a busy coordinator, or a
// node whose reports are late, with real sockets and no fake of the protocol.
import WebSocket from 'ws';
import type { WebSocketCtor } from '../../shared/api/socket.js';
import { decodeFrame } from '../../shared/protocol/frame.js';
import type { Msg } from '../../shared/protocol/messages.js';

export class FrameGate {
  /** Frames held, in the order they were sent. */
  private readonly queue: (() => void)[] = [];
  /** While set, a frame holding a message it accepts starts holding (and every frame after it, for order). */
  private from: ((m: Msg) => boolean) | null = null;
  private holding = false;

  /** Holds every frame from now on. */
  hold(): void {
    this.holding = true;
  }

  /** Holds, from the first frame that carries a message `which` accepts, that frame and every later one. */
  holdFrom(which: (m: Msg) => boolean): void {
    this.from = which;
  }

  get held(): number {
    return this.queue.length;
  }

  /** Sends what was held, in order, and holds nothing more. */
  release(): void {
    this.holding = false;
    this.from = null;
    for (const send of this.queue.splice(0)) send();
  }

  /** The WebSocket class to give a driver (`connect({ WebSocket })`) or a node runtime. */
  socket(): WebSocketCtor {
    const gate = this;
    class HeldSocket extends WebSocket {
      override send(data: unknown, ...rest: unknown[]): void {
        const send = () => (super.send as (d: unknown, ...r: unknown[]) => void).call(this, data, ...rest);
        if (!gate.holding && gate.from && data instanceof Uint8Array && data.byteLength > 0 && decodeFrame(data).some(gate.from)) gate.holding = true;
        if (gate.holding) gate.queue.push(send);
        else send();
      }
    }
    return HeldSocket as unknown as WebSocketCtor;
  }
}
