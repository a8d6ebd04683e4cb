// A node's runtime env cache (issue 16), alone: memory and tier bounds prune
// the least recently used artifacts; a restarted node starts from the tier's
// order; what it holds is offered to the coordinator. The tier is a fake.
import { describe, expect, it } from 'vitest';
import { EnvCache, type EnvTier } from '../../shared/node/env-cache.js';
import { contentHash } from '../../shared/hash.js';
import { artifactObjectId, type ObjectId } from '../../shared/ids.js';
import type { EnvDecl } from '../../shared/protocol/messages.js';

/** An in-memory tier that records its order of use, as the disk and IndexedDB tiers do. */
class FakeTier implements EnvTier {
  readonly label = 'fake';
  readonly kept = new Map<string, Uint8Array>();
  async get(hash: string) {
    const b = this.kept.get(hash);
    if (b) {
      this.kept.delete(hash);
      this.kept.set(hash, b);
    }
    return b;
  }
  async put(hash: string, bytes: Uint8Array) {
    this.kept.delete(hash);
    this.kept.set(hash, bytes);
  }
  async delete(hash: string) {
    this.kept.delete(hash);
  }
  async list() {
    return [...this.kept].map(([hash, b]) => ({ hash, size: b.byteLength }));
  }
}

function artifact(tag: string, size: number): { bytes: Uint8Array; decl: EnvDecl } {
  const bytes = new Uint8Array(size).fill(tag.charCodeAt(0));
  const hash = contentHash(bytes);
  const a = { id: artifactObjectId(hash), hash, size };
  return { bytes, decl: { name: tag, kind: 'module', b: a, e: a } };
}

function cacheOver(tier: FakeTier, all: ReturnType<typeof artifact>[], limits: { memoryBytes?: number; tierBytes?: number }) {
  const c = new EnvCache(tier, limits);
  const byId = new Map<ObjectId, Uint8Array>(all.map((a) => [a.decl.e.id, a.bytes]));
  const fetched: string[] = [];
  c.fetch = async (id) => {
    fetched.push(id);
    return { bytes: byId.get(id)! };
  };
  const offered: string[] = [];
  c.onHave = (arts) => offered.push(...arts.map((a) => a.hash));
  return { c, fetched, offered };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe('EnvCache bounds', () => {
  it('memory keeps the most recently used artifacts within its bound; a pruned one comes back from the tier', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((t) => artifact(t, 1000));
    const tier = new FakeTier();
    const { c: cache, fetched, offered } = cacheOver(tier, [a, b, c], { memoryBytes: 2500 });
    await cache.ensure([a.decl], 'e');
    await cache.ensure([b.decl], 'e');
    expect(cache.bytes(a.decl.e.hash)).toBeDefined(); // a is now the most recent
    await cache.ensure([c.decl], 'e');
    expect(cache.ready([a.decl], 'e')).toBe(true);
    expect(cache.ready([b.decl], 'e')).toBe(false);
    expect(cache.ready([c.decl], 'e')).toBe(true);
    expect(cache.stats.prunedMemory).toBe(1);
    expect(offered).toEqual([a, b, c].map((x) => x.decl.e.hash));
    await settle();
    await cache.ensure([b.decl], 'e');
    expect(cache.stats).toMatchObject({ fetched: 3, fromTier: 1 });
    expect(fetched.length).toBe(3);
  });

  it('an artifact larger than the memory bound is kept alone', async () => {
    const big = artifact('x', 5000);
    const small = artifact('y', 10);
    const { c } = cacheOver(new FakeTier(), [big, small], { memoryBytes: 1000 });
    await c.ensure([small.decl], 'e');
    await c.ensure([big.decl], 'e');
    expect(c.ready([big.decl], 'e')).toBe(true);
    expect(c.ready([small.decl], 'e')).toBe(false);
  });

  it('the tier prunes least recently used first, starting from the order a restarted node finds', async () => {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((t) => artifact(t, 1000));
    const tier = new FakeTier();
    // A restarted node: a and b are on its tier already, b used last.
    await tier.put(a.decl.e.hash, a.bytes);
    await tier.put(b.decl.e.hash, b.bytes);
    const { c: cache } = cacheOver(tier, [a, b, c, d], { tierBytes: 2500 });
    await cache.ensure([a.decl], 'e'); // read back: a is now the most recent
    await settle();
    await cache.ensure([c.decl], 'e'); // fetched; a third artifact on the tier: b goes
    await settle();
    expect([...tier.kept.keys()].sort()).toEqual([a.decl.e.hash, c.decl.e.hash].sort());
    await cache.ensure([d.decl], 'e');
    await settle();
    expect([...tier.kept.keys()].sort()).toEqual([c.decl.e.hash, d.decl.e.hash].sort());
    expect(cache.stats.prunedTier).toBe(2);
  });

  it('what the tier gives back with other content is fetched again', async () => {
    const a = artifact('a', 100);
    const tier = new FakeTier();
    await tier.put(a.decl.e.hash, new Uint8Array(100));
    const { c, fetched } = cacheOver(tier, [a], {});
    await c.ensure([a.decl], 'e');
    expect(fetched).toEqual([a.decl.e.id]);
    expect(await c.read(a.decl.e.hash)).toEqual(a.bytes);
  });
});
