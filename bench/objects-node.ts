// Object plane between Node processes (issue 17), part of `npm run
// bench:objects`: put of 1, 16 and 80 MiB typed arrays (against a plain copy
// of the same bytes in this process), an executor reading an 80 MiB object its
// node already holds (against the same task with a small argument), and an
// 80 MiB object between two processes on one host, edge -> edge and driver ->
// edge (against raw TCP over loopback to a child process, bench/raw-tcp.ts).
import type { Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { drainPool, poolStats } from '../shared/bytes.js';
import { emit, figure, log, MB, round, sleep } from './harness.js';

const ROUNDS = 3;

/** Edge node ids of a cluster, in join order. */
export async function edgeNodeIds(url: string, token: string): Promise<NodeId[]> {
  const res = await fetch(new URL('/api/nodes?kind=edge', url), { headers: { authorization: `Bearer ${token}` } });
  const list = (await res.json()) as { id: NodeId; joinedAt: number }[];
  return list.sort((a, b) => a.joinedAt - b.joinedAt).map((n) => n.id);
}

/** GB/s of copying `bytes` into memory already touched (the best a put can do). */
function copyGbps(bytes: number): number {
  const src = new Uint8Array(bytes).fill(1);
  const dst = new Uint8Array(bytes);
  dst.set(src);
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t);
  }
  return bytes / best / 1e6;
}

/** Put figures in GB/s by size in MiB: the best put reusing freed memory, the first (fresh memory), and for 80 MiB the median of fresh puts. */
export interface PutFigures {
  reused: number;
  first: number;
  fresh?: number;
}

/** Emits the put figures; returns them by size in MiB. */
export async function putFigures(mesh: Mesh): Promise<Record<number, PutFigures>> {
  const out: Record<number, PutFigures> = {};
  for (const mib of [1, 16, 80]) {
    const a = new Float32Array((mib * MB) / 4).fill(1.5);
    let best = Infinity;
    let first = 0;
    for (let r = 0; r < ROUNDS + 1; r++) {
      const recycled = poolStats.recycled;
      const t = performance.now();
      const ref = mesh.put(a);
      await mesh.wait([ref]);
      const ms = performance.now() - t;
      if (r === 0) first = ms;
      else best = Math.min(best, ms);
      mesh.free([ref]);
      // Its memory comes back once it is hashed, announced and freed by the GCS.
      for (let i = 0; i < 100 && mib * MB >= 1 << 20 && poolStats.recycled === recycled; i++) await sleep(50);
    }
    const gbps = (mib * MB) / best / 1e6;
    const copy = copyGbps(mib * MB);
    const firstGbps = (mib * MB) / first / 1e6;
    log(
      `put ${mib} MiB: ${round(gbps, 2)} GB/s reusing freed memory (first put, fresh memory: ${round(firstGbps, 2)} GB/s); plain copy ${round(copy, 2)} GB/s`,
    );
    emit(figure(`objects.put.${mib}MiB`, gbps, 'GB/s', copy));
    emit(figure(`objects.put.${mib}MiB.firstPut`, firstGbps, 'GB/s', copy));
    out[mib] = { reused: gbps, first: firstGbps };
  }
  out[80].fresh = await freshPuts(mesh, 80);
  await unfreedPuts(mesh, 80);
  return out;
}

/**
 * Puts of `mib` MiB into fresh memory (the pool emptied first, nothing being
 * warmed or hashed meanwhile): the median of several, against a plain copy
 * into fresh memory in this process. The first put of a size is one sample
 * of this, taken at whatever the process was doing then (issue 17).
 */
async function freshPuts(mesh: Mesh, mib: number): Promise<number> {
  const n = mib * MB;
  const a = new Float32Array(n / 4).fill(2.5);
  const src = new Uint8Array(n).fill(4);
  const settle = async () => {
    drainPool();
    await sleep(1000); // the last put's hash and spare done
    drainPool();
  };
  const puts: number[] = [];
  const cpus: number[] = [];
  const copies: number[] = [];
  for (let r = 0; r < ROUNDS + 2; r++) {
    await settle();
    const c0 = process.cpuUsage();
    const t = performance.now();
    const ref = mesh.put(a);
    await mesh.wait([ref]);
    puts.push(performance.now() - t);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
    await settle();
    const t2 = performance.now();
    new Uint8Array(n).set(src);
    copies.push(performance.now() - t2);
    mesh.free([ref]);
  }
  const median = (xs: number[]) => xs.slice().sort((x, y) => x - y)[xs.length >> 1];
  const put = n / median(puts) / 1e6;
  const copy = n / median(copies) / 1e6;
  log(
    `put ${mib} MiB into fresh memory: ${round(put, 2)} GB/s (median of ${puts.length}; process CPU ${round(median(cpus), 1)} ms a put); plain copy into fresh memory ${round(copy, 2)} GB/s`,
  );
  emit(figure(`objects.put.${mib}MiB.fresh`, put, 'GB/s', copy));
  return put;
}

