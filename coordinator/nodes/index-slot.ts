// Which scheduler index files a node: a field of its record (a WeakMap keyed by the record was an ephemeron per node
// that every full GC handles apart, session 38), written here because only coordinator/nodes/ writes node records
// (issue 12); the index (scheduler/node-index.ts) says when it files and unfiles a node.
import type { NodeRecord } from '../gcs/tables.js';

/** `n` is filed in `index` from now: its load changes re-file it there (node-index.ts touchNode). */
export function filedIn(n: NodeRecord, index: NonNullable<NodeRecord['index']>): void {
  n.index = index;
}

/** `n` left `index`: no longer re-filed there (a node filed since in another index keeps that one). */
export function unfiledFrom(n: NodeRecord, index: NonNullable<NodeRecord['index']>): void {
  if (n.index === index) n.index = undefined;
}
