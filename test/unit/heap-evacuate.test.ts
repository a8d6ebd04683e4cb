// The coordinator's last GC after a burst moves the objects of the old generation's fragmented pages (issue 14,
// session 25): what V8 keeps of a burst is pages it emptied in part, which a GC that must be short leaves
// committed. V8's own collection, in this process.
import { describe, expect, it } from 'vitest';
import { getHeapSpaceStatistics } from 'node:v8';
import { fullGc } from '../../cli/gc.js';

const MB = 1 << 20;

/** Old-space pages committed (bytes). */
function oldPages(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_size;
}

describe('fullGc', () => {
  it('with "fragmented", gives back old-space pages a burst left half full, which a plain full GC keeps', () => {
    const gc = fullGc();
    // ~11 MB of small records, promoted to the old generation, then every other one dropped: pages half empty.
    let records: ({ a: number; b: number; c: object | null; d: object | null } | null)[] = [];
    for (let i = 0; i < 200_000; i++) records.push({ a: i, b: i + 1, c: null, d: null });
    gc(false);
    gc(false);
    for (let i = 0; i < records.length; i += 2) records[i] = null;
    // Plain GCs until they give nothing more back (V8 evacuates only pages mostly empty when a GC must be short).
    let plain = oldPages();
    for (let i = 0; i < 5; i++) {
      gc(false);
      const now = oldPages();
      if (now > plain - MB / 4) break;
      plain = now;
    }
    plain = oldPages();
    gc('fragmented');
    const after = oldPages();
    expect(after).toBeLessThan(plain - 2 * MB);
    // The survivors moved, none lost.
    let alive = 0;
    for (let i = 1; i < records.length; i += 2) if (records[i]!.a === i) alive++;
    expect(alive).toBe(100_000);
    records = [];
  });
});
