import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DiskTier } from '../../edge/disk-tier.js';
import { OBJECT_ID_BYTES, type ObjectId } from '../../shared/ids.js';
import { ObjectStore, type SpillTier } from '../../shared/node/store.js';

/** A Map behind the SpillTier interface; with `manual`, each put waits for release(). */
class FakeTier implements SpillTier {
  readonly data = new Map<ObjectId, Uint8Array>();
  manual = false;
  failPuts = false;
  private held: Array<() => void> = [];
  puts = 0;
  deletes = 0;

  async put(id: ObjectId, bytes: Uint8Array): Promise<void> {
    this.puts++;
    if (this.manual) await new Promise<void>((r) => this.held.push(r));
    else await tick();
    if (this.failPuts) throw new Error('disk full');
    this.data.set(id, bytes.slice());
  }
  async get(id: ObjectId): Promise<Uint8Array | undefined> {
    await tick();
    const b = this.data.get(id);
    return b && b.slice();
  }
  async delete(id: ObjectId): Promise<void> {
    this.deletes++;
    await tick();
    this.data.delete(id);
  }
  async list(): Promise<ObjectId[]> {
    await tick();
    return [...this.data.keys()];
  }
  get pending(): number {
    return this.held.length;
  }
  /** Let every held put go on. */
  release(): void {
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }
}

function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1));
}

