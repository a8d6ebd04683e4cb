// A stand-in coordinator for white-box tests of the driver box: a WebSocket class that welcomes each hello (with
// the welcome fields a test gives), echoes each `sync`, keeps every message the driver sends, decoded, and delivers the messages a test
// plays back. Closing it from the test side (`drop`) makes the driver resume on a new socket of the same class.
import { SocketFields, type WebSocketLike } from '../../shared/api/socket.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import type { Msg, MsgOf } from '../../shared/protocol/messages.js';
import { newJobId, type JobId } from '../../shared/ids.js';

export interface FakeCoordinator {
  /** Every message the driver sent, in order, over every socket (hellos included). */
  readonly sent: Msg[];
  /** The WebSocket class to give connect(). */
  readonly Ws: new (url: string) => WebSocketLike;
  /** What the next welcome says beyond the job (e.g. `{ groups: true }`). */
  welcome: Partial<MsgOf<'welcome'>>;
  /** Sends these messages to the driver on its live socket, in one frame. */
  deliver(...msgs: Msg[]): void;
  /** Closes the live socket as a dropped connection would (the driver then reconnects). */
  drop(): void;
  /** The size of each frame the driver sent, in bytes. */
  readonly frameBytes: number[];
  /** How many sockets the driver opened. */
  readonly sockets: number;
  /** The messages sent so far of kind `t`. */
  of<K extends Msg['t']>(t: K): MsgOf<K>[];
}

export function fakeCoordinator(welcome: Partial<MsgOf<'welcome'>> = {}): FakeCoordinator {
  const sent: Msg[] = [];
  const frameBytes: number[] = [];
  let live: FakeWs | null = null;
  let sockets = 0;
  let jobId: JobId | undefined;
  const fake: FakeCoordinator = {
    sent,
    frameBytes,
    welcome,
    Ws: null as unknown as FakeCoordinator['Ws'],
    deliver: (...msgs) => live!.receive(encodeFrame(msgs)),
    drop: () => live!.closed(1006, 'dropped'),
    get sockets() {
      return sockets;
    },
    of: <K extends Msg['t']>(t: K) => sent.filter((m) => m.t === t) as MsgOf<K>[],
  };
  class FakeWs extends SocketFields implements WebSocketLike {
    constructor() {
      super();
      sockets++;
      live = this;
      setTimeout(() => {
        this.readyState = 1;
        this.onopen?.({});
      }, 0);
    }
    send(data: Uint8Array): void {
      if (this.readyState !== 1) return;
      const msgs = decodeFrame(data);
      frameBytes.push(data.byteLength);
      sent.push(...msgs);
      for (const m of msgs) {
        // A barrier: everything before it is handled here at once.
        if (m.t === 'sync') setTimeout(() => this.receive(encodeFrame([m])), 0);
        if (m.t !== 'hello') continue;
        jobId = m.resume?.jobId ?? jobId ?? newJobId();
        const w: MsgOf<'welcome'> = { t: 'welcome', jobId, secret: 's', inlineMax: 65536, heartbeatMs: 1000, ...fake.welcome };
        setTimeout(() => this.receive(encodeFrame([w])), 0);
      }
    }
    receive(frame: Uint8Array): void {
      if (this.readyState === 1) this.onmessage?.({ data: frame });
    }
    close(code = 1000, reason = ''): void {
      if (this.readyState !== 3) setTimeout(() => this.closed(code, reason), 0);
    }
    closed(code: number, reason: string): void {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
  }
  (fake as { Ws: FakeCoordinator['Ws'] }).Ws = FakeWs as unknown as FakeCoordinator['Ws'];
  return fake;
}
