// Large objects through the coordinator's relay to `tabmesh start`'s own node (session 37). `tabmesh start` runs
// the coordinator and its local edge node in one process; a driver with no peer stack (a job's driver, or
// `connect({ peers: false })`) reaches that node's objects through the coordinator's relay only. For objects of 1, 16
// and 64 MiB: a put the node reads (driver -> node: the put, a task on the node taking it as its argument, its
// small answer) and a get of an object the node made (node -> driver), best of ROUNDS, in MiB/s; the CPU the start
// process (coordinator + node, all threads) and this process (the driver) spent per MiB over all rounds, and the
// start process's peak RSS over each size's rounds (VmHWM, reset before them). Baselines in the same run: the same
// bytes over one raw WebSocket between this process and a child (bench/ws-sink.ts), in messages of the relay's chunk
// size, each way; and a memcpy. `--edge`: also gets of an object made on an edge node of its own process (`tabmesh
// node`) joined to the same coordinator, with that process's CPU: what the relay costs the start process when the
// holder is not its own node, against the gets from its own node (session 38).
//
//   npm run build && npm run bench:relay -- [--rounds=3] [--sizes=1,16,64] [--edge]
//
// stdout: one JSON line per figure; stderr: diagnostics.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { connect, type Mesh } from '../edge/index.js';
import type { NodeId } from '../shared/ids.js';
import { NodeWebSocket } from '../edge/ws.js';
import { RELAY_CHUNK_BYTES } from '../shared/protocol/fields.js';
import { emit, figure, log, makeTempDir, MB, ownChild, removeTempDir, round, runBench, spawnCli, waitForLine, type Child } from './harness.js';
import { cpuSince } from './cpu.js';
import { copyMs } from './objects-node.js';

const arg = (k: string): string | undefined => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const ROUNDS = Number(arg('rounds') ?? 3);
const SIZES = (arg('sizes') ?? '1,16,64').split(',').map(Number);
const EDGE = process.argv.includes('--edge');
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1 || SIZES.some((s) => !Number.isSafeInteger(s) || s < 1 || s > 1024))
  throw new Error('--rounds takes a whole number >= 1, --sizes whole MiB counts of 1-1024');

/** Peak RSS (MB) of `pid` since its last reset, and its reset (Linux: writing 5 to clear_refs). */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) / 1024 : NaN;
}
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // not Linux, or not allowed: the peak then counts from the process's start
  }
}

interface Way {
  bestMs: number;
  /** CPU ms per MiB over all rounds: the start process, this process, the edge node's process (NaN: none). */
  start: number;
  driver: number;
  edge: number;
}

/**
 * Runs `once` ROUNDS times (after one warm-up): the best of the times it returns (ms), and the CPU per MiB of `pid`
 * and of this process over the rounds (a get's rounds include the task that makes the object: its CPU is small).
 */
async function measure(pid: number, mib: number, once: () => Promise<number>, edgePid?: number): Promise<Way> {
  await once();
  let bestMs = Infinity;
  const spent = cpuSince({ start: pid, edge: edgePid });
  for (let r = 0; r < ROUNDS; r++) bestMs = Math.min(bestMs, await once());
  const cpu = spent();
  const per = (ms: number) => ms / (mib * ROUNDS);
  return { bestMs, start: per(cpu.start), driver: per(cpu.driver), edge: per(cpu.edge) };
}

/** An edge node in a process of its own (`tabmesh node`), joined to `mesh`'s coordinator at `url`; its node id. */
async function startEdge(mesh: Mesh, url: string, dir: string): Promise<{ child: Child; id: NodeId }> {
  const before = new Set((await mesh.nodes()).map((n) => n.nodeId));
  const child = spawnCli('edge', ['node', '--coordinator', url, '--cpus', '1', '--spill-dir', dir], { quiet: true });
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if (child.proc.exitCode !== null) break;
    const joined = (await mesh.nodes()).find((n) => n.alive && !before.has(n.nodeId));
    if (joined) return { child, id: joined.nodeId as NodeId };
  }
  await child.stop();
  throw new Error(`the edge node did not join:\n${child.output.join('')}`);
}

