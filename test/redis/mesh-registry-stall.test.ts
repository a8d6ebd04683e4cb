// Who is alive in a mesh of coordinators (issue 14), when the reader itself
// was silent: a coordinator whose own beats stopped for longer than DEAD_MS
// (its loop held, or Redis slow to answer it) saw nothing of that time, and
// cannot tell a peer's silence from its own. Two coordinators in one process
// under load 30-37 took each other for gone this way (test/redis/
// mesh-reconnect.test.ts: 4 of 10 runs; links ended, tasks ran again, twice a
// job hung); the peer's silence now counts only while the reader was beating.
import { describe, expect, it } from 'vitest';
import { BEAT_MS, DEAD_MS } from '../../coordinator/mesh/registry.js';
import { SELF, useRegistries } from '../helpers/registries.js';
import { sleep } from '../helpers/poll.js';

const registry = useRegistries();

const ids = (l: { id: string }[]) => l.map((o) => o.id);

describe('mesh registry: a reader that was silent itself', () => {
  it('does not take for gone a peer that beat after its own last beat; a peer that stays silent is gone DEAD_MS after the reader beats again', async () => {
    const peer = registry('stall1', 'aaaaaaaaaaaaaaaa');
    const reader = registry('stall1', 'bbbbbbbbbbbbbbbb');
    await peer.tick(SELF);
    expect(ids(await reader.tick(SELF))).toEqual(['aaaaaaaaaaaaaaaa']);
    await peer.tick(SELF); // the peer's last beat, after the reader's
    // Neither beats past DEAD_MS (one process held, or Redis): the reader's next beat finds the peer's record old.
    await sleep(DEAD_MS + 500);
    expect(ids(await reader.tick(SELF))).toEqual(['aaaaaaaaaaaaaaaa']);
    // The peer stays silent while the reader beats every BEAT_MS: gone within DEAD_MS and a beat.
    const back = Date.now();
    let live = ['aaaaaaaaaaaaaaaa'];
    while (live.length > 0 && Date.now() - back < 10 * DEAD_MS) {
      await sleep(BEAT_MS);
      live = ids(await reader.tick(SELF));
    }
    expect(live).toEqual([]);
    expect(Date.now() - back).toBeGreaterThan(DEAD_MS - 2 * BEAT_MS); // not at once: its silence counts from our return
  }, 30_000);

  it('a peer silent since before the reader stalled is still gone at the first beat after the stall', async () => {
    const peer = registry('stall2', 'cccccccccccccccc');
    const reader = registry('stall2', 'dddddddddddddddd');
    await peer.tick(SELF);
    // The peer goes silent; the reader beats on until the peer is nearly DEAD_MS old...
    const silent = Date.now();
    while (Date.now() - silent < DEAD_MS - 200) {
      await reader.tick(SELF);
      await sleep(BEAT_MS / 5);
    }
    // ...then stalls itself: what the peer was silent while the reader watched, plus a beat, is past DEAD_MS.
    await sleep(DEAD_MS + 500);
    expect(await reader.tick(SELF)).toEqual([]);
  }, 30_000);
});
