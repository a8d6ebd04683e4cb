// What holding nodes costs the coordinator at 20,000 nodes (coordinator/nodes/hold.ts, silence.ts; session 37), on a
// real Coordinator (in-memory GCS) with stand-in sessions and a stepped clock, in one process:
// - a frame: membership.seen() now also counts the node under its tick (silence.ts); baseline: the seen() before
//   (lastSeen set), each node heard once a tick (every frame moves its count: the worst case);
// - the sweep at which 5,000 of the 20,000 (a starved process's share) are late: held; baseline: the same sweep
//   losing them (the hold's floor out of reach), which is what ran before.
// `npm run build && node dist/bench/hold-cost.js`; HOLD_ROUNDS (default 7).
import { Coordinator } from '../coordinator/coordinator.js';
import { MemoryStorage } from '../coordinator/gcs/memory-storage.js';
import type { NodeRecord } from '../coordinator/gcs/tables.js';
import type { Session } from '../coordinator/session.js';
import { loadavg } from 'node:os';
import { emit, log, pairedFigure } from './figures.js';

const NODES = 20_000;
const LATE = 5000;
const HEARTBEAT_MS = 1000;
const DEAD_MS = 5000;
const ROUNDS = Math.max(1, Number(process.env.HOLD_ROUNDS ?? 7) | 0);

const realNow = Date.now;
let clock = realNow();
Date.now = () => clock;

function world(minNodes: number): { c: Coordinator; nodes: NodeRecord[] } {
  const c = new Coordinator({ storage: new MemoryStorage(), heartbeatMs: HEARTBEAT_MS, deadAfterMs: DEAD_MS, hold: { minNodes } });
  const nodes = Array.from({ length: NODES }, (_, i) => {
    const s = { label: `n${i}`, send() {}, fail() {} } as unknown as Session;
    return c.membership.join(s, { kind: 'edge', name: `n${i}`, resources: { cpu: 1 }, storeBytes: 0 });
  });
  return { c, nodes };
}

const sweep = (c: Coordinator) => (c.membership as unknown as { sweep(): void }).sweep();

/** ms for `fn`. */
function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function frames(): { seen: number[]; bare: number[] } {
  const { c, nodes } = world(10);
  const seen: number[] = [];
  const bare: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    clock += HEARTBEAT_MS / 2;
    seen.push((timed(() => nodes.forEach((n) => c.membership.seen(n))) * 1e6) / NODES);
    clock += HEARTBEAT_MS / 2;
    bare.push((timed(() => nodes.forEach((n) => (n.lastSeen = Date.now()))) * 1e6) / NODES);
  }
  c.close();
  return { seen, bare };
}

/** The sweep at which LATE of NODES are past their deadline (the others heard a tick ago), in ms. */
function lateSweep(minNodes: number): { ms: number; held: number; lost: number } {
  const { c, nodes } = world(minNodes);
  const joined = clock;
  // Sweeps a tick apart (a longer gap reads as our own stall), the others heard at each, until the late ones' deadline.
  while (clock + HEARTBEAT_MS / 2 < joined + DEAD_MS) {
    clock += HEARTBEAT_MS / 2;
    for (let i = LATE; i < NODES; i++) c.membership.seen(nodes[i]);
    sweep(c);
  }
  clock = joined + DEAD_MS + HEARTBEAT_MS / 2;
  const k = c.membership.counts;
  const before = k.nodesLostSilent;
  const ms = timed(() => sweep(c));
  const out = { ms, held: c.membership.hold.size, lost: k.nodesLostSilent - before };
  c.close();
  return out;
}

const f = frames();
emit(pairedFigure('hold: a frame at 20,000 nodes (seen + silence count), baseline lastSeen only', f.seen, f.bare, 'ns'));
const held: number[] = [];
const lost: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const h = lateSweep(10);
  const l = lateSweep(1e9);
  if (h.held !== LATE || l.lost !== LATE) throw new Error(`expected ${LATE} held and ${LATE} lost, got ${h.held} held, ${l.lost} lost`);
  held.push(h.ms);
  lost.push(l.ms);
}
emit(pairedFigure(`hold: the sweep with ${LATE} of ${NODES} late, held; baseline lost (before the hold)`, held, lost, 'ms'));
log(
  `load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
Date.now = realNow;
