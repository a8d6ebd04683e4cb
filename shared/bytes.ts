// The pool of object memory (issue 17). Large object bytes live in shared
// memory where threads can share it (shared/shared-memory.ts), and their
// buffers are recycled, as Ray's object store reuses its arena: fresh memory
// costs a page fault per 4 KiB on first touch, which on this project's VMs is
// ten times the cost of the copy itself. A buffer goes back to the pool only
// when its object is freed and no view of it may still be read: `expose`
// marks buffers a view of which left for good (decoded in place, being sent);
// a view lent to an executor (`lendView`) is counted until the executor says
// it let it go (`returnView`), and a buffer freed while lent goes back to the
// pool with the last view.
//
// Where the platform installs a warmer (edge/node-warm.ts), another thread
// touches a fresh large buffer's pages from its end while its taker writes it
// from the start, and then brings a spare of its size into the pool: the next
// buffer of that size is warm memory even when no object was freed meanwhile;
// taking a spare brings the next one.
import { isShared, SHARE_MIN_BYTES, sharedMemory } from './shared-memory.js';

const sharable = sharedMemory();

/** Buffers this large or larger are pooled, in steps of this size. */
const POOL_STEP = 1 << 20;
/** Most idle bytes the pool keeps (oldest go first), unless `limitPool` lowers it. */
const POOL_IDLE_MAX = 512 << 20;
/** An idle buffer nobody took for this long goes back to the system. */
const POOL_IDLE_MS = 30_000;

const pooled = new WeakSet<ArrayBufferLike>();
/** Spares the warmer touched and nobody has taken yet. */
const spares = new WeakSet<ArrayBufferLike>();
const exposed = new WeakSet<ArrayBufferLike>();
/** Views lent to other threads and not given back yet, per buffer. */
const lent = new Map<SharedArrayBuffer, number>();
/** Buffers whose owner freed them while views were lent: idle once the last comes back. */
const freedWhileLent = new Set<SharedArrayBuffer>();
/** Who is told when a buffer is freed while views of it are lent (they may ask their holders to let go). */
const reclaimers = new Set<(buf: SharedArrayBuffer) => void>();
/** Idle buffers, oldest first. */
let idle: SharedArrayBuffer[] = [];
let idleBytes = 0;
/** `kernelPages`: pages of pool memory the warmer had the kernel read (edge/node-warm.ts). */
export const poolStats = { reused: 0, fresh: 0, recycled: 0, warmed: 0, kernelPages: 0 };
const countKernel = (pages: number | void) => void (poolStats.kernelPages += pages ?? 0);

/** Fresh buffers this large or larger bring a warm spare of their size. */
const WARM_MIN_BYTES = 8 << 20;
/** Most bytes of spares being warmed and of idle buffers, past which no spare is warmed (unless `limitPool` lowers it). */
const WARM_IDLE_MAX = 256 << 20;
let idleMax = POOL_IDLE_MAX;
let warmMax = WARM_IDLE_MAX;
/** When each idle buffer went idle. */
const idleSince = new WeakMap<ArrayBufferLike, number>();
let expiry: ReturnType<typeof setTimeout> | null = null;

/**
 * Bounds what the pool holds besides live objects by the memory budget of the
 * node in this process (its object store's memory tier): idle buffers at most
 * half of it, spares at most a quarter. A node with a small budget gets no
 * large spares, and the buffer of an object it spilled does not stay resident
 * as an idle one. The last call wins (one node per process).
 */
export function limitPool(budgetBytes: number): void {
  idleMax = Math.min(POOL_IDLE_MAX, Math.max(0, Math.floor(budgetBytes / 2)));
  warmMax = Math.min(WARM_IDLE_MAX, Math.max(0, Math.floor(budgetBytes / 4)));
  trimIdle();
}
/**
 * How a warmer touches a buffer, off the caller's thread and without changing
 * any byte (the buffer may be taken and written while it works): `taken`, a
 * fresh buffer its taker is writing; `spare`, a spare nobody took yet
 * (speculative: the platform may warm it only with CPU time nothing else
 * wants); `kernel`, a buffer already written (an executor's result) whose
 * pages the kernel may not have read yet. It resolves to the pages the kernel
 * read, where the platform does that.
 */
export type WarmWay = 'taken' | 'spare' | 'kernel';
export type Warmer = (buf: SharedArrayBuffer, way: WarmWay) => Promise<number | void>;
let warmer: Warmer | null = null;
/** Spares being warmed, by size; `taken`: handed out before the warmer finished (it goes on touching pages). */
const warming = new Map<number, { buf: SharedArrayBuffer; taken: boolean }>();
let warmingBytes = 0;

/** Installs `w` (null: none); returns the one it replaces. */
export function setWarmer(w: Warmer | null): Warmer | null {
  const old = warmer;
  warmer = w;
  return old;
}

