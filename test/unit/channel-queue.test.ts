// A data channel link's send queue stays within what Chromium's SCTP (dcsctp)
// takes queued per association (issue 17, session 15): past it, the data
// channel queues on its own and waits for the transport's "ready to send",
// and links that went there froze (test/p2p/memory.test.ts).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PeerLink, type LinkEnv } from '../../shared/transfer/link.js';
import { SCTP_SEND_BUFFER, simplePeerFactory, unhandled, type RawPeer } from '../../shared/transfer/raw-peer.js';
import { ServingBudget } from '../../shared/transfer/serving.js';
import { FanOut } from '../../shared/transfer/fan-out.js';
import { contentHash } from '../../shared/hash.js';
import { wsPeerFactory } from '../../client-web/node/ws-link.js';
import type { ObjectId } from '../../shared/ids.js';

const OBJ = '5a'.repeat(20) as ObjectId;

/**
 * simple-peer as the factory uses it, over a queue the test drains by hand:
 * Chromium's largest message (256 KiB), 'bufferedamountlow' when the queue
 * falls below its threshold, and no lane (its messages go on the main channel).
 */
class FakeSimplePeer {
  static last: FakeSimplePeer;
  queue: Uint8Array[] = [];
  peak = 0;
  handlers = new Map<string, (...a: unknown[]) => void>();
  _channel = { bufferedAmountLowThreshold: 0 };
  _pc = {
    sctp: { maxMessageSize: 256 * 1024 },
    createDataChannel: () => {
      throw new Error('no lane here');
    },
    getStats: () => Promise.resolve(new Map()),
  };
  _onChannelBufferedAmountLow?: () => void;
  constructor() {
    FakeSimplePeer.last = this;
  }
  get bufferSize(): number {
    return this.queue.reduce((n, b) => n + b.byteLength, 0);
  }
  signal(): void {}
  send(b: Uint8Array): void {
    this.queue.push(b.slice());
    this.peak = Math.max(this.peak, this.bufferSize);
  }
  destroy(): void {}
  on(ev: string, fn: (...a: unknown[]) => void): void {
    this.handlers.set(ev, fn);
  }
  /** Hands up to `n` messages to `to`, then fires the drain event where the queue fell below its threshold. */
  deliver(to: RawPeer, n: number): void {
    const was = this.bufferSize;
    for (let i = 0; i < n && this.queue.length; i++) to.onData(this.queue.shift()!);
    const low = this._channel.bufferedAmountLowThreshold;
    if (was > low && this.bufferSize <= low) this._onChannelBufferedAmountLow?.();
  }
}

/** The reader's end: what it sends goes straight to the holder. */
function readerEnd(holder: () => RawPeer): RawPeer {
  return { ...unhandled(), signal() {}, send: (b) => holder().onData(b.slice()), bufferedAmount: 0, destroy() {} };
}

function env(held: Map<ObjectId, Uint8Array>): LinkEnv {
  return {
    lookup: (id) => Promise.resolve(held.get(id)),
    partial: () => undefined,
    have: () => {},
    serving: new ServingBudget(256 << 20),
    fan: new FanOut(),
    upload: null,
    faults: {},
    counters: { bytesIn: 0, bytesOut: 0, laneMessages: 0, sendWakes: { drain: 0, timer: 0 } },
    closed: () => {},
    log: () => {},
  };
}

const turn = () => new Promise((r) => setImmediate(r));

const channels = () => simplePeerFactory(FakeSimplePeer as never, {}, { drainEvents: true, sendCopies: true, largeMessages: true });

describe("a data channel link's send queue", () => {
  afterEach(() => vi.unstubAllGlobals());

  // A tab's links come through wsPeerFactory, which dials Node peers over a WebSocket and wraps the data channel otherwise.
  it.each([
    ['a data channel', () => channels()],
    [
      "a tab's data channel (wrapped by its WebSocket dialler)",
      () => {
        vi.stubGlobal('location', { protocol: 'http:', search: '' });
        vi.stubGlobal('WebSocket', class {});
        const inner = channels();
        const f = wsPeerFactory(inner);
        if (f === undefined || f === inner) throw new Error('no WebSocket dialler');
        return f;
      },
    ],
  ])("%s never holds more than SCTP's send buffer, while the holder keeps it busy with several transfers' largest chunks", async (_, factory) => {
    const holderRaw = factory()(true);
    const fake = FakeSimplePeer.last;
    const readerRaw = readerEnd(() => holderRaw);
    const objects = [0, 1, 2].map((k) => ({ id: (OBJ.slice(0, 38) + `0${k}`) as ObjectId, bytes: new Uint8Array(3 << 20).fill(k + 1) }));
    const holder = new PeerLink('reader', 'g', true, holderRaw, env(new Map(objects.map((o) => [o.id, o.bytes]))));
    const reader = new PeerLink('holder', 'g', false, readerRaw, env(new Map()));
    fake.handlers.get('connect')!();
    readerRaw.onConnect();
    expect(holder.state).toBe('open');

    const done = objects.map((o) => reader.fetch(o.id, o.bytes.byteLength, { hash: contentHash(o.bytes) }));
    // The reader drains slowly: a few messages a turn, so the holder's queue sits at its high-water mark.
    for (let i = 0; i < 2000 && (fake.queue.length > 0 || i < 5); i++) {
      await turn();
      fake.deliver(readerRaw, 3);
    }
    const got = await Promise.all(done);
    got.forEach((b, k) => expect(b.every((x) => x === k + 1)).toBe(true));
    // The queue was kept full (well past 1 MiB), and never past what SCTP takes.
    expect(fake.peak).toBeGreaterThan(1 << 20);
    expect(fake.peak).toBeLessThanOrEqual(SCTP_SEND_BUFFER);
    holder.close('done');
    reader.close('done');
  });
});
