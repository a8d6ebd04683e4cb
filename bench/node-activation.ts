// What a simulated node pays to take a slice after being idle (issue 14, session 35). bench:scale's node processes
// spent 40-50 µs a task at 20,000 nodes against 10-21 at 100, with the same frames of 64 tasks: a 20,000-task job
// activates ~313 idle nodes where 100 nodes run all along. Here, K NodeRuntimes in this process (in-thread executors,
// as bench/scale-nodes.ts; real timers), each with a socket made here that counts what it is sent (no coordinator).
// Each round gives N members as slices of 64 to N/64 nodes: `warm` the same ones every round, `fresh` the next N/64
// of K in turn (each idle since its last slice K/(N/64) rounds ago), alternated. Prints process CPU per 1,000 tasks.
// ACTIVATION_NODES (K, 2500), ACTIVATION_N (N, 20000), ACTIVATION_ROUNDS (6), ACTIVATION_GAP_MS (between rounds, 1000),
// ACTIVATION_ONLY (warm | fresh: that side alone, for node --cpu-prof).
import { NodeRuntime } from '../shared/node/runtime.js';
import { encodeFrame } from '../shared/protocol/frame.js';
import type { Msg } from '../shared/protocol/messages.js';
import { childTaskId, newJobId, newNodeId, rootTaskId } from '../shared/ids.js';
import { installNodeHasher } from '../edge/node-hash.js';
import { BenchSocket, inThreadExecutors, noopFunction, noopSpec } from './bench-nodes.js';

const K = Number(process.env.ACTIVATION_NODES ?? 2500);
const N = Number(process.env.ACTIVATION_N ?? 20000);
const ROUNDS = Number(process.env.ACTIVATION_ROUNDS ?? 6);
const GAP_MS = Number(process.env.ACTIVATION_GAP_MS ?? 1000);
const ONLY = process.env.ACTIVATION_ONLY;
const SLICE = 64;
const PER_ROUND = Math.ceil(N / SLICE);

const fn = noopFunction();
const jobId = newJobId();
const root = rootTaskId(jobId);
let nextIndex = 0;

/** One slice of SLICE members of a new group. */
function slice(withFn: boolean): Uint8Array {
  const first = nextIndex;
  nextIndex += SLICE;
  const spec = noopSpec(childTaskId(root, first), jobId, root, fn.fnId);
  const idx = Array.from({ length: SLICE }, (_, j) => j);
  const m: Msg = { t: 'assignGroup', spec, first, s: 0, attempt: 0, idx, args: idx.map(() => []), ...(withFn ? { fn } : {}) };
  return encodeFrame([m], true);
}

interface Sim {
  node: NodeRuntime;
  ws: BenchSocket;
  hasFn: boolean;
}

async function main(): Promise<void> {
  installNodeHasher();
  const alive = setInterval(() => {}, 1000);
  const spawn = inThreadExecutors();
  const sims: Sim[] = [];
  let ended = 0;
  let wake = () => {};
  for (let i = 0; i < K; i++) {
    const node = new NodeRuntime(
      { url: 'http://bench.invalid', kind: 'edge', name: `sim-${i}`, cpus: 1, storeBytes: 16 << 20 },
      { WebSocket: BenchSocket, spawnExecutor: spawn },
    );
    await new Promise<void>((r) => queueMicrotask(r));
    const ws = BenchSocket.last;
    ws.onmessage!({ data: encodeFrame([{ t: 'welcome', nodeId: newNodeId(), inlineMax: 64 * 1024, heartbeatMs: 1000 }]) });
    await node.ready;
    node.onTaskEnd = () => {
      if (--ended === 0) wake();
    };
    sims.push({ node, ws, hasFn: false });
  }
  // Every node runs the function once first: what is measured is an idle node's next slice, not its first.
  let cursor = 0;
  const round = async (which: Sim[]): Promise<number> => {
    ended = which.length * SLICE;
    const done = new Promise<void>((r) => (wake = r));
    const cpu0 = process.cpuUsage();
    for (const s of which) {
      s.ws.onmessage!({ data: slice(!s.hasFn) });
      s.hasFn = true;
    }
    await done;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50)); // the reports' and heartbeats' tail
    const cpu = process.cpuUsage(cpu0);
    return ((cpu.user + cpu.system) / 1000 / (which.length * SLICE)) * 1000;
  };
  for (let i = 0; i < K; i += PER_ROUND) await round(sims.slice(i, i + PER_ROUND));
  await new Promise((r) => setTimeout(r, GAP_MS));
  const warm: number[] = [];
  const fresh: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (ONLY !== 'fresh') {
      warm.push(await round(sims.slice(0, PER_ROUND)));
      await new Promise((res) => setTimeout(res, GAP_MS));
    }
    if (ONLY !== 'warm') {
      const which: Sim[] = [];
      for (let k = 0; k < PER_ROUND; k++) which.push(sims[(PER_ROUND + cursor++) % K]);
      fresh.push(await round(which));
      await new Promise((res) => setTimeout(res, GAP_MS));
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(
    JSON.stringify({
      figure: 'node-activation cpu ms per 1000 tasks',
      nodes: K,
      tasks: PER_ROUND * SLICE,
      warm: warm.map((x) => +x.toFixed(1)),
      fresh: fresh.map((x) => +x.toFixed(1)),
      ratio: warm.length && fresh.length ? +(med(fresh) / med(warm)).toFixed(2) : null,
    }),
  );
  clearInterval(alive);
  process.exit(0);
}

void main();
