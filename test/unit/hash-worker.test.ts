// An isolated tab's hasher worker (client-web/node/hash-worker.ts), its page
// side against workers of our own: one that runs the real worker source in
// this thread (WebCrypto, as in the tab), one that fails, one that answers
// wrong. A failed or wrong worker costs no hash: the page falls back to the
// portable path, and after a failure never posts to the worker again.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveObjectURL } from 'node:buffer';

type Mode = 'run' | 'fail' | 'wrong';

class FakeWorker {
  static mode: Mode = 'run';
  static last: FakeWorker | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  posted = 0;
  terminated = false;
  private readonly mode = FakeWorker.mode;
  /** The worker's own onmessage, from the source the page made its blob of. */
  private readonly inside: Promise<(e: { data: unknown }) => Promise<void>>;

  constructor(url: string) {
    FakeWorker.last = this;
    // Read before the page revokes the URL (right after this constructor returns).
    const blob = resolveObjectURL(url);
    if (!blob) throw new Error(`no blob at ${url}`);
    const reply = (data: unknown) => setTimeout(() => this.onmessage?.({ data }));
    this.inside = blob.text().then(
      // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the worker's own source, run as the worker would
      (src) => new Function('postMessage', `let onmessage;\n${src}\nreturn onmessage;`)(reply) as (e: { data: unknown }) => Promise<void>,
    );
  }

  postMessage(data: { id: number; bytes: Uint8Array }): void {
    this.posted++;
    if (this.mode === 'fail') return void setTimeout(() => this.onerror?.(new Error('worker died')));
    if (this.mode === 'wrong') return void setTimeout(() => this.onmessage?.({ data: { id: data.id, out: new Uint8Array(5) } }));
    void this.inside.then((f) => f({ data }));
  }

  terminate(): void {
    this.terminated = true;
  }
}

const g = globalThis as { crossOriginIsolated?: boolean; Worker?: unknown };

/** A fresh page: hash-worker.ts and the hash module it installs into, with the worker installed. */
async function page(mode: Mode) {
  vi.resetModules();
  FakeWorker.mode = mode;
  g.crossOriginIsolated = true;
  g.Worker = FakeWorker;
  const hw = await import('../../client-web/node/hash-worker.js');
  const hash = await import('../../shared/hash.js');
  hw.installTabHasher();
  const worker = FakeWorker.last;
  if (!worker) throw new Error('no worker made');
  return { hash, stats: hw.tabHasherStats, worker };
}

/** `n` bytes of shared memory (what the worker is used for), with a pattern. */
function sharedBytes(n: number, k: number): Uint8Array {
  const b = new Uint8Array(new SharedArrayBuffer(n));
  for (let i = 0; i < n; i++) b[i] = (i * 7 + k) & 0xff;
  return b;
}

/** The hash the portable path gives, from a private copy. */
const expected = (hash: typeof import('../../shared/hash.js'), b: Uint8Array) => hash.contentHash(b.slice());

/** Fails instead of waiting out the test's timeout when a hash never comes. */
const within = <T>(p: Promise<T>, ms = 10_000) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no hash: the request was left waiting')), ms))]);

describe("an isolated tab's hasher worker", () => {
  afterEach(() => {
    delete g.crossOriginIsolated;
    delete g.Worker;
    FakeWorker.last = null;
  });

  it('hashes shared bytes in the worker, and checks received chunks there', async () => {
    const { hash, stats, worker } = await page('run');
    const bytes = sharedBytes(300_000, 1); // 5 chunks, the last one short
    const { hash: h, leaves } = await within(hash.contentHashAsync(bytes));
    expect(h).toBe(expected(hash, bytes));
    expect(worker.posted).toBe(1);
    expect(stats.bytes).toBe(bytes.byteLength);
    // A received piece is checked by the worker too: a bad third chunk stops the count at 2.
    const piece = sharedBytes(300_000, 1);
    expect(await within(hash.chunksMatchingAsync(leaves, 0, piece))).toBe(5);
    piece[2 * hash.HASH_CHUNK + 10] ^= 1;
    expect(await within(hash.chunksMatchingAsync(leaves, 0, piece))).toBe(2);
    expect(worker.posted).toBe(3);
    // Plain memory does not go to the worker (WebCrypto takes it as it is).
    const plain = sharedBytes(100_000, 2).slice();
    expect((await within(hash.contentHashAsync(plain))).hash).toBe(expected(hash, plain));
    expect(worker.posted).toBe(3);
  });

  it('a worker that fails: what it had is hashed the portable way, and nothing more goes to it', async () => {
    const { hash, stats, worker } = await page('fail');
    const a = sharedBytes(200_000, 3);
    const b = sharedBytes(150_000, 4);
    // Both are posted before the failure is heard; both come back, right.
    const [ha, hb] = await within(Promise.all([hash.contentHashAsync(a), hash.contentHashAsync(b)]));
    expect(ha.hash).toBe(expected(hash, a));
    expect(hb.hash).toBe(expected(hash, b));
    expect(worker.posted).toBe(2);
    expect(worker.terminated).toBe(true);
    // Later hashes and chunk checks no longer wait on the dead worker.
    const c = sharedBytes(100_000, 5);
    expect((await within(hash.contentHashAsync(c))).hash).toBe(expected(hash, c));
    expect(await within(hash.chunksMatchingAsync(ha.leaves, 0, sharedBytes(200_000, 3)))).toBe(4);
    expect(worker.posted).toBe(2);
    expect(stats.bytes).toBe(0);
  });

  it('a wrong answer is not taken: that request is hashed the portable way, the worker stays in use', async () => {
    const { hash, stats, worker } = await page('wrong');
    const a = sharedBytes(200_000, 6);
    expect((await within(hash.contentHashAsync(a))).hash).toBe(expected(hash, a));
    const b = sharedBytes(70_000, 7);
    expect((await within(hash.contentHashAsync(b))).hash).toBe(expected(hash, b));
    expect(worker.posted).toBe(2);
    expect(worker.terminated).toBe(false);
    expect(stats.bytes).toBe(0);
  });
});
