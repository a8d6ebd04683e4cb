// One reader and one holder over a stream link that is already open (a task
// path's second and later reads between two nodes: the link pool keeps it),
// on the simulated network (issue 17, session 21): the swarm's lone read
// against one whole-object request over the same open link.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { leafHashes, setAsyncLeafHasher, setChunkChecker } from '../../shared/hash.js';
import { CALM, SimNet } from './net.js';
import { CHUNK, SwarmSim } from './swarm-run.js';

afterEach(() => {
  vi.useRealTimers();
});

/** Simulated ms of one read of a 16 MiB object over a stream link opened before it (`swarm`: by the swarm, else one request). */
async function openRead(swarm: boolean): Promise<number> {
  // Checked and hashed by this thread: a hash pool or WebCrypto answers in real time while the clock jumps (under load
  // the origin's leaves took so long in real time that the reader's clock ran through its stall timers: CI, session 22).
  const pool = setChunkChecker(null);
  const leaves = setAsyncLeafHasher((b) => Promise.resolve(leafHashes(b)));
  vi.useFakeTimers({ now: 0 });
  try {
    const truth = new Uint8Array(256 * CHUNK - 1000);
    for (let j = 0; j < truth.byteLength; j += 61) truth[j] = (5 + j) & 255;
    // 1 MiB link chunks (a fast link's), 10 ms hops, 1 GB/s.
    const net = new SimNet(5, { ...CALM, latencyMs: [10, 10], bytesPerMs: 1_000_000, chunkBytes: 16 * CHUNK });
    const sim = new SwarmSim(net, truth, { swarmMinBytes: swarm ? 1 : Infinity });
    sim.add('origin', { bytes: truth, liar: false });
    const reader = sim.add('reader', null);
    let up = false;
    void reader.links.linkTo('origin').then(() => (up = true));
    for (let i = 0; i < 1000 && !up; i++) await vi.advanceTimersToNextTimerAsync();
    expect(up).toBe(true);
    const read = sim.read(reader, 0);
    await sim.drive();
    await sim.finish();
    return read.end - read.at;
  } finally {
    vi.useRealTimers();
    setChunkChecker(pool);
    setAsyncLeafHasher(leaves);
  }
}

describe('a lone read over an open stream link', () => {
  it('ends with the bytes by the swarm and by one whole-object request; their simulated times are printed', async () => {
    // Both reads end with the object's bytes (sim.finish). Their simulated times are printed, not bounded: real async
    // work the fake clock does not wait for adds simulated time on a loaded machine (CI: 591 ms against 115 quiet),
    // so a bound here measured the machine. test/unit/transfer asserts the cause, the first run's whole 4 MiB block.
    const swarm = await openRead(true);
    const alone = await openRead(false);
    console.log(`swarm sim, one reader over an open stream link: swarm ${swarm} ms, one request ${alone} ms (quiet: 115 and 116)`);
    expect(Math.min(swarm, alone)).toBeGreaterThan(0);
  });
});
