// Collections that grow with the tasks in flight rehash a shard at a time
// (issue 14, coordinator/id-shards.ts): a plain Map of 65,536 task ids doubled
// in one submit (64 ms of CPU with the other tables that doubled with it).
// These tests check that the sharded collections answer exactly as a Map and a
// Set do through the split and back down, and that no inner table grows past
// a small share of the whole. Ids are made from a counter (deterministic).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { idShard, SHARDS, ShardedMap, ShardedSet, SPLIT, taskShard } from '../../coordinator/id-shards.js';
import { putObjectId, returnObjectId, type TaskId } from '../../shared/ids.js';
import { seeded as rng } from '../sim/net.js';

const taskId = (i: number) => createHash('sha256').update(`task ${i}`).digest('hex').slice(0, 32) as TaskId;

describe('sharded id collections', () => {
  it('a job of 30,000 tasks: the map answers as a Map through growth past the split and back down to empty', () => {
    const plain = new Map<string, number>();
    const sharded = new ShardedMap<string, number>(idShard);
    const ids = Array.from({ length: 30_000 }, (_, i) => returnObjectId(taskId(i), 0));
    const r = rng(7);
    // Grow (mostly sets), then shrink (mostly deletes): every answer compared on the way (mismatches counted).
    let wrong = 0;
    for (let step = 0; step < 120_000; step++) {
      const growing = step < 60_000;
      const id = ids[Math.floor(r() * ids.length)];
      const op = r();
      if (op < (growing ? 0.8 : 0.1)) {
        plain.set(id, step);
        sharded.set(id, step);
      } else if (op < 0.9) {
        if (sharded.delete(id) !== plain.delete(id)) wrong++;
      } else if (sharded.get(id) !== plain.get(id) || sharded.has(id) !== plain.has(id)) wrong++;
      if (sharded.size !== plain.size) wrong++;
      if (step === 59_999) {
        expect(sharded.size).toBeGreaterThan(SPLIT * 4);
        expect(new Map(sharded)).toEqual(plain);
        expect([...sharded.keys()].sort()).toEqual([...plain.keys()].sort());
        expect([...sharded.values()].sort()).toEqual([...plain.values()].sort());
        const seen: string[] = [];
        sharded.forEach((v, k) => (expect(plain.get(k)).toBe(v), seen.push(k)));
        expect(seen.length).toBe(plain.size);
      }
    }
    expect(wrong).toBe(0);
    for (const id of [...plain.keys()]) expect(sharded.delete(id)).toBe(true);
    expect(sharded.size).toBe(0);
    expect([...sharded]).toEqual([]);
  });

  it('deleting while iterating visits every entry once, as a Map does', () => {
    const sharded = new ShardedMap<string, number>(idShard);
    for (let i = 0; i < SPLIT * 3; i++) sharded.set(taskId(i), i);
    let visited = 0;
    for (const [k] of sharded) {
      sharded.delete(k);
      visited++;
    }
    expect(visited).toBe(SPLIT * 3);
    expect(sharded.size).toBe(0);
  });

  it('100,000 task records in a set: no inner table holds more than twice its share, so a growth rehashes ~1/64th', () => {
    const set = new ShardedSet<{ spec: { taskId: TaskId } }>(taskShard);
    const plain = new Set<{ spec: { taskId: TaskId } }>();
    const records = Array.from({ length: 100_000 }, (_, i) => ({ spec: { taskId: taskId(i) } }));
    for (const t of records) {
      set.add(t);
      plain.add(t);
      set.add(t); // twice: counted once
    }
    expect(set.size).toBe(100_000);
    expect(set.largestPart).toBeLessThan((2 * 100_000) / SHARDS);
    expect([...set].filter((t) => !plain.has(t)).length).toBe(0);
    for (const t of records.slice(0, 50_000)) expect(set.delete(t)).toBe(true);
    expect(set.delete(records[0])).toBe(false);
    expect(set.size).toBe(50_000);
    expect(set.has(records[0])).toBe(false);
    expect(set.has(records[60_000])).toBe(true);
    set.clear();
    expect(set.size).toBe(0);
    set.add(records[1]);
    expect([...set]).toEqual([records[1]]);
  });

  it('ids of every kind spread over the shards: task ids, a task return ids, a driver put ids (one prefix)', () => {
    const root = taskId(-1);
    const kinds = {
      task: (i: number) => taskId(i),
      ret: (i: number) => returnObjectId(taskId(i), 0),
      put: (i: number) => putObjectId(root, i),
    };
    for (const [kind, make] of Object.entries(kinds)) {
      const map = new ShardedMap<string, number>(idShard);
      for (let i = 0; i < 64_000; i++) map.set(make(i), i);
      expect(map.largestPart, kind).toBeLessThan((2 * 64_000) / SHARDS);
    }
  });
});
