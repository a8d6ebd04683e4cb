import { describe, expect, it } from 'vitest';
import { LinkWatch, packetCounts, type Watched } from '../../shared/transfer/link-watch.js';
import type { LinkStats } from '../../shared/transfer/link-stats.js';

/** A link as the watchdog sees it: a queue, what left it, and its pair's packet count. */
function link(o: { buffered: number; packets?: number; bytes?: number }) {
  const l = {
    buffered: o.buffered,
    drained: 0,
    packets: o.packets,
    /** Packets received (acknowledgements): moved by each test as it needs. */
    heard: o.packets,
    bytes: o.bytes,
    asked: 0,
    fail: false,
    stats(): Promise<LinkStats> {
      l.asked++;
      if (l.fail) return Promise.reject(new Error('no connection'));
      return Promise.resolve({
        channels: [],
        buffered: l.buffered,
        pair: { state: 'succeeded', bytesSent: l.bytes, bytesReceived: l.bytes, packetsSent: l.packets, packetsReceived: l.heard },
      });
    },
  };
  return l satisfies Watched;
}

/** Ticks once a second from `t0` for `s` seconds; the first tick that said frozen (its second), or -1. */
async function ticks(w: LinkWatch, l: Watched, s: number, each: (i: number) => void = () => {}): Promise<number> {
  for (let i = 0; i <= s; i++) {
    each(i);
    if (await w.tick(l, 1_000_000 + i * 1000)) return i;
  }
  return -1;
}

describe('the stats watchdog of a WebRTC link', () => {
  const both = (l: { packets?: number; heard?: number }) => {
    l.packets! += 1;
    l.heard! += 1;
  };

  it('a link holding bytes whose connection sends no packet (nor hears one) is frozen after frozenMs', async () => {
    const l = link({ buffered: 1_500_000, packets: 4200 });
    // Tick 0 sees the queue for the first time, tick 1 reads the counts, and 4 s later they have not moved.
    expect(await ticks(new LinkWatch(4000), l, 20)).toBe(5);
  });

  it('one that still sends and hears packets (a slow peer, window probes) is not frozen, however long its queue stays', async () => {
    const l = link({ buffered: 1_500_000, packets: 4200 });
    expect(await ticks(new LinkWatch(4000), l, 30, (i) => i % 3 === 0 && both(l))).toBe(-1);
  });

  it('one that sends (retransmissions every 3 s) but hears nothing is frozen: its peer gets none of them', async () => {
    const l = link({ buffered: 1_500_000, packets: 10 });
    expect(await ticks(new LinkWatch(4000), l, 20, (i) => i % 3 === 0 && (l.packets! += 1))).toBe(5);
  });

  it('one that hears its peer (its requests, heartbeats) but sends nothing is frozen (session 14: SCTP stopped sending)', async () => {
    const l = link({ buffered: 1_500_000, packets: 10 });
    expect(await ticks(new LinkWatch(4000), l, 20, () => (l.heard! += 1))).toBe(5);
  });

  it('a gap of frozenMs between packets is enough', async () => {
    const l = link({ buffered: 1_500_000, packets: 10 });
    const at = new Set([1, 2, 4, 12]);
    expect(await ticks(new LinkWatch(4000), l, 20, (i) => at.has(i) && both(l))).toBe(8);
  });

  it('asks no stats while bytes leave the queue, nor while it is empty', async () => {
    const l = link({ buffered: 1_500_000, packets: 1 });
    expect(await ticks(new LinkWatch(4000), l, 20, () => (l.drained += 65536))).toBe(-1);
    const idle = link({ buffered: 0, packets: 1 });
    expect(await ticks(new LinkWatch(4000), idle, 20)).toBe(-1);
    expect(l.asked + idle.asked).toBe(0);
  });

  it('starts again when the queue moves in between', async () => {
    const l = link({ buffered: 1_500_000, packets: 7 });
    expect(await ticks(new LinkWatch(4000), l, 20, (i) => i === 4 && (l.drained += 1))).toBe(9);
  });

  it("counts the transport's packets first (they follow the connection to another pair), then the pair's packets, then its bytes", async () => {
    const pair = { state: 'succeeded', bytesSent: 99, bytesReceived: 98, packetsSent: 5, packetsReceived: 4 };
    const transport = { dtlsState: 'connected', iceState: 'connected', bytesSent: 0, bytesReceived: 0, packetsSent: 50, packetsReceived: 40 };
    expect(packetCounts({ channels: [], buffered: 0, transport, pair })).toEqual({ sent: 50, received: 40 });
    expect(packetCounts({ channels: [], buffered: 0, pair })).toEqual({ sent: 5, received: 4 });
    expect(packetCounts({ channels: [], buffered: 0, pair: { state: 'x', bytesSent: 99, bytesReceived: 98 } })).toEqual({ sent: 99, received: 98 });
    expect(packetCounts({ channels: [], buffered: 0 })).toBeUndefined();
  });

  it('without counts, or without stats, it never closes a link', async () => {
    expect(await ticks(new LinkWatch(4000), link({ buffered: 10 }), 20)).toBe(-1);
    const broken = link({ buffered: 10, packets: 1 });
    broken.fail = true;
    expect(await ticks(new LinkWatch(4000), broken, 20)).toBe(-1);
    expect(broken.asked).toBeGreaterThan(0);
  });
});
