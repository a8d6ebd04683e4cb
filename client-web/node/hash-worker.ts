// An isolated tab's hasher of shared object memory (issue 17, session 12): a
// worker reads the SharedArrayBuffer in place and digests it with WebCrypto
// there, so the tab's main thread neither copies it out (WebCrypto takes no
// shared memory) nor pays each digest's input copy (15-19 ms a
// parameter-server round). The twin of edge/node-hash.ts's pool; a blob
// worker like ticker.ts (the page's CSP allows blob: workers, and a blob
// worker shares the page's cross-origin isolation).
import { isShared } from '../../shared/shared-memory.js';
import { HASH_CHUNK, LEAF_BYTES, leavesMatching, portableAsyncLeaves, setAsyncLeafHasher, setChunkChecker } from '../../shared/hash.js';

/** Chunks digested at once (each digest holds a copy of its chunk until it is done). */
const BATCH = 16;
/**
 * Shared buffers the worker holds (issue 17, session 13): a buffer goes to it
 * once, then each request names its slot and a range. Posting a view of a
 * SharedArrayBuffer costs both threads a registration of the buffer every
 * time: with a 64 KiB chunk checked a message, half the worker's time (in a
 * micro-bench: 256 MiB checked in 1.0-1.1 s by views, 0.5-0.6 s by slots) and
 * 3-10x the post. Few slots: a transfer checks into one buffer at a time.
 */
const SLOTS = 8;
/** A slot unused this long is let go (its buffer may be freed and dropped from the pool). */
const SLOT_IDLE_MS = 5_000;

const SOURCE = `
const C = ${HASH_CHUNK}, L = ${LEAF_BYTES}, B = ${BATCH};
const scratch = new Uint8Array(C);
const slots = [];
onmessage = async (e) => {
  const { id, k, sab, o, n, drop } = e.data;
  if (drop) return void (slots[k] = undefined);
  if (sab) slots[k] = sab;
  try {
    const bytes = new Uint8Array(slots[k], o, n);
    const count = Math.ceil(bytes.byteLength / C);
    const out = new Uint8Array(count * L);
    for (let i = 0; i < count; i += B) {
      const ds = [];
      for (let j = i; j < Math.min(count, i + B); j++) {
        const c = bytes.subarray(j * C, (j + 1) * C);
        const s = scratch.subarray(0, c.byteLength);
        s.set(c); // digest copies its input before it returns: one scratch serves every call
        ds.push(crypto.subtle.digest('SHA-256', s));
      }
      (await Promise.all(ds)).forEach((d, m) => out.set(new Uint8Array(d), (i + m) * L));
    }
    postMessage({ id, out }, [out.buffer]);
  } catch (err) {
    postMessage({ id, error: String(err) });
  }
};`;

/** The main thread's side of the worker's slots: which buffer each holds, and when it was last asked of. */
class Slots {
  private readonly bufs: (SharedArrayBuffer | null)[] = new Array<SharedArrayBuffer | null>(SLOTS).fill(null);
  private readonly usedAt = new Array<number>(SLOTS).fill(0);
  private sweep: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly post: (m: object) => void) {}

  /** Asks the worker for the leaves of `bytes` as request `id`: the buffer goes along only when no slot holds it. */
  ask(id: number, bytes: Uint8Array): void {
    const buf = bytes.buffer as SharedArrayBuffer;
    const now = Date.now();
    let k = this.bufs.indexOf(buf);
    const fresh = k < 0;
    if (fresh) {
      k = 0; // the least recently asked of (an empty slot first)
      for (let i = 1; i < SLOTS; i++) if (this.usedAt[i] < this.usedAt[k]) k = i;
      this.bufs[k] = buf;
    }
    this.usedAt[k] = now;
    tabHasherStats.requests++;
    if (fresh) tabHasherStats.buffersSent++;
    this.post(fresh ? { id, k, sab: buf, o: bytes.byteOffset, n: bytes.byteLength } : { id, k, o: bytes.byteOffset, n: bytes.byteLength });
    this.sweep ??= setTimeout(() => this.letGo(), SLOT_IDLE_MS);
  }

  /** Idle slots let go of their buffers (the worker would keep a freed object's memory alive). */
  private letGo(): void {
    this.sweep = null;
    const cut = Date.now() - SLOT_IDLE_MS;
    for (let k = 0; k < SLOTS; k++) {
      if (this.bufs[k] === null || this.usedAt[k] > cut) continue;
      this.bufs[k] = null;
      this.usedAt[k] = 0;
      this.post({ k, drop: true });
    }
    if (this.bufs.some((b) => b !== null)) this.sweep = setTimeout(() => this.letGo(), SLOT_IDLE_MS);
  }
}

interface Waiting {
  bytes: Uint8Array;
  resolve: (leaves: Uint8Array) => void;
}

let installed = false;
/** Bytes the worker hashed, requests, and buffers posted with one (the page shows none of it; tests read it through the volunteer). */
export const tabHasherStats = { bytes: 0, requests: 0, buffersSent: 0 };

/** Installs the worker hasher where the page is cross-origin isolated; elsewhere nothing changes. */
export function installTabHasher(): void {
  if (installed || !(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated || typeof Worker === 'undefined') return;
  let worker: Worker;
  try {
    const url = URL.createObjectURL(new Blob([SOURCE], { type: 'text/javascript' }));
    worker = new Worker(url, { name: 'tabmesh-hasher' });
    URL.revokeObjectURL(url);
  } catch {
    return; // no blob workers here: WebCrypto on this thread, through a copy
  }
  installed = true;
  const slots = new Slots((m) => worker.postMessage(m));
  const waiting = new Map<number, Waiting>();
  let next = 1;
  let broken = false;
  // A failed worker costs no transfer: what it had, and all later, is hashed the portable way.
  const fallBack = (w: Waiting) => void portableAsyncLeaves(w.bytes).then(w.resolve);
  worker.onmessage = (e: MessageEvent<{ id: number; out?: Uint8Array; error?: string }>) => {
    const w = waiting.get(e.data.id);
    if (!w) return;
    waiting.delete(e.data.id);
    if (e.data.out instanceof Uint8Array && e.data.out.byteLength === Math.ceil(w.bytes.byteLength / HASH_CHUNK) * LEAF_BYTES) {
      tabHasherStats.bytes += w.bytes.byteLength;
      w.resolve(e.data.out);
    } else fallBack(w);
  };
  worker.onerror = () => {
    broken = true;
    worker.terminate();
    for (const w of waiting.values()) fallBack(w);
    waiting.clear();
  };
  const leaves = (bytes: Uint8Array): Promise<Uint8Array> =>
    new Promise((resolve) => {
      const w = { bytes, resolve };
      if (broken) return fallBack(w);
      const id = next++;
      waiting.set(id, w);
      slots.ask(id, bytes);
    });
  setAsyncLeafHasher((bytes) => (isShared(bytes) ? leaves(bytes) : portableAsyncLeaves(bytes)));
  setChunkChecker(async (want, first, piece) => leavesMatching(await leaves(piece), want, first));
}
