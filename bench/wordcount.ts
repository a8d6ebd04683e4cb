// A MapReduce word count for chaos tests and bench/recovery: deterministic text, the job, and
// the same count in one process to check against.
import type { Mesh } from '../shared/api/mesh.js';
import type { ObjectRef } from '../shared/index.js';

declare const mesh: Mesh; // inside tasks

export const CHUNKS = 64;
const CHUNK_BYTES = 1 << 20;
const REDUCERS = 4;
const VOCABULARY = 60_000; // partitions of ~15,000 words (~130 KB): above the inline threshold, so they live on nodes

/** Deterministic text: words drawn from a fixed vocabulary by a seeded generator. */
export function makeChunks(n = CHUNKS, bytes = CHUNK_BYTES): string[] {
  let seed = 12345;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const words = Array.from({ length: VOCABULARY }, (_, i) => `w${i.toString(36)}`);
  const out: string[] = [];
  for (let c = 0; c < n; c++) {
    const parts: string[] = [];
    let len = 0;
    while (len < bytes) {
      const w = words[Math.floor(rand() * VOCABULARY)];
      parts.push(w);
      len += w.length + 1;
    }
    out.push(parts.join(' '));
  }
  return out;
}

export function countLocally(chunks: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of chunks) for (const w of c.split(' ')) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
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