/** The raw WebSocket baseline: a sink child, and a socket to it from this process (unmasked on loopback, as a driver's). */
async function rawSocket(): Promise<{ pid: number; up(n: number): Promise<number>; down(n: number): Promise<number>; close(): void }> {
  const child = fork(fileURLToPath(new URL('./ws-sink.js', import.meta.url)), [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  ownChild(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`ws-sink exited (${code})`)));
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  });
  const ws = new NodeWebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let dst = new Uint8Array(0);
  let onData: (d: Buffer, binary: boolean) => void = () => {};
  ws.on('message', (d: Buffer, binary: boolean) => onData(d, binary));
  const src = new Uint8Array(SIZES.reduce((a, b) => Math.max(a, b)) * MB).fill(4);
  return {
    pid: child.pid!,
    up: (n) =>
      timed((resolve) => {
        onData = (_d, binary) => void (binary ? undefined : resolve());
        ws.send(JSON.stringify({ n, dir: 'up' }));
        void (async () => {
          for (let o = 0; o < n; o += RELAY_CHUNK_BYTES) {
            while (ws.bufferedAmount > 8 << 20) await new Promise((r) => setTimeout(r, 1));
            ws.send(src.subarray(o, Math.min(n, o + RELAY_CHUNK_BYTES)));
          }
        })();
      }),
    // Received into one buffer of the object's size, as a reader assembles an object.
    down: (n) =>
      timed((resolve) => {
        if (dst.byteLength < n) dst = new Uint8Array(n);
        let got = 0;
        onData = (d) => {
          dst.set(d, got);
          got += d.byteLength;
          if (got >= n) resolve();
        };
        ws.send(JSON.stringify({ n, dir: 'down' }));
      }),
    close: () => {
      ws.close();
      child.kill();
    },
  };
}

/** ms from calling `run` until it calls `done`. */
async function timed(run: (done: () => void) => void): Promise<number> {
  const t = performance.now();
  await new Promise<void>((resolve) => run(resolve));
  return performance.now() - t;
}