/**
 * A spare of `size` bytes, warmed and then idle in the pool; or, given `fresh`
 * (a fresh buffer just handed out, its taker writing it from the first page),
 * that buffer's pages touched from the last one down: the two threads share
 * its page faults, and the spare is warmed after it (not beside it: two
 * buffers faulted at once cost a put into fresh memory 3x, issue 17).
 */
function warmSpare(size: number, fresh?: SharedArrayBuffer): void {
  if (!warmer || warming.has(size) || (!fresh && idleBytes + warmingBytes + size > warmMax)) return;
  const w = { buf: fresh ?? new SharedArrayBuffer(size), taken: fresh !== undefined };
  const buf = w.buf;
  // A fresh buffer is the taker's memory, not a spare's: it counts against no budget.
  const extra = fresh ? 0 : size;
  warming.set(size, w);
  warmingBytes += extra;
  const done = () => {
    warming.delete(size);
    warmingBytes -= extra;
  };
  warmer(buf, fresh ? 'taken' : 'spare').then((pages) => {
    countKernel(pages);
    done();
    if (w.taken) return warmSpare(size); // the next one
    pooled.add(buf);
    spares.add(buf);
    poolStats.warmed++;
    addIdle(buf);
  }, done);
}

function addIdle(buf: SharedArrayBuffer): void {
  idle.push(buf);
  idleBytes += buf.byteLength;
  idleSince.set(buf, Date.now());
  trimIdle();
  if (idle.length > 0 && !expiry) {
    expiry = setTimeout(expireIdle, POOL_IDLE_MS);
    (expiry as { unref?: () => void }).unref?.();
  }
}

function trimIdle(): void {
  while (idleBytes > idleMax && idle.length > 0) idleBytes -= idle.shift()!.byteLength;
}

/** Idle buffers nobody took for POOL_IDLE_MS go: a burst's memory is not held for good. */
function expireIdle(): void {
  expiry = null;
  const cut = Date.now() - POOL_IDLE_MS;
  idle = idle.filter((b) => (idleSince.get(b) ?? 0) > cut);
  idleBytes = idle.reduce((n, b) => n + b.byteLength, 0);
  if (idle.length > 0) {
    expiry = setTimeout(expireIdle, POOL_IDLE_MS);
    (expiry as { unref?: () => void }).unref?.();
  }
}

/**
 * `n` bytes, shared between threads where the platform allows and `n` is
 * large. Zeroed unless `dirty` (for callers that write every byte).
 */
export function allocBytes(n: number, dirty = false): Uint8Array {
  if (!sharable || n < SHARE_MIN_BYTES) return new Uint8Array(n);
  if (n < POOL_STEP) return new Uint8Array(new SharedArrayBuffer(n));
  // The smallest that fits, a freed buffer before a spare: taking a spare warms the next one (a
  // whole buffer of page faults in the warmer), reusing a freed one costs nothing.
  let best = -1;
  for (let i = 0; i < idle.length; i++) {
    const c = idle[i].byteLength;
    if (c < n || c > n + (n >> 2) + POOL_STEP) continue;
    if (best < 0) best = i;
    else if (spares.has(idle[best]) !== spares.has(idle[i])) best = spares.has(idle[i]) ? best : i;
    else if (c < idle[best].byteLength) best = i;
  }
  if (best >= 0) {
    const buf = idle[best];
    idle.splice(best, 1);
    idleBytes -= buf.byteLength;
    poolStats.reused++;
    // A spare taken: the next one of its size is warmed (a buffer freed and reused brings none).
    if (spares.delete(buf)) warmSpare(buf.byteLength);
    const out = new Uint8Array(buf, 0, n);
    if (!dirty) out.fill(0);
    return out;
  }
  const size = Math.ceil(n / POOL_STEP) * POOL_STEP;
  // A spare still being warmed: its pages are faulted from both ends at once (the warmer works from the last one).
  const w = warming.get(size);
  if (w && !w.taken) {
    w.taken = true;
    pooled.add(w.buf);
    poolStats.reused++;
    return new Uint8Array(w.buf, 0, n); // zeroed: the warmer writes no byte
  }
  const buf = new SharedArrayBuffer(size);
  pooled.add(buf);
  poolStats.fresh++;
  if (size >= WARM_MIN_BYTES) warmSpare(size, buf);
  return new Uint8Array(buf, 0, n);
}

/**
 * Issue 17: a large executor result is made in the executor's thread. Its
 * buffer, let go of there once posted, joins this thread's pool (`adopt`), and
 * a freed buffer of about its size goes back (`handOver`, then `stock` there)
 * for the next result: results land in memory already in use, not fresh pages.
 * An executor's memory may be pages the kernel never read: a large one is
 * handed to the warmer for that (session 20), else this thread's first socket
 * write of each page paid for it (~1.6 ms per MiB on this project's VMs, 5x the
 * write itself); memory the kernel read already costs it ~20 system calls per 80 MiB.
 */
