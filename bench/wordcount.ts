// A MapReduce word count for chaos tests and bench/recovery: deterministic text, the job, and
// the same count in one process to check against.
import type { Mesh } from '../shared/api/mesh.js';
import type { ObjectRef } from '../shared/index.js';

declare const mesh: Mesh; // inside tasks

export const CHUNKS = 64;
const CHUNK_BYTES = 1 << 20;
const REDUCERS = 4;
const VOCABULARY = 60_000; // partitions of ~15,000 words (~90 KB encoded): above the inline threshold, so they live on nodes
/**
 * The chaos tests' chunks (test/fault mapreduce and tabs): a quarter of CHUNK_BYTES, a quarter of the maps' work and
 * bytes (session 33), with a coordinator whose inline threshold is TEST_INLINE_MAX: their partitions (~53 KB encoded)
 * still live on the node that made them, as the default chunks' do under the default 64 KiB.
 */
export const TEST_CHUNK_BYTES = 256 * 1024;
export const TEST_INLINE_MAX = 32 * 1024;

/**
 * Deterministic text: words drawn from a fixed vocabulary by a seeded generator. Written as bytes and read as
 * Latin-1 (every word is ASCII): 64 MiB of words joined into strings took the tests 5-23 s of one core (load 4-11).
 */
export function makeChunks(n = CHUNKS, bytes = CHUNK_BYTES): string[] {
  let seed = 12345;
  // The vocabulary's words, each with its space, one after another: word i is all[at[i], at[i + 1]).
  const words = Array.from({ length: VOCABULARY }, (_, i) => `w${i.toString(36)} `);
  const at = new Int32Array(VOCABULARY + 1);
  for (let i = 0; i < VOCABULARY; i++) at[i + 1] = at[i] + words[i].length;
  const all = Buffer.from(words.join(''), 'latin1');
  const buf = Buffer.allocUnsafe(bytes + Math.max(...words.map((w) => w.length)));
  const out: string[] = [];
  for (let c = 0; c < n; c++) {
    let len = 0;
    while (len < bytes) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const w = Math.floor((seed / 2 ** 32) * VOCABULARY);
      for (let k = at[w], end = at[w + 1]; k < end; k++) buf[len++] = all[k];
    }
    out.push(buf.toString('latin1', 0, len - 1)); // no space after the last word
  }
  return out;
}

/**
 * Each word's count in `chunks` (split at single spaces). Words of the vocabulary's form (`w` and a number in base
 * 36) are counted by that number, any other word by name: 64 MiB split into strings and counted in a map took the
 * tests 5-35 s of one core (load 4-11).
 */
export function countLocally(chunks: string[]): Map<string, number> {
  const byIndex = new Float64Array(VOCABULARY);
  const others = new Map<string, number>();
  for (const c of chunks) {
    let start = 0;
    while (start <= c.length) {
      let end = c.indexOf(' ', start);
      if (end < 0) end = c.length;
      const i = vocabularyIndex(c, start, end);
      if (i >= 0) byIndex[i]++;
      else {
        const w = c.slice(start, end);
        others.set(w, (others.get(w) ?? 0) + 1);
      }
      start = end + 1;
    }
  }
  const counts = new Map<string, number>();
  for (let i = 0; i < VOCABULARY; i++) if (byIndex[i] > 0) counts.set(`w${i.toString(36)}`, byIndex[i]);
  for (const [w, n] of others) counts.set(w, (counts.get(w) ?? 0) + n);
  return counts;
}

/** The vocabulary index of the word `s[start, end)` when it is `w${i.toString(36)}` for an i in the vocabulary, else -1. */
function vocabularyIndex(s: string, start: number, end: number): number {
  if (end - start < 2 || end - start > 6 || s.charCodeAt(start) !== 119 /* w */) return -1;
  if (end - start > 2 && s.charCodeAt(start + 1) === 48 /* a leading 0 */) return -1;
  let i = 0;
  for (let k = start + 1; k < end; k++) {
    const ch = s.charCodeAt(k);
    const d = ch >= 48 && ch <= 57 ? ch - 48 : ch >= 97 && ch <= 122 ? ch - 87 : -1;
    if (d < 0) return -1;
    i = i * 36 + d;
  }
  return i < VOCABULARY ? i : -1;
}

/** Submits the job: 64 maps (4 partitions each) and 4 reduces; returns the reduce refs. */
export function submitWordCount(m: Mesh, chunks: ObjectRef<string>[], opts: { maxRetries?: number } = {}): ObjectRef<Map<string, number>>[] {
  const map = m
    .remote(function mapChunk(text: string, reducers: number) {
      const parts: Map<string, number>[] = Array.from({ length: reducers }, () => new Map());
      for (const w of text.split(' ')) {
        let h = 0;
        for (let i = 0; i < w.length; i++) h = (h * 31 + w.charCodeAt(i)) >>> 0;
        const p = parts[h % reducers];
        p.set(w, (p.get(w) ?? 0) + 1);
      }
      return parts;
    })
    .options({ numReturns: REDUCERS, maxRetries: opts.maxRetries ?? 5 });
  const reduce = m
    .remote(async function reduce(partitions: ObjectRef<Map<string, number>>[]) {
      const total = new Map<string, number>();
      // The shuffle barrier: every map is done before any partition is read.
      await mesh.wait(partitions, { numReturns: partitions.length });
      // Then read the partitions a few at a time, as a real reducer streams its inputs.
      for (let i = 0; i < partitions.length; i += 8) {
        for (const part of await mesh.get(partitions.slice(i, i + 8))) for (const [w, n] of part) total.set(w, (total.get(w) ?? 0) + n);
      }
      return total;
    })
    .options({ maxRetries: opts.maxRetries ?? 5 });
  const mapped = chunks.map((c) => map.remote(c, REDUCERS));
  // The reducers get the refs nested in a value, so they start before every map is done and wait in get.
  return Array.from({ length: REDUCERS }, (_, r) => reduce.remote(mapped.map((parts) => parts[r])));
}
