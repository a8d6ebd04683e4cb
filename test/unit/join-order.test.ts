// Entries in join order (coordinator/scheduler/join-order.ts): once half its
// slots are holes the order closes them in place (issue 14, session 24: new
// arrays there were what a draining batch's task table kept through
// scavenges), and pages, round robin and samples see the same entries after.
import { describe, expect, it } from 'vitest';
import { JoinOrder } from '../../coordinator/scheduler/join-order.js';

interface Item {
  seq: number;
  slot: number;
  name: string;
}

const items = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ seq: (i + 1) * 10, slot: -1, name: `i${i + 1}` }));

describe('JoinOrder compaction', () => {
  it('closes the holes in its own arrays; every page, turn and sample after it sees the live entries in order', () => {
    const jo = new JoinOrder<Item>();
    const all = items(300);
    for (const e of all) jo.add(e);
    const inside = jo as unknown as { order: unknown[]; seqs: number[] };
    const order = inside.order;
    const seqs = inside.seqs;
    // Two in three leave: past half of the slots holes, it compacts (at least once).
    for (const e of all) if (e.seq % 30 !== 0) jo.remove(e);
    const live = all.filter((e) => e.seq % 30 === 0);
    expect(jo.length).toBe(live.length);
    expect(inside.order).toBe(order);
    expect(inside.seqs).toBe(seqs);
    expect(order.length).toBeLessThan(all.length);
    expect(jo.list()).toEqual(live);
    // Each live entry's slot is where it stands now: a removal by slot takes the right one.
    for (const e of jo.list()) expect(order[e.slot]).toBe(e);
    // Pages from a seq find their place by binary search over the seqs kept beside.
    expect(jo.after(0, 3, () => true).page.map((e) => e.name)).toEqual(['i3', 'i6', 'i9']);
    expect(jo.after(455, 2, () => true).page.map((e) => e.name)).toEqual(['i48', 'i51']);
    expect(jo.after(2990, 5, () => true).page.map((e) => e.name)).toEqual(['i300']);
    expect(jo.after(3000, 5, () => true)).toEqual({ page: [], next: null });
    // Round robin and samples draw live entries only.
    const turns = new Set<string>();
    for (let i = 0; i < live.length; i++) turns.add(jo.nextInTurn(10, () => true)!.name);
    expect(turns.size).toBe(live.length);
    let r = 0;
    const sample = jo.sample(20, () => (r = (r + 0.137) % 1));
    for (const e of sample) expect(live).toContain(e);
    // Entries added after a compaction go at the end, in order.
    const more = { seq: 5000, slot: -1, name: 'late' };
    jo.add(more);
    jo.remove(live[0]);
    expect(jo.list().at(-1)).toBe(more);
    expect(jo.after(4000, 5, () => true).page).toEqual([more]);
  });
});