async function main(): Promise<void> {
  const token = 'bench-' + randomBytes(12).toString('hex');
  const start = spawnCli('start', ['start', '--memory', '--port', '0', '--token', token, '--cpus', '1'], { quiet: true });
  let mesh: Mesh | undefined;
  let raw: Awaited<ReturnType<typeof rawSocket>> | undefined;
  let edge: { child: Child; id: NodeId } | undefined;
  const edgeDir = EDGE ? makeTempDir('tabmesh-bench-relay-edge-') : '';
  try {
    const url = (await waitForLine(start, /^tabmesh coordinator listening on (\S+)/, 60_000))[1];
    await waitForLine(start, /local edge node/, 60_000);
    const pid = start.proc.pid!;
    // No peer stack: every byte between this driver and the node goes through the relay (a job's driver does so).
    mesh = await connect({ url, token, peers: false });
    raw = await rawSocket();
    // Tasks on the start process's own node (the only one before an edge node joins).
    const own = { scheduling: { node: (await mesh.nodes())[0].nodeId as NodeId, soft: false } };
    if (EDGE) edge = await startEdge(mesh, url, edgeDir);
    const readLen = mesh.remote((a: Uint8Array) => a.byteLength, own);
    const makeFn = (n: number) => new Uint8Array(n).fill(3);
    const make = mesh.remote(makeFn, own);
    const makeOnEdge = edge ? mesh.remote(makeFn, { scheduling: { node: edge.id, soft: false } }) : undefined;
    for (const mib of SIZES) {
      const n = mib * MB;
      const src = new Uint8Array(n).fill(6);
      resetPeak(pid);
      const m = mesh;
      const up = await measure(pid, mib, async () => {
        const t = performance.now();
        const ref = m.put(src);
        const read = readLen.remote(ref);
        const len = await m.get(read);
        const ms = performance.now() - t;
        if (len !== n) throw new Error(`the node read ${String(len)} bytes of ${n}`);
        // The task's result too: while it lives, its lineage holds the put, and so the node's copy of it (a round's
        // 64 MiB, kept until this process's garbage collector finalised the result's ref, session 38).
        m.free([ref, read]);
        return ms;
      });
      const upRss = peakRssMb(pid);
      resetPeak(pid);
      /** A get of an object `f` made: the ms from asking to having it. */
      const getOf = (f: typeof make) => async () => {
        const ref = f.remote(n);
        await m.wait([ref]);
        const t = performance.now();
        const v = (await m.get(ref)) as Uint8Array;
        const ms = performance.now() - t;
        if (v.byteLength !== n || v[n - 1] !== 3) throw new Error(`got ${v.byteLength} bytes, last ${v[n - 1]}`);
        m.free([ref]);
        return ms;
      };
      const down = await measure(pid, mib, getOf(make));
      const downRss = peakRssMb(pid);
      const r = raw;
      const rawUp = await measure(r.pid, mib, () => r.up(n));
      const rawDown = await measure(r.pid, mib, () => r.down(n));
      const copy = copyMs(n, ROUNDS);
      const rate = (ms: number) => round(mib / (ms / 1000), 1);
      const load = loadavg()[0].toFixed(1);
      log(
        `${mib} MiB (load ${load}): driver->node ${rate(up.bestMs)} MiB/s (raw ws ${rate(rawUp.bestMs)}), node->driver ${rate(down.bestMs)} MiB/s` +
          ` (raw ws ${rate(rawDown.bestMs)}), memcpy ${rate(copy)} MiB/s; CPU ms/MiB start ${round(up.start, 2)}/${round(down.start, 2)}` +
          ` driver ${round(up.driver, 2)}/${round(down.driver, 2)}, raw ws sink ${round(rawUp.start, 2)}/${round(rawDown.start, 2)}` +
          ` sender ${round(rawUp.driver, 2)}/${round(rawDown.driver, 2)}; start's peak RSS ${round(upRss, 0)}/${round(downRss, 0)} MB`,
      );
      emit(figure(`relay.${mib}MiB.driverToNode`, rate(up.bestMs), 'MiB/s', rate(rawUp.bestMs)));
      emit(figure(`relay.${mib}MiB.nodeToDriver`, rate(down.bestMs), 'MiB/s', rate(rawDown.bestMs)));
      emit(figure(`relay.${mib}MiB.memcpy`, rate(copy), 'MiB/s'));
      emit(figure(`relay.${mib}MiB.driverToNode.startCpuPerMiB`, round(up.start, 3), 'ms', round(rawUp.start + rawUp.driver, 3)));
      emit(figure(`relay.${mib}MiB.nodeToDriver.startCpuPerMiB`, round(down.start, 3), 'ms', round(rawDown.start + rawDown.driver, 3)));
      emit(figure(`relay.${mib}MiB.driverToNode.driverCpuPerMiB`, round(up.driver, 3), 'ms'));
      emit(figure(`relay.${mib}MiB.nodeToDriver.driverCpuPerMiB`, round(down.driver, 3), 'ms'));
      emit(figure(`relay.${mib}MiB.driverToNode.startPeakRss`, round(upRss, 0), 'MB'));
      emit(figure(`relay.${mib}MiB.nodeToDriver.startPeakRss`, round(downRss, 0), 'MB'));
      if (edge && makeOnEdge) {
        // The same gets with the holder in its own process: the start process then only relays; against its own node's.
        const fromEdge = await measure(pid, mib, getOf(makeOnEdge), edge.child.proc.pid);
        log(
          `${mib} MiB from an edge node: ${rate(fromEdge.bestMs)} MiB/s; CPU ms/MiB start ${round(fromEdge.start, 2)} (own node's get ${round(down.start, 2)})` +
            ` edge ${round(fromEdge.edge, 2)} driver ${round(fromEdge.driver, 2)}`,
        );
        emit(figure(`relay.${mib}MiB.edgeToDriver`, rate(fromEdge.bestMs), 'MiB/s', rate(down.bestMs)));
        emit(figure(`relay.${mib}MiB.edgeToDriver.startCpuPerMiB`, round(fromEdge.start, 3), 'ms', round(down.start, 3)));
        emit(figure(`relay.${mib}MiB.edgeToDriver.edgeCpuPerMiB`, round(fromEdge.edge, 3), 'ms'));
      }
    }
  } finally {
    raw?.close();
    await mesh?.close();
    await edge?.child.stop();
    await start.stop();
    if (edgeDir) removeTempDir(edgeDir);
  }
}

runBench(main);
