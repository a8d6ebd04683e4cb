// Issue 8: protocol fuzzing. 100,000 frames (random bytes, and valid frames
// with fields changed, removed, added, truncated, oversized, of the wrong
// type) from several connections at once, as drivers, nodes and strangers.
// The coordinator never crashes, a legitimate driver's tasks keep finishing
// throughout, and memory stays bounded. TABMESH_FUZZ_FRAMES=1000000 runs longer
// (TABMESH_FUZZ_SEED repeats a run).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { Cluster } from '../helpers/cluster.js';
import { RawPeer } from './hostile.js';
import { encodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg } from '../../shared/protocol/messages.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { coreOf } from '../helpers/sequential.js';

const FRAMES = Number(process.env.TABMESH_FUZZ_FRAMES ?? 100_000);
const SEED = Number(process.env.TABMESH_FUZZ_SEED ?? Date.now() % 1_000_000);
const CONNECTIONS = 4;
const MAX_FRAME = 256 * 1024;

/** mulberry32: a small seeded generator, so a failing run can be repeated. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, structuredClone: false });

class Fuzzer {
  constructor(
    readonly r: () => number,
    /** Ids the mesh really uses, so that some messages hit live records. */
    readonly live: () => { tasks: string[]; objects: string[]; nodes: string[]; jobs: string[] },
  ) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  hex(bytes: number): string {
    let s = '';
    for (let i = 0; i < bytes * 2; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
  task(): string {
    const l = this.live().tasks;
    return l.length && this.r() < 0.5 ? this.pick(l) : this.hex(16);
  }
  object(): string {
    const l = this.live().objects;
    return l.length && this.r() < 0.5 ? this.pick(l) : this.hex(20);
  }
  peer(): string {
    const l = [...this.live().nodes, ...this.live().jobs];
    return l.length && this.r() < 0.5 ? this.pick(l) : this.hex(8);
  }
  bytes(max = 64): Uint8Array {
    const b = new Uint8Array(this.int(max));
    for (let i = 0; i < b.length; i++) b[i] = this.int(256);
    return b;
  }
  /** A value of a random type (what a mutation puts in a field). */
  junk(depth = 0): unknown {
    switch (this.int(depth > 2 ? 8 : 11)) {
      case 0:
        return null;
      case 1:
        return this.int(2) === 0;
      case 2:
        return this.int(2 ** 31) * (this.r() < 0.5 ? -1 : 1);
      case 3:
        return this.r() < 0.5 ? Number.MAX_SAFE_INTEGER : -0.5;
      case 4:
        return this.hex(this.int(40));
      case 5:
        return this.bytes(32);
      case 6:
        return 'x'.repeat(this.int(3) === 0 ? 70_000 : 10);
      case 7:
        return undefined;
      case 8:
        return Array.from({ length: this.int(4) }, () => this.junk(depth + 1));
      case 9:
        return { t: this.pick(['hello', 'done', 'submit']), x: this.junk(depth + 1) };
      default:
        return { __proto__: { polluted: true }, constructor: 'x', toString: 1 };
    }
  }
  spec(): Record<string, unknown> {
    return {
      taskId: this.task(),
      jobId: this.pick(this.live().jobs.length ? this.live().jobs : [this.hex(8)]),
      parentId: this.task(),
      fnId: this.hex(16),
      name: 'f',
      args: this.r() < 0.5 ? [{ v: this.bytes(8) }] : [{ r: this.object() }],
      nested: [],
      numReturns: this.int(3),
      resources: { cpu: this.int(2) },
      maxRetries: this.int(3),
      attempt: this.int(2),
      timeoutMs: 0,
      verify: this.r() < 0.2 ? { replicas: 1 + this.int(3) } : undefined,
    };
  }
  /** A structurally valid message of a kind a client may send. */
  valid(): Record<string, unknown> {
    const x = this.int(1000);
    const kinds: Array<() => Record<string, unknown>> = [
      () => ({ t: 'subscribe', ids: [this.object(), this.object()] }),
      () => ({ t: 'put', id: this.object(), v: this.bytes(32), size: 0, refs: [] }),
      () => ({ t: 'put', id: this.object(), size: this.int(1 << 20), hash: this.hex(32), refs: [this.object()] }),
      () => ({ t: 'submit', spec: this.spec(), local: this.r() < 0.3 }),
      () => ({ t: 'fn', f: { fnId: this.hex(16), kind: 'function', name: 'f', source: '(x) => x' } }),
      () => ({ t: 'fetch', id: this.object(), x }),
      () => ({ t: 'locate', id: this.object(), x }),
      () => ({ t: 'borrow', ids: [this.object()] }),
      () => ({ t: 'release', ids: [this.object()] }),
      () => ({ t: 'cancel', id: this.object(), force: this.r() < 0.5 }),
      () => ({ t: 'getActor', name: 'a', x }),
      () => ({ t: 'killActor', id: this.task() }),
      () => ({ t: 'signal', peer: this.peer(), data: '{"g":"1","s":{}}' }),
      () => ({ t: 'chunk', x, o: this.int(100), n: this.int(100), d: this.bytes(16) }),
      () => ({ t: 'xferFail', x, reason: 'r' }),
      () => ({ t: 'peerBytes', n: this.int(1e9) }),
      () => ({ t: 'heartbeat', running: this.int(9), queued: this.int(9), storeBytes: this.int(1e9) }),
      () => ({ t: 'started', taskId: this.task(), attempt: this.int(3) }),
      () => ({ t: 'blocked', taskId: this.task(), attempt: this.int(3), blocked: this.r() < 0.5 }),
      () => ({ t: 'done', taskId: this.task(), attempt: this.int(3), ms: this.r(), results: [{ v: this.bytes(8), refs: [] }] }),
      () => ({ t: 'done', taskId: this.task(), attempt: 0, ms: 1, results: [{ size: this.int(1e6), hash: this.hex(32), refs: [] }] }),
      () => ({
        t: 'failed',
        taskId: this.task(),
        attempt: this.int(3),
        failure: { code: 'TASK_ERROR', name: 'E', message: 'm', stack: '', functionName: 'f', taskId: this.hex(16) },
      }),
      () => ({ t: 'stored', id: this.object(), size: this.int(1e6), hash: this.hex(32) }),
      () => ({ t: 'dropped', ids: [this.object()] }),
      () => ({ t: 'log', taskId: this.task(), level: 'log', text: 'hi' }),
      // A fuzzing node offers no CPU: the legitimate driver's tasks never wait on it.
      () => ({ t: 'capacity', cpus: 0, paused: this.r() < 0.5 }),
      () => ({ t: 'handBack', tasks: [{ taskId: this.task(), attempt: 0 }] }),
      () => ({ t: 'holding', objects: [{ id: this.object(), size: this.int(1e6), hash: this.hex(32) }] }),
      () => ({ t: 'actorCheckpoint', id: this.task(), after: this.task(), state: this.bytes(8) }),
      () => ({ t: 'error', code: 'BAD_MESSAGE', message: 'y' }),
    ];
    return this.pick(kinds)();
  }
  mutate(m: Record<string, unknown>): Record<string, unknown> {
    const keys = Object.keys(m);
    const k = this.pick(keys);
    switch (this.int(5)) {
      case 0:
        return { ...m, [k]: this.junk() };
      case 1: {
        const c = { ...m };
        delete c[k];
        return c;
      }
      case 2:
        return { ...m, [this.pick(['extra', '__proto__', 'constructor', 'then'])]: this.junk() };
      case 3:
        return { ...m, t: this.pick(['hello', 'welcome', 'assign', 'ready', 'nope', 42, null]) };
      default: {
        // Deep into a nested field.
        const c = { ...m };
        const inner = c[k];
        if (inner && typeof inner === 'object' && !(inner instanceof Uint8Array)) {
          const copy: Record<string, unknown> = Array.isArray(inner) ? ([...inner] as never) : { ...inner };
          const ik = this.pick(Object.keys(copy).length ? Object.keys(copy) : ['0']);
          copy[ik] = this.junk();
          c[k] = copy;
        } else c[k] = this.junk();
        return c;
      }
    }
  }
  /** One frame: mostly valid batches (they reach the handlers), some broken ones. */
  frame(): Uint8Array {
    const p = this.r();
    if (p < 0.01) return this.bytes(200);
    if (p < 0.013) return new Uint8Array(MAX_FRAME + 1 + this.int(1000));
    if (p < 0.016) {
      // Arrays nested 5,000 deep (fixarray of one, over and over), as raw bytes.
      const deep = new Uint8Array(5002).fill(0x91);
      deep[5001] = 0xc0;
      return deep;
    }
    const n = 1 + this.int(6);
    const msgs = Array.from({ length: n }, () => (this.r() < 0.97 ? this.valid() : this.mutate(this.valid())));
    const bytes = packr.pack(msgs);
    if (p < 0.026) return bytes.subarray(0, this.int(bytes.length));
    return bytes;
  }
}

describe('protocol fuzzing', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    process.env.TABMESH_PEERS = '0';
    cl = await Cluster.start({ nodes: 1, cpus: 2, maxFrameBytes: MAX_FRAME });
    m = await cl.driver();
  }, 60_000);
  afterAll(async () => {
    delete process.env.TABMESH_PEERS;
    await cl?.stop();
  });

  it(`${FRAMES} random and mutated frames from ${CONNECTIONS} connections: no crash, a driver is served throughout, memory bounded`, async () => {
    const seed = SEED;
    console.log(`fuzz seed ${seed} (TABMESH_FUZZ_SEED=${seed} repeats it)`);
    const g = cl.c.coordinator.gcs;
    const real = [...g.nodes.values()][0];
    const live = () => ({
      tasks: [...g.tasks.keys()].slice(-50),
      objects: [...g.objects.keys()].slice(-50),
      nodes: [...g.nodes.keys()],
      jobs: [...g.jobs.keys()].slice(-10),
    });
    // The legitimate driver: tasks pinned to the real node, one after another, checked.
    const add = m.remote((a: number, b: number) => a + b, { scheduling: { node: real.id } });
    let served = 0;
    let stop = false;
    const legit = (async () => {
      while (!stop) {
        const i = served;
        expect(await m.get(add.remote(i, 1), { timeoutMs: 30_000 })).toBe(i + 1);
        served++;
      }
    })();
    const memBefore = process.memoryUsage().rss;
    let sent = 0;
    let reconnects = 0;
    const worker = async (w: number) => {
      const f = new Fuzzer(rng(seed * 31 + w), live);
      let p: RawPeer | null = null;
      while (sent < FRAMES) {
        if (!p || p.isClosed) {
          p?.close();
          p = await RawPeer.open(cl.url);
          reconnects++;
          const role = f.int(4);
          if (role === 0) p.send({ t: 'hello', role: 'driver', version: PROTOCOL_VERSION, token: cl.token });
          else if (role === 1) {
            p.send({ t: 'hello', role: 'node', version: PROTOCOL_VERSION, node: { kind: 'edge', name: `fuzz${w}`, resources: { cpu: 0 }, storeBytes: 0 } });
          } else if (role === 2) p.raw(encodeFrame([f.mutate({ t: 'hello', role: 'driver', version: PROTOCOL_VERSION, token: cl.token }) as Msg]));
          // role 3: no hello at all.
        }
        if (!p.raw(f.frame())) {
          await new Promise((r) => setTimeout(r, 1)); // closing: wait for its close event
          continue;
        }
        sent++;
        // Let the socket drain now and then: the point is the coordinator, not our buffer.
        if (sent % 20 === 0 || p.ws.bufferedAmount > 1 << 20) await new Promise((r) => setTimeout(r, p!.ws.bufferedAmount > 1 << 20 ? 5 : 0));
      }
      p?.close();
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, w) => worker(w)));
    const servedDuring = served;
    stop = true;
    await legit;
    console.log(`fuzz: ${sent} frames, ${reconnects} connections, ${Date.now() - started} ms; legitimate tasks served meanwhile: ${servedDuring}`);
    expect(sent).toBeGreaterThanOrEqual(FRAMES);
    expect(servedDuring).toBeGreaterThan(0);
    // Every fuzzing connection goes; what it made goes with it.
    await cl.until(
      () => cl.c.coordinator.sessions.size <= 2,
      20_000,
      () => `sessions: ${cl.c.coordinator.sessions.size}`,
    );
    expect([...g.nodes.values()].map((n) => n.id)).toEqual([real.id]);
    // What the fuzzers made is bounded; the legitimate driver's own results go
    // when its handles are collected, which is its GC's business, not the fuzz's.
    const legitJob = coreOf(m).jobId;
    const fuzzObjects = [...g.objects.values()].filter((o) => o.job !== legitJob).length;
    expect(fuzzObjects, `objects: ${g.objects.size} in all, ${fuzzObjects} not the legitimate driver's`).toBeLessThan(1000);
    expect(process.memoryUsage().rss - memBefore).toBeLessThan(400 << 20);
    // And the mesh still works.
    expect(await m.get(add.remote(20, 22))).toBe(42);
  }, 240_000);
});
