// Two coordinators of a mesh after Redis came back (session 37; coordinator/mesh/registry.ts): each client reconnects
// on its own backoff timer (ioredis: up to 2 s apart), so our first beats after the outage can come while the peer's
// connection is still waiting. The peer is not taken for gone for that (it was, 1.5 s after our return: its link
// closed, its tasks ran again); a peer that does not come back is still gone, REJOIN_GRACE_MS later.
// White-box: a MeshRegistry over a stand-in Redis whose clock and records the test sets; our clock follows Redis's.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { BEAT_MS, DEAD_MS, MeshRegistry, REJOIN_GRACE_MS } from '../../coordinator/mesh/registry.js';

afterEach(() => {
  vi.useRealTimers();
});

const self = { url: 'http://a', nodes: 1, cpus: 2, jobs: 0, load: 0, startedAt: 0 };

/** A registry for coordinator A over a Redis whose clock is `at` and where B last beat at `bAt` (Redis's clock). */
function world() {
  const r = { at: 1_000_000, bAt: 1_000_000 };
  const b = (rt: number) => JSON.stringify({ ...self, id: 'B', url: 'http://b', at: rt, beat: rt, rt });
  const client = {
    eval: async () => [String(r.at), ['A', '{}', 'B', b(r.bAt)]],
    hdel: async () => 0,
  } as unknown as Redis;
  const reg = new MeshRegistry(client, 'p', 'A');
  /** A beats at Redis time `at` (our clock the same); the live others' ids. */
  const beat = async (at: number) => {
    r.at = at;
    vi.setSystemTime(at);
    return (await reg.tick(self)).map((c) => c.id);
  };
  return { r, beat };
}

describe('a peer after a Redis outage', () => {
  it('whose connection comes back up to REJOIN_GRACE_MS after ours is not taken for gone; one that never does is', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { r, beat } = world();
    const t0 = r.at;
    expect(await beat(t0)).toEqual(['B']);
    r.bAt = t0 + BEAT_MS;
    expect(await beat(t0 + BEAT_MS)).toEqual(['B']);
    // Redis is down 5 s: neither beats. Ours comes back first; B's record is the one from before the outage.
    const back = t0 + BEAT_MS + 5_000;
    for (let t = back; t <= back + DEAD_MS + REJOIN_GRACE_MS - BEAT_MS; t += BEAT_MS) expect(await beat(t), `at +${t - back} ms`).toEqual(['B']);
    // B's connection came back: its beats go on.
    const bBack = back + DEAD_MS + REJOIN_GRACE_MS - BEAT_MS;
    r.bAt = bBack;
    expect(await beat(bBack + BEAT_MS)).toEqual(['B']);
    // Then B stops for good while we beat: gone after DEAD_MS, no grace (we were not silent).
    let t = bBack + BEAT_MS;
    while (t - bBack <= DEAD_MS + BEAT_MS) {
      t += BEAT_MS;
      await beat(t);
    }
    expect(await beat(t)).toEqual([]);
  });

  it('that never comes back after the outage is gone within DEAD_MS + REJOIN_GRACE_MS of our return', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { r, beat } = world();
    expect(await beat(r.at)).toEqual(['B']);
    const back = r.at + 5_000;
    let t = back;
    while (t - back <= DEAD_MS + REJOIN_GRACE_MS + BEAT_MS) {
      await beat(t);
      t += BEAT_MS;
    }
    expect(await beat(t)).toEqual([]);
  });
});
