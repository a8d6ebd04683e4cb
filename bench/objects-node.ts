// Object plane between Node processes (issue 17), part of `npm run
// bench:objects`: put of 1, 16 and 80 MiB typed arrays (against a plain copy
// of the same bytes in this process), an executor reading an 80 MiB object its
// node already holds (against the same task with a small argument), and an
// 80 MiB object between two processes on one host, edge -> edge and driver ->
// edge (against raw TCP over loopback to a child process, bench/raw-tcp.ts).
import { loadavg } from 'node:os';
import { connect, type Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { drainPool, poolStats } from '../shared/bytes.js';
import { emit, figure, log, MB, round, sleep, startCluster } from './harness.js';
import { rawTcp, rawTcpCpu } from './raw-tcp.js';
import { linkPair, linkPairCpu } from './link-pair.js';
import { cpuByThread, threadCpuMs, topSpent } from './cpu.js';

const ROUNDS = 3;

/** Edge node ids of a cluster, in join order. */
export async function edgeNodeIds(url: string, token: string): Promise<NodeId[]> {
  const res = await fetch(new URL('/api/nodes?kind=edge', url), { headers: { authorization: `Bearer ${token}` } });
  const list = (await res.json()) as { id: NodeId; joinedAt: number }[];
  return list.sort((a, b) => a.joinedAt - b.joinedAt).map((n) => n.id);
}

/** ms of the best of `rounds` copies of `bytes` into memory already touched (the best a put can do). */
export function copyMs(bytes: number, rounds = ROUNDS): number {
  const src = new Uint8Array(bytes).fill(1);
  const dst = new Uint8Array(bytes);
  dst.set(src);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

/** GB/s of copying `bytes` into memory already touched. */
function copyGbps(bytes: number): number {
  return bytes / copyMs(bytes) / 1e6;
}

/**
 * The process's first large put (its hash pool not started: a driver starts it at its first large value), from
 * `put` until the GCS was told of it (the driver's messages wait behind its hash: shared/api/hash-gate.ts), in ms.
 */
export async function firstPutAnnounced(mesh: Mesh, mib: number): Promise<number> {
  const a = new Uint8Array(mib * MB).fill(7);
  const gate = (mesh.core as unknown as { gate: { idle(): Promise<void> } }).gate;
  const t = performance.now();
  const ref = mesh.put(a);
  await gate.idle();
  const ms = performance.now() - t;
  const copy = new Uint8Array(mib * MB);
  const c = performance.now();
  copy.set(a);
  const copyMs = performance.now() - c;
  log(`first put of the process, ${mib} MiB: announced after ${round(ms, 1)} ms (a plain copy into fresh memory ${round(copyMs, 1)} ms)`);
  emit(figure(`objects.put.${mib}MiB.firstAnnounced`, (mib * MB) / ms / 1e6, 'GB/s', (mib * MB) / copyMs / 1e6));
  mesh.free([ref]);
  return ms;
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
  await firstPutAnnounced(mesh, 80);
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

/** Pairs (holder -> reader) that moved an object already: their next read is not their first. */
const pairsRead = new Set<string>();

/**
 * MiB/s of an 80 MiB object from `from` (an edge node, or this driver) to a
 * task on edge node `to`: the best of ROUNDS reads, and the first read between
 * the two when this was it (its link opened then: a user's first transfer
 * pays what best-of hides, issue 17).
 */
async function nodeTransfer(
  mesh: Mesh,
  from: NodeId | 'driver',
  to: NodeId,
  mib: number,
  pids?: { from: number; to: number },
): Promise<{ best: number; first?: number }> {
  const pair = `${from}->${to}`;
  const firstOfPair = !pairsRead.has(pair);
  pairsRead.add(pair);
  let first: number | undefined;
  const read = mesh.remote((x: Uint8Array) => x.length, { scheduling: { node: to, soft: false } });
  const make = from === 'driver' ? null : mesh.remote((n: number, k: number) => new Uint8Array(n).fill(k), { scheduling: { node: from, soft: false } });
  await mesh.get(read.remote(new Uint8Array(8))); // the reader's executor is up
  let best = Infinity;
  // CPU ms per MiB of the holder's and the reader's threads over the rounds after the first (as the link pair's).
  // `mainSys`: the main thread's system CPU (its socket's copies: the kernel's first read of a page costs ~5x the copy, session 20).
  type Cpu = { main: number; others: number; mainSys: number };
  const cpu = { holder: { main: 0, others: 0, mainSys: 0 }, reader: { main: 0, others: 0, mainSys: 0 } };
  const add = (to: Cpu, a: Cpu, b: Cpu) => {
    to.main += (b.main - a.main) / (mib * (ROUNDS - 1));
    to.others += (b.others - a.others) / (mib * (ROUNDS - 1));
    to.mainSys += (b.mainSys - a.mainSys) / (mib * (ROUNDS - 1));
  };
  let readerThreads = new Map<string, number>();
  let threads: [string, number][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const ref = make ? make.remote(mib * MB, r + 1) : mesh.put(new Uint8Array(mib * MB).fill(r + 1));
    await mesh.wait([ref]);
    if (!make) await sleep(1500); // hashed and announced (the put itself is ready at once)
    const h0 = pids ? threadCpuMs(pids.from) : null;
    const r0 = pids ? threadCpuMs(pids.to) : null;
    if (pids && r === 1) readerThreads = cpuByThread(pids.to);
    const t = performance.now();
    const out = read.remote(ref as never);
    const len = await mesh.get(out);
    const ms = performance.now() - t;
    if (len !== mib * MB) throw new Error(`the reader saw ${len} bytes`);
    best = Math.min(best, ms);
    if (r === 0 && firstOfPair) first = (mib / ms) * 1000;
    if (pids && r > 0) {
      add(cpu.holder, h0!, threadCpuMs(pids.from));
      add(cpu.reader, r0!, threadCpuMs(pids.to));
      if (r === ROUNDS - 1) threads = topSpent(readerThreads, cpuByThread(pids.to), 5).map(([k, v]): [string, number] => [k, v / (mib * (ROUNDS - 1))]);
    }
    // Both: a result whose lineage needs the object keeps it (and its memory on both nodes) alive.
    mesh.free([ref, out]);
  }
  if (pids) {
    log(
      `${from === 'driver' ? 'driver' : 'edge'} -> edge, CPU ms per MiB, rounds 2-3: holder main thread ${round(cpu.holder.main, 2)} (system ${round(cpu.holder.mainSys, 2)}), other threads ${round(cpu.holder.others, 2)}; reader main thread ${round(cpu.reader.main, 2)} (system ${round(cpu.reader.mainSys, 2)}), other threads ${round(cpu.reader.others, 2)} (reader's busiest: ${threads.map(([k, v]) => `${k} ${round(v, 2)}`).join(', ')})`,
    );
  }
  return { best: (mib / best) * 1000, first };
}

/**
 * The 80 MiB figures between two processes on one host: raw TCP to a child
 * process (into a reused buffer, and into fresh memory), the fast link alone
 * (into new memory, and into reused memory with each side's CPU per MiB), then
 * edge -> edge and driver -> edge with a task reading the object (`a`, `b`: two edge nodes of `mesh`).
 */
export async function transferFigures(
  mesh: Mesh,
  a: NodeId,
  b: NodeId,
  fresh = true,
  pids?: { a: number; b: number },
): Promise<{ raw: number; link: number; ee: number; de: number; eeFirst?: number; deFirst?: number }> {
  const { mibps: raw, cpu: rawCpu } = await rawTcpCpu(80, 3);
  const rawFresh = fresh ? await rawTcp(80, 3, { fresh: true }) : NaN;
  const link = fresh ? await linkPair(80, 3) : NaN;
  const { mibps: linkReused, cpu, threads } = await linkPairCpu(80, 3, true);
  log(`fast link threads, CPU ms per MiB, rounds 2-3: ${threads.map(([k, v]) => `${k} ${round(v, 2)}`).join(', ')}`);
  // CPU per MiB holds under load where wall time does not (rounds after the first, on both).
  log(
    `CPU ms per MiB, rounds 2-3: raw TCP sender ${round(rawCpu.sender, 2)}, sink ${round(rawCpu.sink, 2)}; fast link into reused memory: holder main thread ${round(cpu.holder.main, 2)}, other threads ${round(cpu.holder.others, 2)}; reader main thread ${round(cpu.reader.main, 2)}, other threads (leaf checks, warmer) ${round(cpu.reader.others, 2)}`,
  );
  emit(figure('objects.fastLink.80MiB.readerCpuPerMiB', cpu.reader.main + cpu.reader.others, 'ms', rawCpu.sink));
  emit(figure('objects.fastLink.80MiB.holderCpuPerMiB', cpu.holder.main + cpu.holder.others, 'ms', rawCpu.sender));
  if (fresh) {
    log(
      `80 MiB over a fast link alone (two processes, leaves checked, no task): ${round(link, 1)} MiB/s into new memory (ratio ${round(link / rawFresh, 2)} to raw TCP into fresh memory), ${round(linkReused, 1)} MiB/s into reused memory (ratio ${round(linkReused / raw, 2)} to raw TCP into a reused buffer)`,
    );
    emit(figure('objects.fastLink.80MiB', link, 'MiB/s', rawFresh));
  } else
    log(
      `80 MiB over a fast link alone (two processes, leaves checked, no task): ${round(linkReused, 1)} MiB/s into reused memory (ratio ${round(linkReused / raw, 2)} to raw TCP into a reused buffer)`,
    );
  emit(figure('objects.fastLink.80MiB.reused', linkReused, 'MiB/s', raw));
  const { best: ee, first: eeFirst } = await nodeTransfer(mesh, a, b, 80, pids && { from: pids.a, to: pids.b });
  const { best: de, first: deFirst } = await nodeTransfer(mesh, 'driver', b, 80, pids && { from: process.pid, to: pids.b });
  const firsts =
    eeFirst !== undefined && deFirst !== undefined ? ` (their first reads, link opened then: ${round(eeFirst, 1)}, ${round(deFirst, 1)} MiB/s)` : '';
  log(
    `80 MiB edge -> edge ${round(ee, 1)} MiB/s, driver -> edge ${round(de, 1)} MiB/s${firsts}; raw TCP to a child process ${round(raw, 1)} MiB/s into a reused buffer (ratios ${round(ee / raw, 2)}, ${round(de / raw, 2)})${fresh ? `, ${round(rawFresh, 1)} MiB/s into fresh memory` : ''}; load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  if (fresh) emit(figure('objects.rawTcpFresh.80MiB', rawFresh, 'MiB/s', raw));
  emit(figure('objects.edgeToEdge.80MiB', ee, 'MiB/s', raw));
  emit(figure('objects.driverToEdge.80MiB', de, 'MiB/s', raw));
  if (eeFirst !== undefined) emit(figure('objects.edgeToEdge.80MiB.firstRead', eeFirst, 'MiB/s', raw));
  if (deFirst !== undefined) emit(figure('objects.driverToEdge.80MiB.firstRead', deFirst, 'MiB/s', raw));
  return { raw, link: linkReused, ee, de, eeFirst, deFirst };
}

/**
 * `--only=transfer [--rounds=N]`: the figures of transferFigures alone (no
 * fresh-memory ones), N times on one cluster, to set builds side by side
 * (run alternately with another build's dist), with the load of each.
 */
export async function transferParts(times: number): Promise<void> {
  const cl = await startCluster({ nodes: 2, cpus: 2 });
  const mesh = await connect({ url: cl.url, token: cl.token });
  try {
    const [a, b] = await edgeNodeIds(cl.url, cl.token);
    const announced = await firstPutAnnounced(mesh, 80);
    for (let i = 0; i < times; i++) {
      const f = await transferFigures(mesh, a, b, false, { a: cl.nodes[0].proc.pid!, b: cl.nodes[1].proc.pid! });
      const firsts =
        f.eeFirst !== undefined && f.deFirst !== undefined ? `; first reads: edge -> edge ${round(f.eeFirst)}, driver -> edge ${round(f.deFirst)}` : '';
      log(
        `transfer ${i + 1}/${times}: raw ${round(f.raw)} MiB/s, link alone ${round(f.link)} (${round(f.link / f.raw, 2)}), edge -> edge ${round(f.ee)} (${round(f.ee / f.raw, 2)}), driver -> edge ${round(f.de)} (${round(f.de / f.raw, 2)})${firsts}${i === 0 ? `; first put announced after ${round(announced)} ms` : ''}; load ${loadavg()[0].toFixed(1)}`,
      );
    }
  } finally {
    await mesh.close().catch(() => {});
    await cl.stop();
  }
}
