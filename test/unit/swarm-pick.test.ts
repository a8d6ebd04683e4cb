// Which runs a swarm reader asks for (issue 17, shared/transfer/swarm-pick.ts):
// with one full holder over a stream link and no other reader, random picks
// must not cut the object into short runs (each a request and a round trip);
// a full holder is asked nothing while a reader told has not answered.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ASKED, MISSING, pick, type PickView } from '../../shared/transfer/swarm-pick.js';
import { newSource, type Source, type SwarmContext } from '../../shared/transfer/swarm-source.js';

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
