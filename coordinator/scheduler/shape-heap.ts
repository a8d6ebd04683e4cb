// The node index's parts (node-index.ts): a node's entry, the resource
// shapes nodes are grouped by, and each shape's min-heap by load (then join
// order).
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';

export interface Entry {
  node: NodeRecord;
  /** Join order: ties in load go to the node that joined first. */
  seq: number;
  shape: Shape;
  /** Position in its shape's heap. */
  pos: number;
  /** The load it is filed under. */
  key: number;
  /** Position in join order (for spread). */
  slot: number;
}

export interface Shape {
  key: string;
  resources: Record<string, number>;
  heap: Entry[];
}

export function shapeKey(resources: Record<string, number>): string {
  const parts: string[] = [];
  for (const r of Object.keys(resources).sort()) if (resources[r] > 0) parts.push(`${r}=${resources[r]}`);
  return parts.join(',');
}

/**
 * Whether `resources` files under the shape holding `shape` (what comparing
 * shapeKeys says, without building one: a node's load changes twice a task).
 */
export function sameShape(resources: Record<string, number>, shape: Record<string, number>): boolean {
  let left = 0;
  for (const r in shape) if (shape[r] > 0) left++;
  for (const r in resources) {
    const v = resources[r];
    if (!(v > 0)) continue;
    if (shape[r] !== v) return false;
    left--;
  }
  return left === 0;
}

export function before(a: Entry, b: Entry): boolean {
  return a.key < b.key || (a.key === b.key && a.seq < b.seq);
}

export function up(heap: Entry[], pos: number): void {
  const e = heap[pos];
  while (pos > 0) {
    const p = (pos - 1) >> 1;
    if (!before(e, heap[p])) break;
    heap[pos] = heap[p];
    heap[pos].pos = pos;
    pos = p;
  }
  heap[pos] = e;
  e.pos = pos;
}

export function down(heap: Entry[], pos: number): void {
  const e = heap[pos];
  const n = heap.length;
  for (;;) {
    const l = 2 * pos + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && before(heap[r], heap[l]) ? r : l;
    if (!before(heap[c], e)) break;
    heap[pos] = heap[c];
    heap[pos].pos = pos;
    pos = c;
  }
  heap[pos] = e;
  e.pos = pos;
}

export function shapeFits(s: Shape, t: TaskRecord): boolean {
  const req = t.spec.resources;
  for (const r in req) if (req[r] > 0 && req[r] > (s.resources[r] ?? 0)) return false;
  return true;
}
