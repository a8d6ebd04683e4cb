// Which runs a swarm reader asks for (issue 17, shared/transfer/swarm-pick.ts):
// with one full holder over a stream link and no other reader, random picks
// must not cut the object into short runs (each a request and a round trip);
// a full holder is asked nothing while a reader told has not answered.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ASKED, MISSING, pick, type PickView } from '../../shared/transfer/swarm-pick.js';
import { newSource, type Source, type SwarmContext } from '../../shared/transfer/swarm-source.js';
import { NODE_LIMIT_BYTES_PER_MS, answered, atLimit, busyFrom, nodeFirst } from '../../shared/transfer/swarm-policy.js';

function source(run: number): Source {
  return newSource('holder', true, 0, run, 8);
}

function view(chunks: number, s: Source, seed: number, order: 'rarest' | 'random'): PickView {
  let x = seed;
  const rand = () => (x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return {
    chunks,
    state: new Uint8Array(chunks).fill(MISSING),
    holders: new Uint16Array(chunks).fill(1),
    sources: new Map([[s.peer, s]]),
    spot: Math.floor(rand() * chunks),
    swarm: { rand, order } as unknown as SwarmContext,
    nodeFirst: false,
    fill: false,
  };
}

describe('swarm picks', () => {
  for (const order of ['rarest', 'random'] as const)
    it(`one full holder over a stream link (${order}): the object goes in whole blocks of 4 link chunks, one request each`, () => {
      for (const seed of [1, 2, 3]) {
        const s = source(16);
        const v = view(1280 + 5, s, seed, order); // 80 MiB and 5 leaves
        const runs: [number, number][] = [];
        for (let r = pick(v, s); r; r = pick(v, s)) {
          runs.push(r);
          v.state.fill(ASKED, r[0], r[1]);
        }
        expect(v.state.every((c) => c === ASKED)).toBe(true);
        expect(runs.length).toBe(21);
        for (const [a, b] of runs) expect(a % 64 === 0 && (b - a === 64 || b === 1285)).toBe(true);
      }
    });
});

describe('waiting for the readers told', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a full holder is asked nothing while the link to a told reader that is there opens (however long), 2.5 s for a silent one, then not until 1 s after the map went out or it answers', () => {
    vi.useFakeTimers({ now: 100_000 });
    const full = source(4);
    const v = view(64, full, 1, 'rarest');
    // When a signal last came from each peer (PeerLinks.signalledAt).
    const signals = new Map<string, number>();
    (v.swarm as unknown as { links: unknown }).links = { signalledAt: (p: string) => signals.get(p) ?? 0 };
    const reader = newSource('reader', false, 64, 4, 4);
    v.sources.set(reader.peer, reader);
    reader.told = true;
    reader.tellAt = Date.now();
    // No signal from it since: waited for 2.5 s, not the link's connect timeout (5 s).
    vi.advanceTimersByTime(2_400);
    expect(pick(v, full)).toBeNull();
    vi.advanceTimersByTime(100);
    expect(pick(v, full)).not.toBeNull();
    // It answered the dial (or dialled): its link still opening, 4 s after the tell (the old wait ended 250 ms from the start).
    signals.set('reader', Date.now());
    vi.advanceTimersByTime(1_500);
    expect(pick(v, full)).toBeNull();
    // A signal from before the tell shows nothing about this dial.
    reader.tellAt = Date.now();
    vi.advanceTimersByTime(2_500);
    expect(pick(v, full)).not.toBeNull();
    signals.set('reader', Date.now());
    // The map went out: still nothing for a second, unless it answers.
    reader.toldAt = Date.now();
    vi.advanceTimersByTime(900);
    expect(pick(v, full)).toBeNull();
    reader.heard = true;
    expect(pick(v, full)).not.toBeNull();
    // A reader that never answers holds the full holder back for 1 s after its map went out.
    reader.heard = false;
    vi.advanceTimersByTime(100);
    expect(pick(v, full)).not.toBeNull();
    // A dropped reader (its link failed) holds nothing back.
    reader.toldAt = 0;
    expect(pick(v, full)).toBeNull();
    reader.dropped = true;
    expect(pick(v, full)).not.toBeNull();
  });
});

describe('a Node source first (swarm-policy.ts)', () => {
  it('while kept to, a Node full holder is asked for chunks another reader claimed, with no wait for the readers; a tab reader is asked nothing', () => {
    const full = source(4);
    full.node = true;
    const reader = newSource('tab', false, 16, 4, 4);
    reader.has!.fill(1);
    reader.claims.set(0, Date.now());
    reader.told = true;
    reader.tellAt = Date.now(); // unheard: the swarm would wait for it
    const v = { ...view(16, full, 1, 'random'), spot: 0 };
    v.sources.set(reader.peer, reader);
    v.holders.fill(0);
    // The swarm: the origin waits for the told reader, then gets only what no reader holds or claimed (nothing here).
    (v.swarm as unknown as { links: unknown }).links = { signalledAt: () => 0 };
    expect(pick(v, full)).toBeNull();
    expect(pick(v, reader)).not.toBeNull();
    const kept = { ...v, nodeFirst: true };
    expect(pick(kept, full)).toEqual([0, 4]);
    expect(pick(kept, reader)).toBeNull();
    // A reader that is a Node source (an edge node over TCP) is still asked for what it holds.
    reader.node = true;
    expect(pick(kept, reader)).not.toBeNull();
  });

  it('a Node full holder is the limit once it gives less than a tab link would add, judged after 2 MiB or 500 ms in flight', () => {
    const s = source(16);
    s.node = true;
    let now = 1_000;
    const step = (bytes: number, ms: number) => {
      busyFrom(s, now);
      s.inflight++;
      now += ms;
      s.inflight--;
      answered(s, bytes, now);
    };
    step(1 << 20, 380); // 1 MiB in 380 ms: below the rate, but not judged yet
    expect(atLimit(s, now)).toBe(false);
    expect(nodeFirst([s], now)).toBe(true);
    step(1 << 20, 10); // 2 MiB in 390 ms: 5.4 KB/ms, above a WebRTC link's 5 MiB/s
    expect(2 * (1 << 20)).toBeGreaterThanOrEqual(NODE_LIMIT_BYTES_PER_MS * 390);
    expect(atLimit(s, now)).toBe(false);
    step(1 << 20, 600); // 3 MiB in 990 ms: 3.2 KB/ms, below
    expect(atLimit(s, now)).toBe(true);
    expect(nodeFirst([s], now)).toBe(false);
    // Time between spells (nothing asked) does not count against it; a request in flight does.
    const t = source(16);
    t.node = true;
    busyFrom(t, 0);
    t.inflight++;
    expect(atLimit(t, 499)).toBe(false);
    expect(atLimit(t, 600)).toBe(true);
    // A tab full holder (not a Node source), or a dropped one, keeps no reader off the swarm.
    const tab = source(16);
    expect(nodeFirst([tab], now)).toBe(false);
    const gone = source(16);
    gone.node = true;
    gone.dropped = true;
    expect(nodeFirst([gone], now)).toBe(false);
  });
});
