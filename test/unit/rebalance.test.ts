// Work stealing (coordinator/scheduler/rebalance.ts): which nodes are asked to
// hand back queued tasks, and how many. White-box: a NodeIndex of hand-made
// node records, a seeded random generator and a fake clock.
import { describe, expect, it, vi } from 'vitest';
import { nodeRecord } from '../helpers/node-record.js';
import type { JobRecord, NodeRecord } from '../../coordinator/gcs/tables.js';
import { NodeIndex } from '../../coordinator/scheduler/node-index.js';
import { JoinOrder } from '../../coordinator/scheduler/join-order.js';
import { ASK_MIN_MS, oldestTaskMs, REBALANCE_MAX_MS, REBALANCE_MS, Rebalancer, STALLED_MS, stalledIn } from '../../coordinator/scheduler/rebalance.js';
import { chargeMembers } from '../../coordinator/nodes/load.js';
import type { FunctionId } from '../../shared/ids.js';
import { takesHandedBack } from '../../coordinator/scheduler/placement-rules.js';
import type { Gcs } from '../../coordinator/gcs/gcs.js';
import { seeded } from '../sim/net.js';

function node(name: string, cpu: number, inflightTasks: number, actorCpu = 0): NodeRecord {
  return nodeRecord(name, { resources: { cpu }, inflight: { cpu: inflightTasks }, inflightTasks, actorCpu, joinedAt: 0, lastSeen: 0 });
}

class Rig {
  readonly index = new NodeIndex();
  readonly asked = new Map<NodeRecord, number>();
  clock = 0;
  readonly rb = new Rebalancer(
    this.index,
    (n, k) => this.asked.set(n, (this.asked.get(n) ?? 0) + k),
    seeded(7),
    () => this.clock,
  );
  add(...nodes: NodeRecord[]): NodeRecord[] {
    for (const n of nodes) this.index.add(n);
    return nodes;
  }
  total(): number {
    let s = 0;
    for (const k of this.asked.values()) s += k;
    return s;
  }
}

