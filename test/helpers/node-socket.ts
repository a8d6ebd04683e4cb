// A real NodeRuntime on a hand-made coordinator socket, with executors in the test's thread (in-thread.ts): a
// white-box test of the node box sends it coordinator messages and reads what it sends back, decoded and checked.
import { NodeRuntime } from '../../shared/node/runtime.js';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import type { Msg, MsgOf } from '../../shared/protocol/messages.js';
import { SocketFields, type WebSocketLike } from '../../shared/api/socket.js';
import { newNodeId } from '../../shared/ids.js';
import { inThread } from './in-thread.js';
import type { SpawnExecutor } from '../../shared/node/executors.js';

export class FakeCoordinatorSocket extends SocketFields implements WebSocketLike {
  static last: FakeCoordinatorSocket | null = null;
  /** Every message the node sent, in order (each frame decoded and checked as the coordinator would). */
  readonly sent: Msg[] = [];
  /** The frames they came in: messages per frame, and each frame's bytes. */
  readonly frames: Msg[][] = [];
  readonly frameBytes: number[] = [];

  constructor(_url: string) {
    super();
    FakeCoordinatorSocket.last = this;
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }

  send(data: Uint8Array): void {
    if (data.byteLength === 0) return; // keepalive
    const msgs = decodeFrame(data);
    this.frames.push(msgs);
    this.frameBytes.push(data.byteLength);
    this.sent.push(...msgs);
  }

  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The coordinator sends `msgs` in one frame. */
  deliver(...msgs: Msg[]): void {
    this.onmessage?.({ data: encodeFrame(msgs) });
  }

  of<K extends Msg['t']>(t: K): MsgOf<K>[] {
    return this.sent.filter((m): m is MsgOf<K> => m.t === t);
  }
}

/** A joined node with `cpus` in-thread executors and its coordinator socket. */
export async function nodeOnFakeSocket(
  cpus = 2,
  inlineMax = 64 * 1024,
  spawn: SpawnExecutor = inThread,
): Promise<{ node: NodeRuntime; ws: FakeCoordinatorSocket }> {
  const node = new NodeRuntime(
    { url: 'http://coordinator.test', kind: 'edge', name: 'unit node', cpus, storeBytes: 64 << 20 },
    { WebSocket: FakeCoordinatorSocket, spawnExecutor: spawn, every: () => () => {} },
  );
  await new Promise<void>((r) => queueMicrotask(r));
  const ws = FakeCoordinatorSocket.last!;
  ws.deliver({ t: 'welcome', nodeId: newNodeId(), inlineMax, heartbeatMs: 60_000 });
  await node.ready;
  return { node, ws };
}
