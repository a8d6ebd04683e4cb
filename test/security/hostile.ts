// Hostile peers written for the tests (issue 8): raw WebSocket clients that
// speak the protocol as a node or a driver and lie, claim or flood.
import WebSocket from 'ws';
import { decodeFrame, encodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg, type MsgOf } from '../../shared/protocol/messages.js';
import { encodeValue } from '../../shared/codec.js';
import { returnObjectId, type ObjectId } from '../../shared/ids.js';

export class RawPeer {
  readonly msgs: Msg[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  isClosed = false;
  onMsg: (m: Msg) => void = () => {};
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      let ms: Msg[] = [];
      try {
        ms = decodeFrame(new Uint8Array(d));
      } catch {
        return;
      }
      for (const m of ms) {
        this.msgs.push(m);
        if (this.msgs.length > 10_000) this.msgs.splice(0, 5_000);
        this.onMsg(m);
      }
    });
    this.closed = new Promise((r) =>
      ws.on('close', (code, reason) => {
        this.isClosed = true;
        r({ code, reason: String(reason) });
      }),
    );
    ws.on('error', () => {});
  }

  static async open(url: string): Promise<RawPeer> {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws');
    const p = new RawPeer(ws);
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    return p;
  }

  send(...ms: Msg[]): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeFrame(ms));
  }

  /** Sends raw bytes as one frame; false when the socket is no longer open. */
  raw(bytes: Uint8Array): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(bytes);
    return true;
  }

  error(): MsgOf<'error'> | undefined {
    return this.msgs.find((m): m is MsgOf<'error'> => m.t === 'error' && m.code !== 'REFUSED');
  }

  async welcome(): Promise<MsgOf<'welcome'>> {
    for (let i = 0; i < 500; i++) {
      const w = this.msgs.find((m): m is MsgOf<'welcome'> => m.t === 'welcome');
      if (w) return w;
      if (this.isClosed) throw new Error(`closed before welcome: ${JSON.stringify(this.error())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('no welcome');
  }

  close(): void {
    this.ws.terminate();
  }
}

export interface HostileNodeOptions {
  name?: string;
  cpus?: number;
  joinToken?: string;
  /** What it answers to an assigned task: by default a wrong value. */
  answer?: (spec: MsgOf<'assign'>['spec']) => unknown;
  /** Objects it claims but cannot serve: 'fail' answers xferFail, 'garbage' sends wrong bytes. */
  serve?: (id: ObjectId) => 'fail' | 'garbage';
}

/** A node that runs nothing and answers every task with a wrong value, and claims objects it does not have. */
export class HostileNode {
  nodeId = '';
  tasksAnswered = 0;
  served = 0;
  private beat: ReturnType<typeof setInterval> | null = null;
  private constructor(
    readonly peer: RawPeer,
    readonly opts: HostileNodeOptions,
  ) {}

  static async join(url: string, opts: HostileNodeOptions = {}): Promise<HostileNode> {
    const peer = await RawPeer.open(url);
    const h = new HostileNode(peer, opts);
    peer.onMsg = (m) => h.on(m);
    peer.send({
      t: 'hello',
      role: 'node',
      version: PROTOCOL_VERSION,
      token: opts.joinToken,
      node: { kind: 'edge', name: opts.name ?? 'hostile', resources: { cpu: opts.cpus ?? 4 }, storeBytes: 0 },
    });
    const w = await peer.welcome();
    h.nodeId = w.nodeId!;
    h.beat = setInterval(() => peer.send({ t: 'heartbeat', running: 0, queued: 0, storeBytes: 0 }), 200);
    void peer.closed.then(() => h.beat && clearInterval(h.beat));
    return h;
  }

  private on(m: Msg): void {
    if (m.t === 'assign') {
      const { spec } = m;
      const value = this.opts.answer ? this.opts.answer(spec) : { wrong: true, n: Math.random() };
      const results = [];
      for (let i = 0; i < spec.numReturns; i++) results.push({ v: encodeValue(value).bytes, refs: [] });
      this.tasksAnswered++;
      this.peer.send({ t: 'started', taskId: spec.taskId, attempt: spec.attempt }, { t: 'done', taskId: spec.taskId, attempt: spec.attempt, ms: 1, results });
    } else if (m.t === 'serve') {
      this.served++;
      const how = this.opts.serve?.(m.id) ?? 'fail';
      if (how === 'fail') this.peer.send({ t: 'xferFail', x: m.x, reason: 'not here after all' });
      else this.peer.send({ t: 'chunk', x: m.x, o: 0, n: 1024, d: new Uint8Array(1024).fill(7) });
    }
  }

  /** Claims to hold an object (as a reloaded tab would), with its real size and hash. */
  claim(objects: { id: ObjectId; size: number; hash: string }[]): void {
    this.peer.send({ t: 'holding', objects });
  }

  /** Reports a result for a task it was never given. */
  forge(taskId: string): void {
    this.peer.send({ t: 'done', taskId: taskId as never, attempt: 0, ms: 1, results: [{ v: encodeValue(1).bytes, refs: [] }] });
  }

  close(): void {
    if (this.beat) clearInterval(this.beat);
    this.peer.close();
  }
}

export { returnObjectId };