describe('work stealing: who is asked for what', () => {
  it('a node joins a mesh whose queues are full: loaded nodes are asked for what they hold past the level, never more than the newcomer lacks', () => {
    const r = new Rig();
    const busy = r.add(...Array.from({ length: 9 }, (_, i) => node(`b${i}`, 2, 40)));
    const [fresh] = r.add(node('new', 2, 0));
    r.rb.check();
    expect(r.asked.has(fresh)).toBe(false);
    expect(r.total()).toBeGreaterThan(0);
    // Level: 360 tasks over 20 CPUs = 18 per CPU; the newcomer lacks 36; each busy node holds 4 past it.
    expect(r.total()).toBeLessThanOrEqual(36);
    for (const [n, k] of r.asked) {
      expect(busy).toContain(n);
      expect(k).toBeLessThanOrEqual(4);
    }
  });

  it('at the tail of a job, busy nodes give back everything not running to the idle ones', () => {
    const r = new Rig();
    const [deep] = r.add(node('deep', 1, 9));
    r.add(...Array.from({ length: 5 }, (_, i) => node(`idle${i}`, 1, 0)));
    r.rb.check();
    // It runs one task; the 8 queued behind it go to the 5 idle nodes, one each.
    expect([...r.asked]).toEqual([[deep, 5]]);
  });

  it('nothing is asked when no node has a free CPU, when queues hold only running tasks, or of a paused node', () => {
    const full = new Rig();
    full.add(node('a', 2, 10), node('b', 2, 2));
    full.rb.check();
    expect(full.total()).toBe(0);

    const running = new Rig();
    running.add(node('a', 2, 2), node('b', 2, 2), node('c', 2, 0));
    running.rb.check();
    expect(running.total()).toBe(0);

    // A paused node offers no CPU: it is not idle, however empty.
    const paused = new Rig();
    paused.add(node('p', 0, 0), node('b', 1, 6));
    paused.rb.check();
    expect(paused.total()).toBe(0);

    // A node whose CPUs live actors hold is neither idle nor a giver.
    const actors = new Rig();
    actors.add(node('act', 2, 2, 2), node('idle', 2, 0));
    actors.rb.check();
    expect(actors.total()).toBe(0);
  });

  it('rounds are REBALANCE_MS apart: a node asked once is not asked again before its answer can arrive', () => {
    const r = new Rig();
    const [deep] = r.add(node('deep', 1, 9), node('idle', 1, 0));
    r.rb.check();
    r.clock += REBALANCE_MS / 2;
    r.rb.check();
    // Level: 9 tasks over 2 CPUs; the idle node lacks 4.
    expect(r.asked.get(deep)).toBe(4);
    expect(r.rb.stats.rounds).toBe(1);
    r.clock += REBALANCE_MS;
    r.rb.check();
    expect(r.rb.stats.rounds).toBe(2);
  });

  it('the idle walk and the sample stay bounded in a mesh of 20,000 nodes', () => {
    const r = new Rig();
    const nodes = r.add(...Array.from({ length: 20_000 }, (_, i) => node(`n${i}`, 1, i < 1000 ? 0 : 8)));
    expect(r.index.idle(256)).toHaveLength(256);
    expect(r.index.idle(256).every((n) => nodes.indexOf(n) < 1000)).toBe(true);
    const sample = r.index.sample(1024, seeded(3));
    expect(sample.length).toBeGreaterThan(1000);
    expect(new Set(sample).size).toBe(sample.length);
    // The level is about 7.6 per CPU: each busy node holds a fraction of a task too many, so about 4 in 10 give one.
    r.rb.check();
    expect(r.total()).toBeGreaterThan(200);
    expect(r.asked.size).toBe(r.total());
    expect(r.asked.size).toBeLessThanOrEqual(1024);
    // The round's sample array stays, its nodes do not (one that left would stay reachable).
    expect((r.rb as unknown as { sampled: unknown[] }).sampled.every((n) => n === null)).toBe(true);
  });

  it('the sample draws what a sample into a Set drew, from the same random numbers, into one array reused; the idle walk finds every idle node, again and again', () => {
    const order = new JoinOrder<{ seq: number; slot: number }>();
    const entries = Array.from({ length: 3000 }, (_, i) => ({ seq: i, slot: 0 }));
    for (const e of entries) order.add(e);
    // Holes where entries left (fewer than half: no compaction).
    for (let i = 0; i < 3000; i += 3) order.remove(entries[i]);
    // The sample before session 14 (issue 14): a Set of what was drawn, then an array of it.
    const before = (k: number, random: () => number) => {
      const out = new Set<{ seq: number }>();
      for (let i = 0; i < k * 2 && out.size < k; i++) {
        const e = entries[Math.floor(random() * 3000)];
        if (e.seq % 3 !== 0) out.add(e);
      }
      return [...out];
    };
    const out: ({ seq: number; slot: number } | null)[] = [];
    for (const [k, seed] of [
      [1024, 1],
      [1024, 2],
      [10, 3],
      [2500, 4],
      [1024, 5],
    ]) {
      const n = order.sampleInto(k, seeded(seed), out);
      const got = out.slice(0, n);
      expect(got).toEqual(before(k, seeded(seed)));
      expect(new Set(got).size).toBe(n);
      expect(order.sample(k, seeded(seed))).toEqual(got);
      // The caller empties what it read (the rebalancer does after each round).
      out.fill(null, 0, n);
    }
    const r = new Rig();
    const nodes = r.add(...Array.from({ length: 2000 }, (_, i) => node(`n${i}`, 1 + (i % 3), (i * 7919) % 5)));
    const idle = nodes.filter((n) => n.resources.cpu! > n.inflightTasks);
    expect(new Set(r.index.idle(10_000))).toEqual(new Set(idle));
    expect(new Set(r.index.idle(10_000))).toEqual(new Set(idle));
    const first = r.index.idle(100);
    expect(first).toHaveLength(100);
    expect(r.index.idle(100)).toEqual(first);
    expect(first.every((n) => idle.includes(n))).toBe(true);
  });

  it('another coordinator (a link) idle beside the only node of a coordinator whose own jobs have nothing left to run: nothing is asked back; once one has, its link may take tasks', () => {
    const counts = (submitted: number, finished: number) => ({ submitted, finished, failed: 0, cancelled: 0 });
    const jobs = new Map<string, Partial<JobRecord>>([
      ['guest', { state: 'running', guest: 'peer', counts: counts(60, 0) }],
      ['mine, all ended', { state: 'running', counts: counts(5, 5) }],
    ]);
    const r = new Rig();
    r.rb.canTake = takesHandedBack({ jobs } as unknown as Gcs);
    const [own] = r.add(node('own', 2, 60), nodeRecord('peer', { resources: { cpu: 2 }, link: 'peer' }));
    r.rb.check();
    expect(r.total()).toBe(0);
    jobs.set('mine', { state: 'running', counts: counts(5, 4) });
    r.clock += REBALANCE_MS;
    r.rb.check();
    // Level: 60 tasks over 4 CPUs; the link lacks 30.
    expect(r.asked.get(own)).toBe(30);
  });
});

