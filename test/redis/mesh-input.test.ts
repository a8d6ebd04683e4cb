// What arrives over the mesh's Redis channel is input from outside (issue 15):
// a coordinator reading garbage there — short messages, unknown kinds, frames
// that do not decode, a hello that is not a node's — drops it, closes only
// the offending link, and goes on serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { encodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION } from '../../shared/protocol/messages.js';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { until } from '../helpers/poll.js';

let redis: RedisServer;
let coord: RunningCoordinator;
let pub: Redis;
const PREFIX = 'input';
beforeAll(async () => {
  redis = await startRedis();
  coord = await startCoordinator({ redis: { url: redis.url, prefix: PREFIX }, port: 0, token: 't', httpLimits: false });
  pub = new Redis(redis.url);
}, 60_000);
afterAll(async () => {
  pub?.disconnect();
  await coord?.close();
  await redis?.destroy();
});

const FAKE = 'abcdefabcdefabcd';
/**
 * A bus message: kind, sender, the sequence head (coordinator/mesh/delivery.ts: epoch, seq, ackEpoch, ack as u32), then
 * for a link's and an agent's frames (L, A) the sender's agent (8 hex characters), then the frame.
 */
function message(kind: string, from: string, frame: Uint8Array, seq: number, agent = kind === 'L' || kind === 'A' ? '00000001' : ''): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(seq === 0 ? 0 : 1, 0);
  head.writeUInt32BE(seq, 4);
  return Buffer.concat([Buffer.from(kind + from, 'latin1'), head, Buffer.from(agent, 'latin1'), frame]);
}
/** The seq of a message the coordinator sent (its resends of what we never ack are the same message). */
const seqOf = (m: Buffer): number => m.readUInt32BE(1 + 16 + 4);

describe('the mesh channel', () => {
  it('drops garbage and closes a link that sends a bad frame; the coordinator goes on', async () => {
    const c = coord.coordinator;
    const channel = `${PREFIX}:mesh:${c.meshId}`;
    const before = c.sessions.size;
    // What the coordinator answers a link from FAKE comes to FAKE's channel.
    const sub = new Redis(redis.url);
    const answers: Buffer[] = [];
    sub.on('messageBuffer', (_ch: Buffer, m: Buffer) => answers.push(m));
    await sub.subscribe(`${PREFIX}:mesh:${FAKE}`);
    await pub.publish(channel, Buffer.from('x')); // too short
    await pub.publish(channel, message('Z', FAKE, new Uint8Array([1, 2, 3]), 1)); // unknown kind
    await pub.publish(channel, message('L', 'not-hex-at-all!!', new Uint8Array([1]), 1)); // bad sender id
    await pub.publish(channel, message('A', FAKE, new Uint8Array([0xc1]), 1)); // to an agent that does not exist
    await pub.publish(channel, message('L', FAKE, encodeFrame([{ t: 'heartbeat', running: 0, queued: 0, storeBytes: 0 }]), 2, 'zz')); // no agent number
    await pub.publish(channel, message('L', FAKE, encodeFrame([{ t: 'heartbeat', running: 0, queued: 0, storeBytes: 0 }]), 0)); // no sequence number
    await pub.publish(channel, message('L', FAKE, new Uint8Array([0xc1, 0xff]), 5)); // past a gap: dropped, asked for again
    await pub.publish(channel, message('L', FAKE, new Uint8Array([0xc1, 0xff]), 2)); // a link frame that does not decode
    await pub.publish(channel, message('L', FAKE, new Uint8Array([0xc1, 0xff]), 2)); // the same again: a duplicate, dropped
    // Frames to FAKE's agent (A), one each (the coordinator sends again what FAKE never acks), and the link's end (e).
    const toAgent = () => [...new Map(answers.filter((a) => a[0] === 0x41).map((a) => [seqOf(a), a])).values()];
    await until(() => toAgent().length > 0, { timeoutMs: 10_000, what: 'an answer to the bad frame' });
    // The answer is an error frame to the link, which is closed; the agent hears that its link ended.
    expect(toAgent()[0].toString('latin1')).toContain('BAD_FRAME');
    await until(() => answers.some((a) => a[0] === 0x65), { timeoutMs: 10_000, what: "the link's end" });
    // A link whose hello has the wrong protocol version is refused as any session would be.
    await pub.publish(channel, message('L', FAKE, encodeFrame([{ t: 'hello', role: 'node', version: PROTOCOL_VERSION + 1 }]), 3));
    await until(() => toAgent().length > 1, { timeoutMs: 10_000, what: 'an answer to the bad hello' });
    expect(toAgent()[1].toString('latin1')).toContain('BAD_MESSAGE');
    // The gap was asked for (N: nack of what FAKE sent up to 1), and what arrived in order acked up to 3 (each
    // message to FAKE carries it).
    const ackOf = (a: Buffer) => a.readUInt32BE(1 + 16 + 12);
    expect(answers.some((a) => a[0] === 0x4e && ackOf(a) === 1)).toBe(true);
    expect(answers.some((a) => ackOf(a) === 3)).toBe(true);
    expect(c.statsJson()).toMatchObject({ meshGaps: 1, meshDuplicates: 1 });
    expect(c.sessions.size).toBe(before);
    expect(c.statsJson().meshLinks).toBe(0);
    sub.disconnect();
    // Still serving.
    const r = await fetch(`${coord.url}/api/coordinators`, { headers: { authorization: 'Bearer t' } });
    expect(r.status).toBe(200);
    const rows = (await r.json()) as { self: boolean; url: string }[];
    expect(rows).toEqual([expect.objectContaining({ self: true, url: coord.url })]);
  });

  it('/api/coordinators is 404 NOT_FOUND on a coordinator without Redis', async () => {
    const lone = await startCoordinator({ memory: true, port: 0, token: 't', httpLimits: false });
    try {
      const r = await fetch(`${lone.url}/api/coordinators`, { headers: { authorization: 'Bearer t' } });
      expect(r.status).toBe(404);
      expect(((await r.json()) as { error: string }).error).toBe('NOT_FOUND');
    } finally {
      await lone.close();
    }
  });
});
