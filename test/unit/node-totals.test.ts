// Running totals of a coordinator's own nodes (issue 14, coordinator/nodes/totals.ts):
// the mesh's record (every 500 ms) and its agents' offers (every 250 ms) read
// them instead of walking 20,000 node records. Whatever happens to the nodes
// (joins, leaves with tasks in flight, tasks placed, ended, blocked and handed
// back, actors, pauses and executor counts, other coordinators' links that
// come and go) the totals equal a walk of the node table.
// White-box: a real Coordinator (in-memory GCS), nodes joined through membership with stand-in sessions.
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import type { NodeRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import { actorHeld, block, place, unplace } from '../../coordinator/nodes/load.js';
import { newJobId } from '../../shared/ids.js';
import { fakeSession } from '../helpers/node-record.js';
import { taskRecord } from '../helpers/task-record.js';
import { seeded } from '../sim/net.js';

let c: Coordinator | null = null;
afterEach(() => {
  c?.close();
  c = null;
});

/** A walk of every node record, as selfInfo and ownCpus did before. */
function walk(co: Coordinator): { nodes: number; cpus: number; load: number } {
  let nodes = 0;
  let cpus = 0;
  let load = 0;
  for (const n of co.gcs.nodes.values()) {
    if (n.link !== undefined) continue;
    nodes++;
    cpus += n.resources.cpu ?? 0;
    load += n.inflightTasks;
  }
  return { nodes, cpus, load };
}

function totals(co: Coordinator): { nodes: number; cpus: number; load: number } {
  const { nodes, cpus, load } = co.membership.totals;
  return { nodes, cpus, load };
}

describe("running totals of a coordinator's own nodes", () => {
  it('match a walk of the node table across joins, leaves, tasks, blocks, actors, pauses and links', () => {
    const co = (c = new Coordinator({ storage: new MemoryStorage() }));
    const rnd = seeded(14);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
    const job = newJobId();
    let made = 0;
    const placed = new Map<NodeRecord, TaskRecord[]>();
    const blocked = new Set<TaskRecord>();
    const actors = new Map<NodeRecord, number>();
    let joins = 0;
    const join = (link: boolean): NodeRecord => {
      const name = `n${joins++}`;
      const s = fakeSession(name, { send() {}, fail() {}, meshLink: link ? `c${name}` : undefined });
      const n = co.membership.join(s, { kind: 'edge', name, resources: { cpu: 1 + Math.floor(rnd() * 8) }, storeBytes: 0 });
      placed.set(n, []);
      return n;
    };
    const alive = () => [...co.gcs.nodes.values()];
    for (let i = 0; i < 50; i++) join(i % 10 === 0);
    const ops: Record<string, () => void> = {
      join: () => void join(rnd() < 0.1),
      leave: () => {
        // Leaves with its tasks in flight; they are handed back from it afterwards (as the task manager does).
        const n = pick(alive());
        co.membership.remove(n, 'test');
        for (const t of placed.get(n)!) {
          if (blocked.delete(t)) block(n, 1, false);
          unplace(n, t);
        }
        placed.set(n, []);
      },
      place: () => {
        const n = pick(alive());
        const t = taskRecord(job, made++, 'f');
        place(n, t);
        placed.get(n)!.push(t);
      },
      end: () => {
        const n = pick(alive());
        const t = placed.get(n)!.pop();
        if (!t) return;
        if (blocked.delete(t)) block(n, 1, false);
        unplace(n, t);
      },
      block: () => {
        const n = pick(alive());
        const t = pick(placed.get(n)!.length ? placed.get(n)! : [undefined]);
        if (!t) return;
        const was = blocked.has(t);
        if (was) blocked.delete(t);
        else blocked.add(t);
        block(n, 1, !was);
      },
      actor: () => {
        const n = pick(alive());
        const up = (actors.get(n) ?? 0) === 0 || rnd() < 0.5;
        actors.set(n, (actors.get(n) ?? 0) + (up ? 1 : -1));
        actorHeld(n, 1, 0, up ? 1 : -1);
      },
      capacity: () => {
        // A tab pauses (offers no CPU: a drain), resumes, or changes its executor count.
        const n = pick(alive());
        const paused = rnd() < 0.3;
        co.membership.capacity(n, { t: 'capacity', cpus: Math.floor(rnd() * 16), paused });
      },
    };
    const kinds = Object.keys(ops);
    let steps = 0;
    for (let i = 0; i < 5000; i++) {
      const k = pick(kinds);
      if ((k === 'leave' && alive().length < 10) || alive().length === 0) continue;
      ops[k]();
      steps++;
      expect(totals(co), `after step ${i} (${k})`).toEqual(walk(co));
    }
    expect(steps).toBeGreaterThan(4000);
    // Something was counted: nodes with tasks in flight and CPUs, links left out.
    const w = walk(co);
    expect(w.nodes).toBeGreaterThan(0);
    expect(w.load).not.toBe(0);
    expect(co.membership.links).toBeGreaterThan(0);
    // Every node leaves: nothing is left counted.
    for (const n of alive()) co.membership.remove(n, 'end');
    expect(totals(co)).toEqual({ nodes: 0, cpus: 0, load: 0 });
  });
});