describe('work stealing: only work worth moving', () => {
  function rig(taskMs: (n: NodeRecord) => number): Rig & { rb2: Rebalancer } {
    const r = new Rig() as Rig & { rb2: Rebalancer };
    r.rb2 = new Rebalancer(
      r.index,
      (n, k) => r.asked.set(n, (r.asked.get(n) ?? 0) + k),
      seeded(7),
      () => r.clock,
      taskMs,
    );
    return r;
  }

  it('nodes whose spare tasks are less than ASK_MIN_MS of work are not asked: they run them sooner than they could move', () => {
    // 9 nodes with 40 empty tasks (10 µs each) on 2 CPUs, one newcomer: 4 spare tasks each are 0.04 ms of work.
    const r = rig(() => 0.01);
    r.add(...Array.from({ length: 9 }, (_, i) => node(`b${i}`, 2, 40)));
    r.add(node('new', 2, 0));
    r.rb2.check();
    expect(r.total()).toBe(0);
  });

  it('the same queues of 5 ms tasks are asked as before; an unmeasured function counts as long', () => {
    for (const ms of [5, Infinity]) {
      const r = rig(() => ms);
      r.add(...Array.from({ length: 9 }, (_, i) => node(`b${i}`, 2, 40)));
      r.add(node('new', 2, 0));
      r.rb2.check();
      expect(r.total()).toBeGreaterThan(0);
      expect(r.total()).toBeLessThanOrEqual(36);
    }
  });

  it('rounds that find nothing worth asking come further apart, twice the gap each, up to REBALANCE_MAX_MS; a round that asks sets the gap back', () => {
    let ms = 0.01;
    const r = rig(() => ms);
    r.add(...Array.from({ length: 9 }, (_, i) => node(`b${i}`, 2, 40)));
    r.add(node('new', 2, 0));
    r.rb2.check(); // futile: 100 -> 200 ms
    ms = 5; // 4 spare tasks of 5 ms each: worth moving from now on
    r.clock += REBALANCE_MS;
    r.rb2.check();
    expect(r.total()).toBe(0);
    r.clock += REBALANCE_MS;
    r.rb2.check();
    expect(r.total()).toBeGreaterThan(0);
    // Futile rounds again: the gap grows to REBALANCE_MAX_MS and no further.
    ms = 0.01;
    for (let i = 0; i < 6; i++) {
      r.clock += REBALANCE_MAX_MS;
      r.rb2.check();
    }
    ms = 5;
    const before = r.total();
    r.clock += REBALANCE_MAX_MS - 1;
    r.rb2.check();
    expect(r.total()).toBe(before);
    r.clock += 1;
    r.rb2.check();
    expect(r.total()).toBeGreaterThan(before);
  });

  it(`a node with few spare tasks is asked only when they add up to ASK_MIN_MS (${ASK_MIN_MS} ms)`, () => {
    const r = rig((n) => (n.name === 'slow' ? ASK_MIN_MS : 0.5));
    const [slow] = r.add(node('slow', 1, 2));
    const [fast] = r.add(node('fast', 1, 2));
    r.add(node('idle', 1, 0));
    r.rb2.check();
    expect(r.asked.get(slow)).toBe(1);
    expect(r.asked.has(fast)).toBe(false);
  });
});

describe('work stealing back from a link', () => {
  it('our own node is idle while a link holds as many tasks as it offers CPUs: the link is asked for them (we never see which of them run there); an idle link takes nothing from a link', () => {
    const r = new Rig();
    const peer = nodeRecord('peer', { resources: { cpu: 2 }, inflight: { cpu: 2 }, inflightTasks: 2, link: 'peer' });
    r.rb.links = () => [peer];
    r.add(node('own', 2, 0), peer);
    r.rb.check();
    // Level: 2 tasks over 4 CPUs, at least 1 a CPU: the idle node lacks 2; by the rule for nodes the link holds none spare.
    expect(r.asked.get(peer)).toBe(2);
    expect(r.rb.stats.askedLinks).toBe(2);

    // Only another link idle: nothing is asked of this one.
    const r2 = new Rig();
    const other = nodeRecord('other', { resources: { cpu: 2 }, link: 'other' });
    const peer2 = nodeRecord('peer2', { resources: { cpu: 2 }, inflight: { cpu: 2 }, inflightTasks: 2, link: 'peer2' });
    r2.rb.links = () => [peer2, other];
    r2.add(node('own', 2, 4), peer2, other);
    r2.rb.check();
    expect(r2.asked.has(peer2)).toBe(false);
  });

  it('a check that comes too soon after a round asks for another pass once REBALANCE_MS passed', async () => {
    const index = new NodeIndex();
    let passes = 0;
    const rb = new Rebalancer(index, () => {}, seeded(7));
    rb.again = () => passes++;
    rb.check();
    rb.check();
    expect(passes).toBe(0);
    await new Promise((res) => setTimeout(res, REBALANCE_MS + 50));
    expect(passes).toBe(1);
  });
});

