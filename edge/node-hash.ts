// On Node, content hashes use OpenSSL's SHA-256 (GB/s, not the portable
// ~100 MB/s), and large objects in shared memory are hashed by a small pool of
// worker threads, each taking a run of chunks, without copying them (issue 17).
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HASH_CHUNK, LEAF_BYTES, chunkCount, leafHashes, setAsyncLeafHasher, setChunkHasher } from '../shared/hash.js';

/** Below this, the pool's round trip costs more than it saves. */
const POOL_MIN_BYTES = 4 << 20;

// CommonJS source, so the pool needs no file on disk (works from sources and from dist).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (m) => {
  const b = new Uint8Array(m.buf, m.off, m.len);
  const out = new Uint8Array(m.out);
  for (let i = m.from; i < m.to; i++) {
    const s = i * ${HASH_CHUNK};
    out.set(createHash('sha256').update(b.subarray(s, Math.min(m.len, s + ${HASH_CHUNK}))).digest(), i * ${LEAF_BYTES});
  }
  parentPort.postMessage(m.x);
});`;

let installed = false;

export function installNodeHasher(): void {
  if (installed) return;
  installed = true;
  setChunkHasher((c) => createHash('sha256').update(c).digest());
  const pool = new HashPool(Math.max(1, Math.min(4, availableParallelism())));
  setAsyncLeafHasher((bytes) =>
    bytes.buffer instanceof SharedArrayBuffer && bytes.byteLength >= POOL_MIN_BYTES ? pool.leaves(bytes) : Promise.resolve(leafHashes(bytes)),
  );
}

class HashPool {
  private workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextX = 1;

  constructor(private readonly size: number) {}

  private start(): Worker[] {
    if (this.workers.length) return this.workers;
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, name: `tabmesh-hash-${i}` });
      w.on('message', (x: number) => {
        const f = this.waiting.get(x);
        this.waiting.delete(x);
        f?.resolve();
        this.holdOpen();
      });
      w.on('error', (e) => this.fail(e));
      w.unref();
      this.workers.push(w);
    }
    return this.workers;
  }

  /** Workers keep the process alive only while they have work. */
  private holdOpen(): void {
    for (const w of this.workers) {
      if (this.waiting.size > 0) w.ref();
      else w.unref();
    }
  }

  private fail(e: Error): void {
    const old = this.workers;
    this.workers = [];
    for (const w of old) void w.terminate();
    for (const f of this.waiting.values()) f.reject(e);
    this.waiting.clear();
  }

  async leaves(bytes: Uint8Array): Promise<Uint8Array> {
    const n = chunkCount(bytes.byteLength);
    const out = new SharedArrayBuffer(n * LEAF_BYTES);
    try {
      const workers = this.start();
      const per = Math.ceil(n / workers.length);
      const parts: Promise<void>[] = [];
      for (let k = 0; k < workers.length && k * per < n; k++) {
        const x = this.nextX++;
        parts.push(new Promise<void>((resolve, reject) => this.waiting.set(x, { resolve, reject })));
        workers[k].postMessage({ x, buf: bytes.buffer, off: bytes.byteOffset, len: bytes.byteLength, out, from: k * per, to: Math.min(n, (k + 1) * per) });
      }
      this.holdOpen();
      await Promise.all(parts);
    } catch (e) {
      process.stderr.write(`tabmesh: hash workers failed (${(e as Error).message}); hashing here\n`);
      return leafHashes(bytes);
    }
    return new Uint8Array(out).slice();
  }
}
