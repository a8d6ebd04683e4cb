// Chaos on edge nodes (issue 6): a MapReduce word count over 64 chunks of
// 256 KiB loses an edge process (SIGKILL) while maps run and some reduces
// have started; the counts are exact.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { countLocally, makeChunks, submitWordCount, TEST_CHUNK_BYTES, TEST_INLINE_MAX } from '../../bench/wordcount.js';

let cl: Cluster | undefined;
afterEach(async () => {
  await cl?.stop();
  cl = undefined;
});

describe('MapReduce word count on edge nodes with an edge process killed', () => {
  it('the counts are exact after a SIGKILL while maps run and reduces have started', async () => {
    // Made before the cluster starts: the coordinator shares this process's event loop.
    const text = makeChunks(64, TEST_CHUNK_BYTES);
    const expected = countLocally(text);
    cl = await Cluster.start({ nodes: 3, cpus: 2, deadAfterMs: 2000, inlineMax: TEST_INLINE_MAX });
    const m = await cl.driver();
    const c = cl.c.coordinator;
    const chunks = text.map((t) => m.put(t));
    const reduces = submitWordCount(m, chunks);
    // Kill one edge process once some maps are done and the reduces are running.
    await cl.until(
      () =>
        c.gcs.stats.tasksFinished >= 16 && [...c.gcs.tasks.values()].some((t) => t.spec.name === 'reduce' && (t.state === 'running' || t.state === 'assigned')),
      60_000,
      () => `maps to progress: ${JSON.stringify(c.statsJson())} ${JSON.stringify(c.gcs.events.slice(-5))}`,
    );
    await cl.nodes[1].kill('SIGKILL');
    const parts = await m.get(reduces, { timeoutMs: 120_000 });
    const got = new Map<string, number>();
    for (const p of parts) for (const [w, n] of p) got.set(w, (got.get(w) ?? 0) + n);
    expect(got.size).toBe(expected.size);
    for (const [w, n] of expected) expect(got.get(w), w).toBe(n);
    expect(c.gcs.events.some((e) => e.kind === 'node-lost')).toBe(true);
    const recovered = c.gcs.stats.tasksRetried + c.gcs.stats.tasksRebuilt;
    expect(recovered).toBeGreaterThan(0);
  }, 240_000);
});