describe("work stealing: what a node's group members are expected to take", () => {
  // A fake GCS with one function measured at 0.01 ms a run (an empty task).
  const fn = 'f'.repeat(64) as FunctionId;
  const gcs = { functions: new Map([[fn, { runs: 10, ewmaMs: 0.01 }]]) } as unknown as Gcs;

  it('members that keep ending are expected to take the gap since the last one ended, however long the node has held some', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const n = nodeRecord('busy');
      chargeMembers(n, { cpu: 1 }, 64, 1, fn);
      // A whole job long, refilled before it drains: 32 end and 32 more come every 2 ms.
      for (let t = 0; t < 5000; t += 2) {
        vi.advanceTimersByTime(2);
        chargeMembers(n, { cpu: 1 }, 32, -1);
        chargeMembers(n, { cpu: 1 }, 32, 1, fn);
      }
      expect(n.groupMembers).toBe(64);
      // Right after an end: the function's measure, not the 5 s since the node first held members.
      expect(oldestTaskMs(gcs, n)).toBe(0.01);
      // A gap shorter than STALLED_MS is a report on its way (tens of ms under load): still the measure.
      vi.advanceTimersByTime(STALLED_MS - 1);
      expect(oldestTaskMs(gcs, n)).toBe(0.01);
      expect(stalledIn(gcs, n)).toBe(1);
      vi.advanceTimersByTime(1);
      expect(oldestTaskMs(gcs, n)).toBe(STALLED_MS);
    } finally {
      vi.useRealTimers();
    }
  });

  it('members of which none ended for long are expected to take that long (a function measured short turned long)', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const n = nodeRecord('stuck');
      chargeMembers(n, { cpu: 1 }, 8, 1, fn);
      vi.advanceTimersByTime(3);
      chargeMembers(n, { cpu: 1 }, 1, -1);
      chargeMembers(n, { cpu: 1 }, 8, 1, fn); // more placed: no progress
      vi.advanceTimersByTime(500);
      expect(oldestTaskMs(gcs, n)).toBe(500);
      expect(14 * oldestTaskMs(gcs, n)).toBeGreaterThanOrEqual(ASK_MIN_MS);
    } finally {
      vi.useRealTimers();
    }
  });

  /** A rebalancer whose nodes' members are aged by oldestTaskMs and stalledIn, on the fake clock; `again` runs a round. */
  function stealing() {
    const index = new NodeIndex();
    const asked = new Map<NodeRecord, number>();
    const rb = new Rebalancer(
      index,
      (n, k) => asked.set(n, (asked.get(n) ?? 0) + k),
      seeded(7),
      () => Date.now(),
      (n) => oldestTaskMs(gcs, n),
    );
    rb.lookAgainIn = (n) => stalledIn(gcs, n);
    const looks = { n: 0 };
    rb.again = () => {
      looks.n++;
      rb.check();
    };
    const busy = nodeRecord('busy', { resources: { cpu: 1 } });
    index.add(busy);
    index.add(nodeRecord('idle', { resources: { cpu: 1 } }));
    chargeMembers(busy, { cpu: 1 }, 64, 1, fn);
    return { rb, asked, busy, looks };
  }

  it('a node whose members end with reports tens of ms apart (a loaded machine) is not asked for its spare members of an empty function', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const { rb, asked, busy } = stealing();
      for (let t = 0; t < 2000; t += 50) {
        vi.advanceTimersByTime(50);
        chargeMembers(busy, { cpu: 1 }, 32, -1);
        chargeMembers(busy, { cpu: 1 }, 32, 1, fn);
        vi.advanceTimersByTime(40);
        rb.check();
      }
      expect(asked.size).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a node whose members stop ending is asked once STALLED_MS passed since the last ended, by a look its round asked for (no other check comes)', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const { rb, asked, busy, looks } = stealing();
      vi.advanceTimersByTime(50);
      rb.check();
      expect(asked.size).toBe(0);
      vi.advanceTimersByTime(STALLED_MS - 50 - 1);
      expect(asked.size).toBe(0);
      vi.advanceTimersByTime(REBALANCE_MS);
      expect(looks.n).toBeGreaterThan(0);
      expect(asked.get(busy)).toBeGreaterThan(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
