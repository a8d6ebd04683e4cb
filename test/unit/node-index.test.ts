// The scheduler's node index (coordinator/scheduler/node-index.ts): its best-first walk of a shape's heap
// reuses one frontier array (issue 14, session 14); the node it finds must be the one a scan of every node finds.
import { describe, expect, it } from 'vitest';
import { nodeRecord } from '../helpers/node-record.js';
import type { NodeRecord } from '../../coordinator/gcs/tables.js';
import { CANDIDATES, indexLoad, NodeIndex } from '../../coordinator/scheduler/node-index.js';
import { taskRecord } from '../helpers/task-record.js';
import { newJobId } from '../../shared/ids.js';
import { seeded } from '../sim/net.js';

function node(name: string, cpu: number, inflightTasks: number, gpu = 0): NodeRecord {
  const resources: Record<string, number> = gpu ? { cpu, gpu } : { cpu };
  return nodeRecord(name, { resources, inflight: { cpu: inflightTasks }, inflightTasks, actorCpu: 0, joinedAt: 0, lastSeen: 0 });
}

describe('NodeIndex.leastLoaded', () => {
  it('in meshes of up to 256 nodes a shape, the least loaded node that fits, ties to the first joined, as a scan of every node finds it', () => {
    const random = seeded(11);
    const t = taskRecord(newJobId(), 0, 'f');
    for (let round = 0; round < 40; round++) {
      const index = new NodeIndex();
      const nodes: NodeRecord[] = [];
      const count = 1 + Math.floor(random() * 250);
      for (let i = 0; i < count; i++) {
        const n = node(`n${round}-${i}`, 1 + Math.floor(random() * 4), Math.floor(random() * 12), random() < 0.3 ? 1 : 0);
        nodes.push(n);
        index.add(n);
      }
      // Nodes that are full by some other rule (room.ts): a third at random.
      const full = new Set(nodes.filter(() => random() < 0.33));
      const fits = (n: NodeRecord) => !full.has(n);
      let best: NodeRecord | null = null;
      for (const n of nodes) if (fits(n) && (!best || indexLoad(n) < indexLoad(best))) best = n;
      expect(index.leastLoaded(t, fits)).toBe(best);
      // Again: nothing of the first walk is left in the frontier.
      expect(index.leastLoaded(t, fits)).toBe(best);
    }
  });

  it('in a larger shape it looks at CANDIDATES nodes in load order at most', () => {
    const index = new NodeIndex();
    const nodes = Array.from({ length: 2000 }, (_, i) => node(`n${i}`, 1, i % 50));
    for (const n of nodes) index.add(n);
    const looked: NodeRecord[] = [];
    const t = taskRecord(newJobId(), 0, 'f');
    expect(index.leastLoaded(t, (n) => (looked.push(n), false))).toBeNull();
    expect(looked).toHaveLength(CANDIDATES);
    // In load order: the 32 least loaded are the 40 with no task, looked at in join order.
    expect(looked.every((n) => n.inflightTasks === 0)).toBe(true);
    expect(looked).toEqual(nodes.filter((n) => n.inflightTasks === 0).slice(0, CANDIDATES));
    const free = nodes[1234];
    expect(index.leastLoaded(t, (n) => n === nodes[0] || n === free)).toBe(nodes[0]);
  });
});
