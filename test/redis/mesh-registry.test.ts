// Who is alive in a mesh of coordinators (issue 14): a record's age is judged
// by Redis's clock when it is read, not by when the reader's loop gets to the
// answer. Under load a reader's loop stalled with the answer waiting, took a
// live peer for gone, and dropped its link and the guest tasks it ran for it.
import { describe, expect, it } from 'vitest';
import { BEAT_MS, DEAD_MS } from '../../coordinator/mesh/registry.js';
import { SELF, useRegistries } from '../helpers/registries.js';
import { sleep } from '../helpers/poll.js';

const registry = useRegistries();

/** Holds this thread for `ms` (a stalled event loop). */
function stall(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe('mesh registry', () => {
  it("a reader whose loop stalls while its read's answer waits does not take a peer that beat just before the read for gone", async () => {
    const writer = registry('reg1', 'aaaaaaaaaaaaaaaa');
    const reader = registry('reg1', 'bbbbbbbbbbbbbbbb');
    await writer.tick(SELF);
    await sleep(100);
    expect((await reader.tick(SELF)).map((o) => o.id)).toEqual(['aaaaaaaaaaaaaaaa']);
    await sleep(100);
    // The next read goes out 200 ms after the peer's beat (none since our last read); its answer waits while our loop
    // is held past DEAD_MS.
    const read = reader.tick(SELF);
    stall(DEAD_MS + 500);
    expect((await read).map((o) => o.id)).toEqual(['aaaaaaaaaaaaaaaa']);
  }, 30_000);

  it('a peer that stops beating is gone after DEAD_MS by the clock of Redis', async () => {
    const writer = registry('reg2', 'cccccccccccccccc');
    const reader = registry('reg2', 'dddddddddddddddd');
    await writer.tick(SELF);
    expect((await reader.tick(SELF)).map((o) => o.id)).toEqual(['cccccccccccccccc']);
    // The reader beats on meanwhile, as a coordinator does (a reader silent itself excuses the peer that long:
    // test/redis/mesh-registry-stall.test.ts).
    const silent = Date.now();
    while (Date.now() - silent < DEAD_MS + 300) {
      await sleep(BEAT_MS);
      await reader.tick(SELF);
    }
    expect(await reader.tick(SELF)).toEqual([]);
  }, 30_000);
});
