// What a coordinator's heap holds per connected node (issue 14, session 38), from two V8 heap snapshots of one
// process (bench:scale with SCALE_HEAP_SNAPSHOT writes n<N>-empty and n<N>-joined, after full GCs):
//
//   node dist/bench/heap-holders.js <before.heapsnapshot> <after.heapsnapshot> <nodes> [top]
//
// Prints, per node ((after - before) / nodes), the bytes and objects by constructor (shallow size, as DevTools'
// comparison view), and by holder: each object's bytes go to the nearest object of a named class above it on a
// shortest path from the GC roots (a spanning tree of the strong edges; a plain Object, Array, Map, Set or V8
// internal is not a holder), so a Session's socket buffers count to the Session and a closure's context to the
// class whose field holds the closure. One JSON line per table on stdout, a table on stderr.
import { readFileSync } from 'node:fs';

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface Tally {
  bytes: number;
  count: number;
}

/** Kinds of object whose bytes belong to whoever holds them: containers (V8's own, `(…)` and `system / …`, and closures are left out by isHolder). */
const NOT_A_HOLDER = new Set(['Object', 'Array', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Function']);

/** One snapshot's objects: the class of each (its group name) and its shallow size, with the strong edges between them. */
export class HeapGraph {
  readonly names: string[] = [];
  readonly sizes: number[] = [];
  readonly firstEdge: number[] = [];
  private readonly raw: RawSnapshot;
  private readonly nodeFields: number;
  private readonly edgeFields: number;

  constructor(text: string) {
    this.raw = JSON.parse(text) as RawSnapshot;
    const meta = this.raw.snapshot.meta;
    this.nodeFields = meta.node_fields.length;
    this.edgeFields = meta.edge_fields.length;
    const [type, name, size, edges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
    const types = meta.node_types[0];
    let e = 0;
    for (let i = 0; i < this.raw.nodes.length; i += this.nodeFields) {
      const t = types[this.raw.nodes[i + type]];
      const n = this.raw.strings[this.raw.nodes[i + name]];
      this.names.push(groupName(t, n));
      this.sizes.push(this.raw.nodes[i + size]);
      this.firstEdge.push(e);
      e += this.raw.nodes[i + edges] * this.edgeFields;
    }
    this.firstEdge.push(e);
  }

  /** Bytes and objects by class. */
  byClass(): Map<string, Tally> {
    const out = new Map<string, Tally>();
    for (let i = 0; i < this.names.length; i++) add(out, this.names[i], this.sizes[i]);
    return out;
  }

  /** Bytes and objects by holder (see the file's head): a breadth-first walk from the root over strong edges. */
  byHolder(withClass = false): Map<string, Tally> {
    const meta = this.raw.snapshot.meta;
    const [etype, eto] = ['type', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
    const weak = meta.edge_types[0].indexOf('weak');
    const shortcut = meta.edge_types[0].indexOf('shortcut');
    const holder = new Int32Array(this.names.length).fill(-1);
    const out = new Map<string, Tally>();
    const queue = new Int32Array(this.names.length);
    let head = 0;
    let tail = 0;
    // Node 0 is the synthetic root; its children (the GC roots' groups) hold nothing of their own.
    holder[0] = 0;
    queue[tail++] = 0;
    while (head < tail) {
      const i = queue[head++];
      const own = this.isHolder(i) ? i : holder[i];
      for (let e = this.firstEdge[i]; e < this.firstEdge[i + 1]; e += this.edgeFields) {
        const t = this.raw.edges[e + etype];
        if (t === weak || t === shortcut) continue;
        const j = this.raw.edges[e + eto] / this.nodeFields;
        if (holder[j] !== -1) continue;
        holder[j] = own;
        queue[tail++] = j;
      }
    }
    for (let i = 1; i < this.names.length; i++) {
      if (holder[i] === -1) continue; // unreachable: garbage the snapshot still listed
      const h = this.isHolder(i) ? this.names[i] : this.names[holder[i]];
      add(out, withClass ? `${h} > ${this.names[i]}` : h, this.sizes[i]);
    }
    return out;
  }

  private isHolder(i: number): boolean {
    const n = this.names[i];
    return i !== 0 && !n.startsWith('(') && !n.startsWith('system /') && !n.startsWith('closure ') && !NOT_A_HOLDER.has(n);
  }
}

/** The group of a node: objects by constructor, closures by function name, the rest by V8's type. */
export function groupName(type: string, name: string): string {
  if (type === 'object' || type === 'native') return name.startsWith('system /') ? name : name.split(' ')[0] || '(anonymous object)';
  if (type === 'closure') return `closure ${name || '(anonymous)'}`;
  if (type === 'hidden' || type === 'object shape') return name.startsWith('system /') ? name : `(${type})`;
  if (type === 'synthetic') return `(synthetic) ${name}`;
  return `(${type})`;
}

function add(into: Map<string, Tally>, key: string, bytes: number): void {
  const t = into.get(key);
  if (t) {
    t.bytes += bytes;
    t.count++;
  } else into.set(key, { bytes, count: 1 });
}

/** `after - before` per node, largest bytes first; and the totals. */
export function perNode(before: Map<string, Tally>, after: Map<string, Tally>, nodes: number): { rows: [string, Tally][]; total: Tally } {
  const rows: [string, Tally][] = [];
  const total = { bytes: 0, count: 0 };
  for (const [k, a] of after) {
    const b = before.get(k) ?? { bytes: 0, count: 0 };
    const d = { bytes: (a.bytes - b.bytes) / nodes, count: (a.count - b.count) / nodes };
    total.bytes += d.bytes;
    total.count += d.count;
    rows.push([k, d]);
  }
  for (const [k, b] of before) if (!after.has(k)) rows.push([k, { bytes: -b.bytes / nodes, count: -b.count / nodes }]);
  rows.sort((x, y) => y[1].bytes - x[1].bytes);
  return { rows, total };
}

function main(): void {
  const [beforePath, afterPath, nodesArg, topArg] = process.argv.slice(2);
  const nodes = Number(nodesArg);
  if (!beforePath || !afterPath || !Number.isInteger(nodes) || nodes <= 0)
    throw new Error('usage: heap-holders <before.heapsnapshot> <after.heapsnapshot> <nodes> [top]');
  const top = Number(topArg ?? 15);
  const before = new HeapGraph(readFileSync(beforePath, 'utf8'));
  const after = new HeapGraph(readFileSync(afterPath, 'utf8'));
  for (const [what, b, a] of [
    ['class', before.byClass(), after.byClass()],
    ['holder', before.byHolder(), after.byHolder()],
    ['holder > class', before.byHolder(true), after.byHolder(true)],
  ] as const) {
    const { rows, total } = perNode(b, a, nodes);
    const shown = rows.slice(0, top).map(([k, t]) => ({ name: k, bytes: Math.round(t.bytes), objects: Math.round(t.count * 100) / 100 }));
    console.log(JSON.stringify({ by: what, nodes, bytesPerNode: Math.round(total.bytes), objectsPerNode: Math.round(total.count * 100) / 100, top: shown }));
    console.error(`by ${what}: ${Math.round(total.bytes)} bytes, ${total.count.toFixed(1)} objects a node; the top ${top}:`);
    for (const r of shown) console.error(`  ${String(r.bytes).padStart(6)} B ${String(r.objects).padStart(6)} obj  ${r.name}`);
  }
}

if (process.argv[1]?.endsWith('heap-holders.js')) main();
