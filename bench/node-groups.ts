// A node's own cost per task, plain against grouped (issue 14, session 26: task groups): one NodeRuntime in this
// process, real worker_threads executors, a coordinator socket made here (its frames are encoded before the
// clock starts and the node's are only counted, not decoded), so the main thread's busy time is the node's:
// decoding what it is sent, admission, the ready queue, executors' column batches, results, reports and frames.
// Each round runs N empty tasks as N `assign`s (the baseline) and as one group's slices (`assignGroup`), in turn.
// NODE_GROUPS_N (1000), NODE_GROUPS_SLICE (members per assignGroup; default N), NODE_GROUPS_ROUNDS (10),
// NODE_GROUPS_ONLY (plain or grouped: that side alone, for a CPU profile).
// Prints one JSON line per figure: main-thread ms per 1,000 tasks (event-loop active time), process CPU ms per
// 1,000 (all threads: executors too), frames and bytes the node sent per task; and the ratios grouped/plain.
import { performance } from 'node:perf_hooks';
import { NodeRuntime } from '../shared/node/runtime.js';
import { encodeFrame } from '../shared/protocol/frame.js';
import type { Msg, MsgOf } from '../shared/protocol/messages.js';
import { childTaskId, newJobId, newNodeId, rootTaskId, type TaskId } from '../shared/ids.js';
import { workerThreadExecutors } from '../edge/executors.js';
import { BenchSocket, noopFunction, noopSpec } from './bench-nodes.js';

const N = Number(process.env.NODE_GROUPS_N ?? 1000);
const SLICE = Number(process.env.NODE_GROUPS_SLICE ?? N);
const ROUNDS = Number(process.env.NODE_GROUPS_ROUNDS ?? 10);
const CPUS = 2;
/** `grouped` or `plain`: run that side only (a CPU profile of one path: node --cpu-prof). */
const ONLY = process.env.NODE_GROUPS_ONLY;

const fn = noopFunction();
const jobId = newJobId();
const root = rootTaskId(jobId);
let nextIndex = 0;

function specOf(taskId: TaskId): MsgOf<'assign'>['spec'] {
  return noopSpec(taskId, jobId, root, fn.fnId);
}

/** The coordinator's frames for N plain tasks (at most 256 messages a frame, as its outbox sends them). */
function plainFrames(first: boolean): Uint8Array[] {
  const msgs: Msg[] = [];
  for (let k = 0; k < N; k++) msgs.push({ t: 'assign', spec: specOf(childTaskId(root, nextIndex++)), inline: [], ...(first && k === 0 ? { fn } : {}) });
  const frames: Uint8Array[] = [];
  for (let k = 0; k < msgs.length; k += 250) frames.push(encodeFrame(msgs.slice(k, k + 250), true));
  return frames;
}

/** The frames for one group of N members, in slices of SLICE. */
function groupFrames(first: boolean): Uint8Array[] {
  const start = nextIndex;
  nextIndex += N;
  const spec = specOf(childTaskId(root, start));
  const msgs: Msg[] = [];
  for (let k = 0, s = 0; k < N; k += SLICE, s++) {
    const idx = Array.from({ length: Math.min(SLICE, N - k) }, (_, j) => k + j);
    msgs.push({ t: 'assignGroup', spec, first: start, s, attempt: 0, idx, args: idx.map(() => []), ...(first && k === 0 ? { fn } : {}) });
  }
  return [encodeFrame(msgs, true)];
}

async function round(node: NodeRuntime, ws: BenchSocket, frames: Uint8Array[], ended: { n: number; wake: () => void }): Promise<Record<string, number>> {
  const f0 = ws.frames;
  const b0 = ws.bytes;
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  ended.n = 0;
  const done = new Promise<void>((r) => (ended.wake = r));
  for (const f of frames) ws.onmessage!({ data: f });
  await done;
  // The last reports leave at the end of the turn.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.cpuUsage(cpu0);
  const per = 1000 / N;
  return {
    mainMsPer1000: elu.active * per,
    cpuMsPer1000: ((cpu.user + cpu.system) / 1000) * per,
    wallMs: performance.now() - t0,
    framesPerTask: (ws.frames - f0) / N,
    bytesPerTask: (ws.bytes - b0) / N,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  // The executors are unref'd workers and the socket is no handle: this keeps the process up while they work.
  const alive = setInterval(() => {}, 1000);
  const node = new NodeRuntime(
    { url: 'http://bench.invalid', kind: 'edge', name: 'bench node', cpus: CPUS, storeBytes: 256 << 20 },
    { WebSocket: BenchSocket, readsRecords: true, spawnExecutor: workerThreadExecutors(), every: () => () => {} },
  );
  await new Promise<void>((r) => queueMicrotask(r));
  const ws = BenchSocket.last;
  ws.onmessage!({ data: encodeFrame([{ t: 'welcome', nodeId: newNodeId(), inlineMax: 64 * 1024, heartbeatMs: 60_000 }]) });
  await node.ready;
  const ended = { n: 0, wake: () => {} };
  node.onTaskEnd = () => {
    if (++ended.n === N) ended.wake();
  };
  // Warm-up: both paths, twice, before anything counts.
  for (let w = 0; w < 2; w++) {
    await round(node, ws, plainFrames(w === 0), ended);
    await round(node, ws, groupFrames(false), ended);
  }
  const plain: Record<string, number>[] = [];
  const grouped: Record<string, number>[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first, so that neither always runs after the other's garbage.
    const a = ONLY === 'grouped' ? null : plainFrames(false);
    const b = ONLY === 'plain' ? null : groupFrames(false);
    if (r % 2 === 0) {
      if (a) plain.push(await round(node, ws, a, ended));
      if (b) grouped.push(await round(node, ws, b, ended));
    } else {
      if (b) grouped.push(await round(node, ws, b, ended));
      if (a) plain.push(await round(node, ws, a, ended));
    }
  }
  const figs = (xs: number[]) =>
    xs.length ? { median: +median(xs).toFixed(3), min: +Math.min(...xs).toFixed(3), max: +Math.max(...xs).toFixed(3) } : undefined;
  for (const key of Object.keys(plain[0] ?? grouped[0])) {
    const p = plain.map((x) => x[key]);
    const g = grouped.map((x) => x[key]);
    const ratio = p.length && g.length ? +(median(g) / median(p)).toFixed(3) : undefined;
    console.log(JSON.stringify({ figure: `node-groups ${key}`, n: N, slice: SLICE, rounds: ROUNDS, plain: figs(p), grouped: figs(g), ratio }));
  }
  clearInterval(alive);
  await node.close();
  process.exit(0);
}

void main();