/**
 * Puts of new `mib` MiB arrays, 1 s apart, none freed: each needs memory the
 * pool did not get back (the warm spares of shared/bytes.ts), against a plain
 * copy into fresh memory in this process (first touches included).
 */
async function unfreedPuts(mesh: Mesh, mib: number): Promise<void> {
  const n = mib * MB;
  const src = new Uint8Array(n).fill(4);
  const puts: number[] = [];
  const copies: number[] = [];
  const refs = [];
  for (let r = 0; r < ROUNDS + 1; r++) {
    const a = new Float32Array(n / 4).fill(r);
    const t = performance.now();
    refs.push(mesh.put(a));
    await mesh.wait([refs[refs.length - 1]]);
    if (r > 0) puts.push(performance.now() - t); // the first of a size finds no spare
    const c = performance.now();
    new Uint8Array(n).set(src);
    copies.push(performance.now() - c);
    await sleep(1000);
  }
  mesh.free(refs);
  const median = (xs: number[]) => xs.slice().sort((x, y) => x - y)[xs.length >> 1];
  const put = n / median(puts) / 1e6;
  const copy = n / median(copies) / 1e6;
  log(`put ${mib} MiB, nothing freed, 1 s apart: ${round(put, 2)} GB/s (median of ${puts.length}); plain copy into fresh memory ${round(copy, 2)} GB/s`);
  emit(figure(`objects.put.${mib}MiB.unfreed`, put, 'GB/s', copy));
}

/** Reads/s of a task on `node` reading an 80 MiB object made there, against the same task with a small argument. */
export async function executorRead(mesh: Mesh, node: NodeId): Promise<number> {
  const on = { scheduling: { node, soft: false } };
  const make = mesh.remote((n: number) => new Float32Array(n).fill(2), on);
  const read = mesh.remote((x: Float32Array | number[]) => x.length + x[x.length - 1], on);
  const ref = make.remote((80 * MB) / 4);
  await mesh.wait([ref]);
  const burst = async (arg: unknown, n: number) => {
    await mesh.get(read.remote(arg as never)); // warm
    const t = performance.now();
    const got = (await mesh.get(Array.from({ length: n }, () => read.remote(arg as never)))) as number[];
    if (got.some((g) => g !== got[0])) throw new Error('reads disagree');
    return (n / (performance.now() - t)) * 1000;
  };
  const big = await burst(ref, 20);
  const small = await burst([1, 2], 20);
  log(`executor reading a node-local 80 MiB object: ${round(big, 1)} reads/s; the same task with a small argument: ${round(small, 1)}/s`);
  emit(figure('objects.executorRead.80MiB', big, 'reads/s', small));
  mesh.free([ref]);
  return big;
}

/** MiB/s of an 80 MiB object from `from` (an edge node, or this driver) to a task on edge node `to`. */
export async function nodeTransfer(mesh: Mesh, from: NodeId | 'driver', to: NodeId, mib: number): Promise<number> {
  const read = mesh.remote((x: Uint8Array) => x.length, { scheduling: { node: to, soft: false } });
  const make = from === 'driver' ? null : mesh.remote((n: number, k: number) => new Uint8Array(n).fill(k), { scheduling: { node: from, soft: false } });
  await mesh.get(read.remote(new Uint8Array(8))); // the reader's executor is up
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const ref = make ? make.remote(mib * MB, r + 1) : mesh.put(new Uint8Array(mib * MB).fill(r + 1));
    await mesh.wait([ref]);
    if (!make) await sleep(1500); // hashed and announced (the put itself is ready at once)
    const t = performance.now();
    const out = read.remote(ref as never);
    const len = await mesh.get(out);
    const ms = performance.now() - t;
    if (len !== mib * MB) throw new Error(`the reader saw ${len} bytes`);
    best = Math.min(best, ms);
    // Both: a result whose lineage needs the object keeps it (and its memory on both nodes) alive.
    mesh.free([ref, out]);
  }
  return (mib / best) * 1000;
}
