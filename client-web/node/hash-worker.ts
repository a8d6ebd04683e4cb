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

const SOURCE = `
const C = ${HASH_CHUNK}, L = ${LEAF_BYTES}, B = ${BATCH};
const scratch = new Uint8Array(C);
onmessage = async (e) => {
  const { id, bytes } = e.data;
  try {
    const n = Math.ceil(bytes.byteLength / C);
    const out = new Uint8Array(n * L);
    for (let i = 0; i < n; i += B) {
      const ds = [];
      for (let j = i; j < Math.min(n, i + B); j++) {
        const c = bytes.subarray(j * C, (j + 1) * C);
        const s = scratch.subarray(0, c.byteLength);
        s.set(c); // digest copies its input before it returns: one scratch serves every call
        ds.push(crypto.subtle.digest('SHA-256', s));
      }
      (await Promise.all(ds)).forEach((d, k) => out.set(new Uint8Array(d), (i + k) * L));
    }
    postMessage({ id, out }, [out.buffer]);
  } catch (err) {
    postMessage({ id, error: String(err) });
  }
};`;

interface Waiting {
  bytes: Uint8Array;
  resolve: (leaves: Uint8Array) => void;
}

let installed = false;
/** Bytes the worker hashed (the page shows none of it; tests read it through the volunteer). */
export const tabHasherStats = { bytes: 0 };

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
      worker.postMessage({ id, bytes });
    });
  setAsyncLeafHasher((bytes) => (isShared(bytes) ? leaves(bytes) : portableAsyncLeaves(bytes)));
  setChunkChecker(async (want, first, piece) => leavesMatching(await leaves(piece), want, first));
}
