// What a hard pin to another coordinator's link waits for (coordinator/mesh/link-pins.ts, issue 14, session 23): how
// long each live peer's link has been down, why, when a beat crosses the warning or the bound, and the coordinators
// that left (kept for a pin's error, the last 64 only). A fake clock; the GCS hooks through a real Gcs.
import { describe, expect, it } from 'vitest';
import { LinkPins, PIN_WAIT_MS, pinWaitFromEnv } from '../../coordinator/mesh/link-pins.js';
import { Gcs } from '../../coordinator/gcs/gcs.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';

function pins(boundMs: number, lives: Set<string>, urls = new Map<string, string>()) {
  let now = 1_000_000;
  const p = new LinkPins(boundMs, { lives: (id) => lives.has(id), withUrl: (url) => [...urls].find(([, u]) => u === url)?.[0] }, () => now);
  return { p, at: (ms: number) => (now += ms) };
}

describe('LinkPins', () => {
  it('counts how long a live peer has been unlinked; a beat crossing the warning or the bound says so, once each', () => {
    const live = new Set(['b']);
    const { p, at } = pins(6000, live);
    const linked = new Set<string>();
    expect(p.warnMs).toBe(3000);
    expect(p.beat(live, (id) => linked.has(id))).toBe(false);
    expect(p.away('b')).toMatchObject({ ms: 0, warnMs: 3000, boundMs: 6000, why: 'its link has not come back' });
    const crossed: boolean[] = [];
    for (let i = 0; i < 14; i++) {
      at(500);
      crossed.push(p.beat(live, (id) => linked.has(id)));
    }
    // 0.5 s a beat: the warning at 3 s (the 6th beat), the bound at 6 s (the 12th), nothing in between or after.
    expect(crossed.map((c, i) => (c ? i + 1 : 0)).filter(Boolean)).toEqual([6, 12]);
    expect(p.pastBound('b')).toBe(true);
    // The link back: nothing away, nothing past the bound.
    linked.add('b');
    p.beat(live, (id) => linked.has(id));
    expect([p.away('b'), p.pastBound('b')]).toEqual([undefined, false]);
  });

  it('counts from the last time its link joined, also when no beat saw the link up', () => {
    const live = new Set(['b']);
    const { p, at } = pins(6000, live);
    p.beat(live, () => false); // b lives, its link is not up yet
    at(10_000);
    // Its link joins, a task is placed on it, and the link goes down, all between two beats.
    p.up('b');
    at(200);
    p.beat(live, () => false);
    expect(p.pastBound('b')).toBe(false);
    expect(p.away('b')?.ms).toBe(0);
    at(6000);
    expect(p.pastBound('b')).toBe(true);
  });

  it('names the error its link was refused with, and forgets a peer that is no longer live', () => {
    const live = new Set(['b']);
    const { p, at } = pins(30_000, live);
    p.beat(live, () => false);
    p.closedWith('b', 'COORDINATOR_FULL next=http://c:1');
    expect(p.away('b')?.why).toMatch(/^its link was refused here: COORDINATOR_FULL \(/);
    p.closedWith('b', 'UNAUTHORIZED');
    expect(p.away('b')?.why).toContain('UNAUTHORIZED (a missing or wrong token: run the coordinators with the same join token)');
    p.closedWith('b', 'not a code'); // a close reason that names no error: the last one stays
    expect(p.away('b')?.why).toContain('UNAUTHORIZED');
    at(40_000);
    expect(p.pastBound('b')).toBe(true);
    live.delete('b');
    p.beat(live, () => false);
    expect([p.away('b'), p.pastBound('b')]).toEqual([undefined, false]);
    // Live again, unlinked: counted from now, the old refusal forgotten.
    live.add('b');
    p.beat(live, () => false);
    expect(p.away('b')).toMatchObject({ ms: 0, why: 'its link has not come back' });
  });

  it("sets the GCS's hooks: a pin waits while the peer lives and its link is not down past the bound; one that left says so", () => {
    const lives = new Set(['b']);
    const urls = new Map([['b2', 'http://b:8080']]);
    const { p, at } = pins(6000, lives, urls);
    const gcs = new Gcs(new MemoryStorage());
    p.hook(gcs);
    p.beat(lives, () => false);
    expect([gcs.nodeExpected('b'), gcs.nodeAway('b')?.ms, gcs.nodeGone('b')]).toEqual([true, 0, undefined]);
    at(6000);
    expect([gcs.nodeExpected('b'), gcs.nodeAway('b')?.ms]).toEqual([false, 6000]);
    // b leaves the mesh; b2 lives at its URL.
    lives.delete('b');
    p.leftMesh('b', 'http://b:8080');
    expect([gcs.nodeExpected('b'), gcs.nodeAway('b')]).toEqual([false, undefined]);
    expect(gcs.nodeGone('b')).toBe(
      'it stood for coordinator b (http://b:8080), which left the mesh: a coordinator that restarts is a new node with a new id, as a restarted raylet is in Ray; http://b:8080 is coordinator b2 now',
    );
    expect(gcs.nodeGone('x')).toBeUndefined();
    p.unhook(gcs);
    expect([gcs.nodeExpected('b'), gcs.nodeGone('b')]).toEqual([false, undefined]);
  });

  it("counts a peer as live from its link's join until a beat lists it; one never listed is gone after DEAD_MS", () => {
    // A coordinator that has just started links to us up to one beat before our registry lists it.
    const lives = new Set<string>();
    const { p, at } = pins(6000, lives);
    const gcs = new Gcs(new MemoryStorage());
    p.hook(gcs);
    p.beat(lives, () => false);
    expect(gcs.nodeExpected('b')).toBe(false);
    p.up('b'); // its link joins; the link drops before the next beat
    at(300);
    expect([gcs.nodeExpected('b'), gcs.nodeGone('b')]).toEqual([true, undefined]);
    expect(p.beat(lives, () => false)).toBe(false); // a read from before it wrote its record: not listed yet
    expect([gcs.nodeExpected('b'), gcs.nodeAway('b')?.ms]).toEqual([true, 0]);
    // Listed: its agent makes it live from then on, and the link's down time counts from that beat.
    lives.add('b');
    at(500);
    expect(p.beat(lives, () => false)).toBe(false);
    lives.delete('b');
    expect(gcs.nodeExpected('b')).toBe(false); // not fresh any more: gone with its agent
    // Another one joins and is never listed: live for DEAD_MS from its join, then gone (the beat kicks a pass).
    p.up('c');
    const crossed: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      at(500);
      crossed.push(p.beat(lives, () => false));
      if (i < 3) expect(gcs.nodeExpected('c')).toBe(true);
    }
    expect(crossed).toEqual([false, false, false, true]);
    expect([gcs.nodeExpected('c'), gcs.nodeAway('c')]).toEqual([false, undefined]);
    // A listed peer whose link joins is not fresh: it leaves with its agent.
    lives.add('d');
    p.beat(lives, () => true);
    p.up('d');
    lives.delete('d');
    expect(gcs.nodeExpected('d')).toBe(false);
  });

  it('keeps the last 64 coordinators that left, no more', () => {
    const { p } = pins(6000, new Set());
    const gcs = new Gcs(new MemoryStorage());
    p.hook(gcs);
    for (let i = 0; i < 100; i++) p.leftMesh(`c${i}`, `http://c${i}:1`);
    expect(gcs.nodeGone('c35')).toBeUndefined();
    expect(gcs.nodeGone('c36')).toContain('http://c36:1');
    expect(gcs.nodeGone('c99')).toContain('http://c99:1');
  });

  it('takes its bound from TABMESH_MESH_PIN_WAIT_MS, else 30 s', () => {
    expect(pinWaitFromEnv({})).toBe(PIN_WAIT_MS);
    expect(PIN_WAIT_MS).toBe(30_000);
    expect(pinWaitFromEnv({ TABMESH_MESH_PIN_WAIT_MS: '12000' })).toBe(12_000);
    expect(pinWaitFromEnv({ TABMESH_MESH_PIN_WAIT_MS: '-1' })).toBe(PIN_WAIT_MS);
    expect(pinWaitFromEnv({ TABMESH_MESH_PIN_WAIT_MS: 'soon' })).toBe(PIN_WAIT_MS);
  });
});
