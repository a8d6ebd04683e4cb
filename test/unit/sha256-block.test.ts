// One-block SHA-256 (shared/sha256-block.ts): the digest of every message that
// fits a block is SHA-256's, so the ids derived with it are those every other
// platform derives.
import { sha256 } from '@noble/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { childTaskId, fromHex, rootTaskId, toHex, type JobId, type TaskId } from '../../shared/ids.js';
import { ONE_BLOCK_MAX, sha256OneBlock } from '../../shared/sha256-block.js';
import { seeded } from '../sim/net.js';

describe('SHA-256 of one block', () => {
  it('equals the portable SHA-256 for every length that fits a block, on random bytes', () => {
    const random = seeded(14);
    for (let n = 0; n <= ONE_BLOCK_MAX; n++) {
      for (let k = 0; k < 8; k++) {
        const msg = new Uint8Array(n);
        for (let i = 0; i < n; i++) msg[i] = Math.floor(random() * 256);
        expect(toHex(sha256OneBlock(msg))).toBe(toHex(sha256(msg)));
      }
    }
  });

  it('the known answers: empty and "abc"', () => {
    expect(toHex(sha256OneBlock(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(sha256OneBlock(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('writes the first bytes of the digest into a shorter output, and leaves the message as it was', () => {
    const msg = new TextEncoder().encode('tabmesh');
    const copy = msg.slice();
    const out = new Uint8Array(16);
    expect(sha256OneBlock(msg, out)).toBe(out);
    expect(toHex(out)).toBe(toHex(sha256(msg).subarray(0, 16)));
    expect(msg).toEqual(copy);
  });

  it('refuses a message longer than one block holds', () => {
    expect(() => sha256OneBlock(new Uint8Array(ONE_BLOCK_MAX + 1))).toThrow(RangeError);
  });
});

describe('child task ids are SHA-256 of the parent and the index (and the generation)', () => {
  const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const reference = (parent: TaskId, index: number, gen = 0) =>
    toHex(sha256(new Uint8Array([...fromHex(parent), ...u32(index), ...(gen ? u32(gen) : [])])).subarray(0, 16));

  it('matches the portable digest over many indices, parents and generations', () => {
    const root = rootTaskId('fedcba9876543210' as JobId);
    let parent = root;
    for (let i = 0; i < 300; i++) {
      const index = i * 7919;
      const gen = i % 5 === 0 ? i + 1 : 0;
      const id = childTaskId(parent, index, gen);
      expect(id).toBe(reference(parent, index, gen));
      if (i % 3 === 0) parent = id;
    }
  });
});

describe('hex prints', () => {
  it('toHex prints every byte value, at every length up to a content hash and past it', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const ref = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    for (const n of [0, 1, 8, 16, 20, 32, 33, 256]) {
      for (let at = 0; at + n <= 256; at += Math.max(1, n)) expect(toHex(all.subarray(at, at + n))).toBe(ref(all.subarray(at, at + n)));
    }
  });
});
