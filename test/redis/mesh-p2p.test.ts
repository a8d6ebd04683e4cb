// Objects across coordinators (issue 15): a MapReduce whose map outputs live
// on a node of coordinator A is reduced on a node of coordinator B. The
// reader's locate reaches A through the mesh, the two nodes' link signals
// cross the mesh bus, and the map outputs move node to node: neither relay
// carries them. With peer links off the relays carry them, exactly as well.
import { afterAll, describe, expect, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { cleanupProcesses, kill, redisCoordinator, stats, type Coord } from '../helpers/processes.js';
import { nodeEach, untilIdle } from '../helpers/mesh.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { ChildProcess } from 'node:child_process';

let mesh: Mesh | undefined;
// One pair of coordinator processes for the file, fresh node processes for each case (they differ by env): 2 + 6
// process starts, not 12. A case ends its nodes; the next starts once both coordinators count none and no job
// (untilIdle), and reads the counters as differences from where it starts.
let nodes: { proc: ChildProcess }[] = [];
const redis = useRedis(async () => {
  await mesh?.close().catch(() => {});
  mesh = undefined;
  await Promise.all(nodes.splice(0).map((n) => kill(n)));
}, false);
afterAll(() => cleanupProcesses());
const token = 'p2p-' + Math.random().toString(36).slice(2);
let pair: Promise<[Coord, Coord]> | undefined;

const MAPS = 8;
const REDUCERS = 4;
// Reducers are soft-pinned to the link to B: a soft pin waits for its busy node (Ray's) and a link never hands it back
// (session 21), so B runs all of them, and its node reads every map output across the coordinators, which is what
// these cases check.
const FLOATS = 25_600; // 200 KiB a map output: stored on its node, never inline
const OUTPUT_BYTES = FLOATS * 8;

function expected(): number[] {
  let total = 0;
  for (let k = 0; k < MAPS; k++) for (let i = 0; i < FLOATS; i++) total += k * 1000 + (i % 97);
  return Array.from({ length: REDUCERS }, (_, r) => r + total);
}

/** Maps pinned to A's own node, reducers to B (A's link to it: B places them on its node). */
async function mapReduceAcross(m: Mesh): Promise<number[]> {
  // B's link offers B's CPUs once B's record says its node joined (every beat): before that a soft pin to it has no
  // room and falls back to A (the reducers all ran on A once in CI, session 38).
  let nodes = await m.nodes();
  for (let i = 0; i < 200 && !nodes.some((n) => n.name.startsWith('coordinator ') && (n.resources.cpu ?? 0) > 0); i++) {
    await new Promise((r) => setTimeout(r, 50));
    nodes = await m.nodes();
  }
  const own = nodes.filter((n) => !n.name.startsWith('coordinator '));
  const link = nodes.filter((n) => n.name.startsWith('coordinator '));
  expect(own).toHaveLength(1);
  expect(link).toHaveLength(1);
  const map = m.remote((k: number, n: number) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = k * 1000 + (i % 97);
    return out;
  });
  const reduce = m.remote((r: number, ...parts: Float64Array[]) => parts.reduce((s, p) => s + p.reduce((x, y) => x + y, 0), r));
  const maps = Array.from({ length: MAPS }, (_, k) => map.options({ scheduling: { node: own[0].nodeId, soft: false } }).remote(k, FLOATS));
  const reduces = Array.from({ length: REDUCERS }, (_, r) => reduce.options({ scheduling: { node: link[0].nodeId, soft: true } }).remote(r, ...maps));
  return m.get(reduces, { timeoutMs: 120_000 });
}

/**
 * The file's two coordinators, idle, with a node each whose process starts with `env` set (it inherits it; this
 * process's is put back); their counters as the case starts.
 */
async function twoWithNodeEnv(env: Record<string, string>) {
  const [a, b] = await (pair ??= Promise.all([redisCoordinator(redis.server.url, 'p2p', token), redisCoordinator(redis.server.url, 'p2p', token)]));
  await untilIdle([a, b], token, 0);
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    nodes = await nodeEach(a, b, token);
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const [sa0, sb0] = [(await stats(a.url, token))!, (await stats(b.url, token))!];
  /** The counters of `a` and `b` now, less what they were as the case started. */
  const since = async () => {
    const [sa, sb] = [(await stats(a.url, token))!, (await stats(b.url, token))!];
    const less = (s: Record<string, number>, s0: Record<string, number>) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v - (s0[k] ?? 0)]));
    return [less(sa, sa0), less(sb, sb0)];
  };
  return { a, since };
}

describe('objects across coordinators', () => {
  it("a MapReduce whose map outputs live on A's node, reduced on B's node, moves them node to node: neither relay carries them", async () => {
    const { a, since } = await twoWithNodeEnv({});
    mesh = await connect({ url: a.url, token });
    expect(await mapReduceAcross(mesh)).toEqual(expected());
    const [sa, sb] = await since();
    // B ran the reducers; its node read every map output from A's node over a link.
    expect(sb.tasksFinished).toBeGreaterThanOrEqual(REDUCERS); // reducers soft-pinned to B's link stay with it
    expect(sb.bytesPeer).toBeGreaterThanOrEqual(MAPS * OUTPUT_BYTES);
    expect(sa.bytesRelayed).toBeLessThan(OUTPUT_BYTES);
    expect(sb.bytesRelayed).toBeLessThan(OUTPUT_BYTES);
    // B asked A for the holders; the reader's offer crossed the bus to A's node (between two Node
    // processes it carries the TCP fast-link offer, which A's node answers by connecting: no signal back).
    expect(sb.meshLocates).toBeGreaterThan(0);
    expect(sb.meshSignalsOut).toBeGreaterThan(0);
    expect(sa.meshSignalsIn).toBeGreaterThan(0);
    expect(sa.meshSignalsRefused + sb.meshSignalsRefused).toBe(0);
  }, 180_000);

  it('over WebRTC (fast links off), the answer and candidates cross back: A routes them to the reader it heard from', async () => {
    const { a, since } = await twoWithNodeEnv({ TABMESH_FAST_LINKS: '0' });
    mesh = await connect({ url: a.url, token });
    expect(await mapReduceAcross(mesh)).toEqual(expected());
    const [sa, sb] = await since();
    expect(sb.bytesPeer).toBeGreaterThanOrEqual(MAPS * OUTPUT_BYTES);
    expect(sa.bytesRelayed + sb.bytesRelayed).toBeLessThan(OUTPUT_BYTES);
    for (const st of [sa, sb]) {
      expect(st.meshSignalsOut).toBeGreaterThan(0);
      expect(st.meshSignalsIn).toBeGreaterThan(0);
    }
  }, 180_000);

  it('with peer links off on the nodes, the same MapReduce goes through both relays and comes back exact', async () => {
    // The driver here never reads map outputs: only the nodes matter.
    const { a, since } = await twoWithNodeEnv({ TABMESH_PEERS: '0' });
    mesh = await connect({ url: a.url, token });
    expect(await mapReduceAcross(mesh)).toEqual(expected());
    const [sa, sb] = await since();
    expect(sb.tasksFinished).toBeGreaterThanOrEqual(REDUCERS); // reducers soft-pinned to B's link stay with it
    expect(sa.bytesRelayed).toBeGreaterThanOrEqual(MAPS * OUTPUT_BYTES);
    expect(sb.bytesRelayed).toBeGreaterThanOrEqual(MAPS * OUTPUT_BYTES);
    expect(sb.bytesPeer).toBe(0);
  }, 180_000);
});
