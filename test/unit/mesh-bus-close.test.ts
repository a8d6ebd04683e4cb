// A closed mesh bus hands nothing on (CI of session 20: a coordinator closed, its GCS storage with it, then a message
// its Redis connection had already read arrived after disconnect() and reached the links: an uncaught CLOSED).
// The fake broker below delivers a late message the way ioredis emits what it parsed before the disconnect.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { MeshBus } from '../../coordinator/mesh/bus.js';

class FakeRedis extends EventEmitter {
  constructor(readonly subs: Map<string, FakeRedis[]>) {
    super();
  }
  duplicate(): FakeRedis {
    return new FakeRedis(this.subs);
  }
  subscribe(channel: string): Promise<number> {
    this.subs.set(channel, [...(this.subs.get(channel) ?? []), this]);
    return Promise.resolve(1);
  }
  publish(channel: string, m: Buffer): Promise<number> {
    const to = this.subs.get(channel) ?? [];
    for (const s of to) setImmediate(() => s.emit('messageBuffer', Buffer.from(channel), m));
    return Promise.resolve(to.length);
  }
  /** What the socket had already read still comes, as with ioredis. */
  disconnect(): void {}
}

const pair = async () => {
  const subs = new Map<string, FakeRedis[]>();
  const client = new FakeRedis(subs) as unknown as Redis;
  const a = new MeshBus(client, 't', 'aaaaaaaaaaaaaaaa');
  const b = new MeshBus(client, 't', 'bbbbbbbbbbbbbbbb');
  await a.start();
  await b.start();
  const got: string[] = [];
  a.onFrame = (from, kind) => got.push(`${from}:${kind}`);
  return { a, b, got };
};

describe('a closed mesh bus', () => {
  it('hands on frames while open, and none that arrive after close()', async () => {
    const { a, b, got } = await pair();
    b.send('aaaaaaaaaaaaaaaa', 'signal', new Uint8Array([1]));
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['bbbbbbbbbbbbbbbb:signal']);
    b.send('aaaaaaaaaaaaaaaa', 'signal', new Uint8Array([2]));
    a.close(); // the message is on its way: it arrives after the close
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['bbbbbbbbbbbbbbbb:signal']);
    b.close();
  });
});