const oid = (n: number): ObjectId => n.toString(16).padStart(OBJECT_ID_BYTES * 2, '0') as ObjectId;
const bytes = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);
/** Let queued tier operations start. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
const P = { hash: 'h', primary: true };
const S = { hash: 'h', primary: false };

describe('ObjectStore', () => {
  it('evicts in LRU order, reads touching recency', () => {
    const dropped: ObjectId[][] = [];
    const s = new ObjectStore({ memoryBytes: 300, onDropped: (ids) => dropped.push(ids) });
    s.put(oid(1), bytes(100), S);
    s.put(oid(2), bytes(100), S);
    s.put(oid(3), bytes(100), S);
    expect(s.memoryBytes).toBe(300);
    expect(s.getSync(oid(1))).toBeDefined(); // 1 is now most recent: order 2, 3, 1
    s.put(oid(4), bytes(100), S);
    expect(dropped).toEqual([[oid(2)]]);
    s.put(oid(5), bytes(150), S); // needs two out: 3 then 1
    expect(dropped[1]).toEqual([oid(3), oid(1)]);
    expect([1, 2, 3, 4, 5].map((n) => s.has(oid(n)))).toEqual([false, false, false, true, true]);
    expect(s.memoryBytes).toBe(250);
    expect(s.count).toBe(2);
  });

  it('drops a secondary under pressure and reports it once per pass', async () => {
    const dropped: ObjectId[][] = [];
    const tier = new FakeTier();
    const s = new ObjectStore({ memoryBytes: 250, tier, onDropped: (ids) => dropped.push(ids) });
    s.put(oid(1), bytes(100), S);
    s.put(oid(2), bytes(100, 2), P);
    s.put(oid(3), bytes(100), S);
    s.put(oid(4), bytes(100), S); // over by 150: secondaries 1 and 3 go; the primary stays (issue 17)
    expect(dropped).toEqual([[oid(1)], [oid(3)]]);
    expect(s.has(oid(1))).toBe(false);
    expect(await s.get(oid(1))).toBeUndefined();
    expect(s.stats().drops).toBe(2);
    await s.idle();
    expect(tier.data.has(oid(1))).toBe(false); // secondaries never go to the tier
    expect(tier.data.has(oid(2))).toBe(false);
    expect(s.getSync(oid(2))).toBeDefined();
    expect(s.memoryBytes).toBe(200);
  });

  it('primaries stay in memory while secondaries churn; primary pressure spills the oldest primary', async () => {
    const dropped: ObjectId[] = [];
    const tier = new FakeTier();
    const s = new ObjectStore({ memoryBytes: 1000, tier, onDropped: (ids) => dropped.push(...ids) });
    for (let i = 1; i <= 6; i++) s.put(oid(i), bytes(100, i), P); // 600 bytes of own objects
    // Many reads of others' objects, each touched after the primaries were.
    for (let i = 100; i < 300; i++) {
      s.put(oid(i), bytes(150, 1), S);
      expect(s.getSync(oid(i))).toBeDefined();
    }
    await s.idle();
    expect(tier.puts).toBe(0);
    for (let i = 1; i <= 6; i++) expect(s.getSync(oid(i))?.[0]).toBe(i);
    expect(s.memoryBytes).toBeLessThanOrEqual(1000);
    expect(dropped.length).toBe(200 - 2); // two 150-byte secondaries fit beside the primaries
    // A secondary larger than the room the primaries leave is not kept at all.
    s.put(oid(400), bytes(500), S);
    expect(s.has(oid(400))).toBe(false);
    expect(tier.puts).toBe(0);
    // Primaries do push each other (and secondaries first) to the tier.
    s.put(oid(7), bytes(700, 7), P);
    await s.idle();
    expect(tier.data.has(oid(1))).toBe(true);
    expect(s.has(oid(299))).toBe(false);
  });

  it('spills a primary to the tier and reads back identical bytes', async () => {
    const tier = new FakeTier();
    tier.manual = true;
    const s = new ObjectStore({ memoryBytes: 1000, tier });
    const a = new Uint8Array(600).map((_, i) => (i * 7) & 0xff);
    s.put(oid(1), a, P);
    s.put(oid(2), bytes(600, 2), P); // 1 spills
    await settle();
    expect(tier.pending).toBe(1);
    // Readable from memory while its write is in flight.
    expect(s.getSync(oid(1))).toBe(a);
    expect(s.memoryBytes).toBe(1200);
    expect(s.spilledBytes).toBe(0);
    tier.release();
    await s.idle();
    expect(s.getSync(oid(1))).toBeUndefined();
    expect(s.memoryBytes).toBe(600);
    expect(s.spilledBytes).toBe(600);
    expect(s.stats()).toMatchObject({ objects: 2, spills: 1, drops: 0 });
    expect(s.has(oid(1))).toBe(true);
    expect(s.info(oid(1))).toEqual({ id: oid(1), size: 600, hash: 'h', primary: true });
    const back = await s.get(oid(1));
    expect(back).toEqual(a);
    // 600 + 600 > 1000: served from the tier without coming back into memory.
    expect(s.getSync(oid(1))).toBeUndefined();
    s.delete(oid(2));
    const again = await s.get(oid(1));
    expect(again).toEqual(a);
    expect(s.getSync(oid(1))).toEqual(a); // fits now: back in memory, tier copy kept
    expect(s.memoryBytes).toBe(600);
    expect(s.spilledBytes).toBe(600);
  });

  it('sends a primary larger than the budget straight to the tier', async () => {
    const tier = new FakeTier();
    const s = new ObjectStore({ memoryBytes: 100, tier });
    s.put(oid(1), bytes(50, 1), P);
    s.put(oid(2), bytes(500, 2), P);
    expect(s.getSync(oid(2))).toBeDefined(); // until its write finished
    await s.idle();
    expect(tier.data.get(oid(2))).toEqual(bytes(500, 2));
    expect(s.getSync(oid(1))).toBeDefined(); // nothing else was pushed out
    expect(s.memoryBytes).toBe(50);
    expect(await s.get(oid(2))).toEqual(bytes(500, 2));
  });

  it('keeps a secondary larger than the budget only until the next eviction', () => {
    const dropped: ObjectId[][] = [];
    const s = new ObjectStore({ memoryBytes: 100, onDropped: (ids) => dropped.push(ids) });
    s.put(oid(1), bytes(50), S);
    s.put(oid(2), bytes(500), S);
    expect(dropped).toEqual([]);
    expect(s.getSync(oid(1))).toBeDefined();
    expect(s.getSync(oid(2))).toBeDefined();
    s.put(oid(3), bytes(10), S);
    expect(dropped).toEqual([[oid(2)]]);
    expect(s.memoryBytes).toBe(60);
  });

  it('never drops a primary when there is no tier (pinned over budget)', async () => {
    const dropped: ObjectId[][] = [];
    const s = new ObjectStore({ memoryBytes: 200, onDropped: (ids) => dropped.push(ids) });
    s.put(oid(1), bytes(100, 1), P);
    s.put(oid(2), bytes(100), S);
    s.put(oid(3), bytes(100, 3), P);
    s.put(oid(4), bytes(100, 4), P);
    s.put(oid(5), bytes(1000, 5), P);
    expect(dropped).toEqual([[oid(2)]]);
    for (const n of [1, 3, 4, 5]) expect(await s.get(oid(n))).toEqual(bytes(n === 5 ? 1000 : 100, n));
    expect(s.memoryBytes).toBe(1300);
    expect(s.stats()).toMatchObject({ objects: 4, spills: 0, drops: 1 });
  });

  it('upgrades a secondary to primary when put again as primary', () => {
    const dropped: ObjectId[][] = [];
    const s = new ObjectStore({ memoryBytes: 100, onDropped: (ids) => dropped.push(ids) });
    s.put(oid(1), bytes(100), S);
    s.put(oid(1), bytes(100, 1), P);
    s.put(oid(2), bytes(100), S);
    expect(dropped).toEqual([[oid(2)]]);
    expect(s.info(oid(1))?.primary).toBe(true);
  });

  it('a delete during an in-flight spill leaves nothing in the tier', async () => {
    const tier = new FakeTier();
    tier.manual = true;
    const s = new ObjectStore({ memoryBytes: 100, tier });
    s.put(oid(1), bytes(100, 1), P);
    s.put(oid(2), bytes(100, 2), P); // 1 spills
    await settle();
    expect(tier.pending).toBe(1);
    s.delete(oid(1));
    expect(s.has(oid(1))).toBe(false);
    expect(s.getSync(oid(1))).toBeUndefined();
    expect(s.memoryBytes).toBe(100);
    tier.release();
    await s.idle();
    expect(tier.data.has(oid(1))).toBe(false);
    expect(s.spilledBytes).toBe(0);
    expect(s.stats().spills).toBe(0);
    expect(s.memoryBytes).toBe(100);

    // Delete, then the same id put and spilled again: the re-spill survives.
    s.put(oid(3), bytes(100, 3), P); // 2 spills
    s.delete(oid(2));
    s.put(oid(2), bytes(100, 2), P); // 3 spills
    s.put(oid(4), bytes(100, 4), P); // 2 spills again
    await new Promise((r) => setTimeout(r, 5));
    tier.release();
    await new Promise((r) => setTimeout(r, 5));
    tier.release();
    await s.idle();
    expect(tier.data.has(oid(2))).toBe(true);
    expect(tier.data.has(oid(3))).toBe(true);
    expect(s.spilledBytes).toBe(200);
    expect(await s.get(oid(2))).toEqual(bytes(100, 2));
  });

  it('deleting a spilled object removes it from the tier', async () => {
    const tier = new FakeTier();
    const s = new ObjectStore({ memoryBytes: 100, tier });
    s.put(oid(1), bytes(100, 1), P);
    s.put(oid(2), bytes(100, 2), P);
    await s.idle();
    expect(tier.data.has(oid(1))).toBe(true);
    s.delete(oid(1));
    await s.idle();
    expect(tier.data.has(oid(1))).toBe(false);
    expect(s.spilledBytes).toBe(0);
    expect(s.count).toBe(1);
  });

  it('keeps a primary in memory when its spill fails', async () => {
    const tier = new FakeTier();
    tier.failPuts = true;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const s = new ObjectStore({ memoryBytes: 100, tier });
    s.put(oid(1), bytes(100, 1), P);
    s.put(oid(2), bytes(100, 2), P);
    await s.idle();
    expect(s.getSync(oid(1))).toEqual(bytes(100, 1));
    expect(s.spilledBytes).toBe(0);
    expect(s.memoryBytes).toBe(200);
    expect(warn).toHaveBeenCalled();
    warn.mockRestore();
  });

  it('reports an object whose tier copy vanished', async () => {
    const dropped: ObjectId[][] = [];
    const tier = new FakeTier();
    const s = new ObjectStore({ memoryBytes: 100, tier, onDropped: (ids) => dropped.push(ids) });
    s.put(oid(1), bytes(100, 1), P);
    s.put(oid(2), bytes(100, 2), P);
    await s.idle();
    tier.data.delete(oid(1));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect(await s.get(oid(1))).toBeUndefined();
    expect(s.has(oid(1))).toBe(false);
    expect(dropped).toEqual([[oid(1)]]);
    expect(s.spilledBytes).toBe(0);
    warn.mockRestore();
  });
});

describe('DiskTier', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  async function tmp(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'tabmesh-disk-'));
    dirs.push(d);
    return join(d, 'tier'); // DiskTier creates it
  }

  it('round-trips bytes and lists what survives a restart', async () => {
    const dir = await tmp();
    const t = new DiskTier(dir);
    const a = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff);
    await t.put(oid(1), a);
    await t.put(oid(2), bytes(0));
    await t.put(oid(3), bytes(10));
    const back = await t.get(oid(1));
    expect(back).toBeInstanceOf(Uint8Array);
    expect(back).toEqual(a);
    expect(await t.get(oid(2))).toEqual(new Uint8Array(0));
    expect(await t.get(oid(9))).toBeUndefined();
    await t.delete(oid(3));
    await t.delete(oid(3)); // twice is fine
    // A leftover temp file from a crash, and a stray file: not objects.
    await writeFile(join(dir, `.${oid(4)}.123.1.tmp`), 'half');
    await writeFile(join(dir, 'notes.txt'), 'x');

    const restarted = new DiskTier(dir);
    expect((await restarted.list()).sort()).toEqual([oid(1), oid(2)]);
    expect(await restarted.get(oid(1))).toEqual(a);
    expect(await restarted.get(oid(4))).toBeUndefined();
  });

  it('names files by hex id, leaves no temp files, and refuses non-ids', async () => {
    const dir = await tmp();
    const t = new DiskTier(dir);
    await Promise.all([t.put(oid(1), bytes(5)), t.put(oid(1), bytes(5)), t.put(oid(2), bytes(5))]);
    expect((await readdir(dir)).sort()).toEqual([oid(1), oid(2)]);
    await expect(t.put('../escape' as ObjectId, bytes(1))).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(t.get('x' as ObjectId)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });

  it('backs an ObjectStore', async () => {
    const dir = await tmp();
    const s = new ObjectStore({ memoryBytes: 100, tier: new DiskTier(dir) });
    s.put(oid(1), bytes(80, 1), P);
    s.put(oid(2), bytes(80, 2), P);
    await s.idle();
    expect(await readdir(dir)).toEqual([oid(1)]);
    expect(await s.get(oid(1))).toEqual(bytes(80, 1));
    s.delete(oid(1));
    await s.idle();
    expect(await new DiskTier(dir).list()).toEqual([]);
  });
});