export function adopt(bytes: Uint8Array): void {
  const buf = bytes.buffer;
  if (!sharable || !(buf instanceof SharedArrayBuffer) || bytes.byteOffset !== 0 || buf.byteLength < POOL_STEP || exposed.has(buf)) return;
  pooled.add(buf);
  // Within what the node warms spares of (a quarter of its memory budget): a larger one may be on its way to the
  // disk tier, and the warmer's thread would hold its memory until that thread's next garbage collection.
  if (warmer && buf.byteLength >= WARM_MIN_BYTES && buf.byteLength <= warmMax) warmer(buf, 'kernel').then(countKernel, () => {});
}

/** An idle buffer (a freed one, not a spare) that fits `n` bytes, out of this thread's pool for good; null if none. */
export function handOver(n: number): SharedArrayBuffer | null {
  const i = idle.findIndex((b) => b.byteLength >= n && b.byteLength <= n + (n >> 2) + POOL_STEP && !spares.has(b));
  if (i < 0) return null;
  const [buf] = idle.splice(i, 1);
  idleBytes -= buf.byteLength;
  pooled.delete(buf);
  return buf;
}

/** Buffers another thread handed over (nobody else holds them) become idle ones of this thread's pool. */
export function stock(bufs: unknown): void {
  if (!Array.isArray(bufs)) return;
  for (const b of bufs) {
    // Each post makes a new object of a buffer: one already idle here is not added twice.
    if (!sharable || !(b instanceof SharedArrayBuffer) || b.byteLength < POOL_STEP || idle.includes(b) || exposed.has(b)) continue;
    pooled.add(b);
    addIdle(b);
  }
}

/** A view of `bytes` may outlive its owner's copy: never recycle their buffer. */
export function expose(bytes: ArrayBufferView): void {
  if (pooled.has(bytes.buffer)) exposed.add(bytes.buffer);
}

/**
 * The owner is done with `bytes` (its object was freed); the buffer is reused
 * if nothing else can see it, or once the views lent of it all came back.
 */
export function recycle(bytes: Uint8Array): void {
  const buf = bytes.buffer as SharedArrayBuffer;
  if (!pooled.has(buf) || exposed.has(buf) || bytes.byteOffset !== 0 || idle.includes(buf)) return;
  if (lent.has(buf)) {
    if (freedWhileLent.has(buf)) return;
    freedWhileLent.add(buf);
    for (const r of reclaimers) r(buf);
    return;
  }
  poolStats.recycled++;
  addIdle(buf);
}

/**
 * A view of `bytes` goes to another thread that will say when it let the view
 * go (`returnView`): its buffer, counted, or null when the buffer is not
 * pooled or already exposed for good (the caller exposes it then).
 */
export function lendView(bytes: Uint8Array): SharedArrayBuffer | null {
  const buf = bytes.buffer;
  if (!pooled.has(buf) || exposed.has(buf)) return null;
  const b = buf as SharedArrayBuffer;
  lent.set(b, (lent.get(b) ?? 0) + 1);
  return b;
}

/** A view lent of `buf` is gone; the last one brings a buffer freed meanwhile back to the pool. */
export function returnView(buf: SharedArrayBuffer): void {
  const n = lent.get(buf);
  if (n === undefined) return;
  if (n > 1) {
    lent.set(buf, n - 1);
    return;
  }
  lent.delete(buf);
  if (!freedWhileLent.delete(buf)) return;
  poolStats.recycled++;
  addIdle(buf);
}

/** How many views of `bytes`' buffer are lent out (tests, stats). */
export function viewsLent(bytes: Uint8Array): number {
  return lent.get(bytes.buffer as SharedArrayBuffer) ?? 0;
}

/** `f` hears of every buffer freed while views of it are lent; returns the way to stop. */
export function onReclaim(f: (buf: SharedArrayBuffer) => void): () => void {
  reclaimers.add(f);
  return () => reclaimers.delete(f);
}

/** Drops every idle buffer (tests). */
export function drainPool(): void {
  idle = [];
  idleBytes = 0;
  if (expiry) clearTimeout(expiry);
  expiry = null;
}

/** Lends views to one other thread and hears when it let them go (shared/node/view-leases.ts). */
export interface Lender {
  /** Counts a view of `bytes` as lent; false when its buffer cannot be lent. */
  lend(bytes: Uint8Array): boolean;
}

/**
 * `bytes` as posted to another thread: shared memory as it is (the other
 * thread may keep views of it: lent through `lender`, else never recycled),
 * a view of a larger buffer (an argument inside the frame it came in) copied
 * alone, since posting a view clones its whole buffer.
 */
export function forPosting(bytes: Uint8Array, transfer?: ArrayBuffer[], lender?: Lender): Uint8Array {
  if (isShared(bytes)) {
    if (!lender?.lend(bytes)) expose(bytes);
    return bytes;
  }
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  // The copy is nobody else's: it moves to the other thread (a transfer list) rather than being cloned again.
  const copy = bytes.slice();
  transfer?.push(copy.buffer);
  return copy;
}
