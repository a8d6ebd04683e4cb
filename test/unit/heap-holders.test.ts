// bench/heap-holders.ts: a heap snapshot's bytes by class and by holder, per node between two snapshots (issue 14,
// session 38). A hand-made snapshot in V8's format.
import { describe, expect, it } from 'vitest';
import { HeapGraph, perNode } from '../../bench/heap-holders.js';

const NODE_TYPES = ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic'];
const EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];

/** Nodes as [type, name, size], edges as [from, type, to] (indexes into the nodes). */
function snapshot(nodes: [string, string, number][], edges: [number, string, number][]): string {
  const strings: string[] = [];
  const str = (s: string) => (strings.includes(s) ? strings.indexOf(s) : strings.push(s) - 1);
  const flatNodes: number[] = [];
  const flatEdges: number[] = [];
  nodes.forEach(([type, name, size], i) => {
    const out = edges.filter(([from]) => from === i);
    flatNodes.push(NODE_TYPES.indexOf(type), str(name), i + 1, size, out.length);
    for (const [, t, to] of out) flatEdges.push(EDGE_TYPES.indexOf(t), str('e'), to * 5);
  });
  return JSON.stringify({
    snapshot: {
      meta: {
        node_fields: ['type', 'name', 'id', 'self_size', 'edge_count'],
        node_types: [NODE_TYPES],
        edge_fields: ['type', 'name_or_index', 'to_node'],
        edge_types: [EDGE_TYPES],
      },
    },
    nodes: flatNodes,
    edges: flatEdges,
    strings,
  });
}

describe('heap holders', () => {
  const g = new HeapGraph(
    snapshot(
      [
        ['synthetic', '', 0], // 0: the root
        ['object', 'Session', 100], // 1
        ['object', 'Outbox', 50], // 2
        ['object', 'Object', 30], // 3: a plain object: not a holder
        ['array', '', 20], // 4
        ['closure', 'send', 40], // 5
        ['object', 'Leak', 999], // 6: reached by a weak edge only
      ],
      [
        [0, 'element', 1],
        [1, 'property', 2],
        [2, 'property', 3],
        [3, 'internal', 4],
        [1, 'property', 5],
        [0, 'weak', 6],
      ],
    ),
  );

  it('bytes by class count every object, reachable or not', () => {
    const c = g.byClass();
    expect(c.get('Session')).toEqual({ bytes: 100, count: 1 });
    expect(c.get('closure send')).toEqual({ bytes: 40, count: 1 });
    expect(c.get('Leak')).toEqual({ bytes: 999, count: 1 });
  });

  it('an object counts to the nearest named class above it; plain objects, arrays and closures hold nothing; what only a weak edge reaches is left out', () => {
    const h = g.byHolder();
    expect(h.get('Session')).toEqual({ bytes: 140, count: 2 });
    expect(h.get('Outbox')).toEqual({ bytes: 100, count: 3 });
    expect(h.has('Object')).toBe(false);
    expect(h.has('Leak')).toBe(false);
    expect(g.byHolder(true).get('Outbox > (array)')).toEqual({ bytes: 20, count: 1 });
  });

  it('per node: what the later snapshot has more, divided by the nodes, largest first', () => {
    const before = new Map([['A', { bytes: 100, count: 1 }]]);
    const after = new Map([
      ['A', { bytes: 300, count: 3 }],
      ['B', { bytes: 50, count: 1 }],
    ]);
    const { rows, total } = perNode(before, after, 2);
    expect(rows).toEqual([
      ['A', { bytes: 100, count: 1 }],
      ['B', { bytes: 25, count: 0.5 }],
    ]);
    expect(total).toEqual({ bytes: 125, count: 1.5 });
  });
});
