// Which nodes changed (issue 14): the writers of node records (load.ts,
// membership.ts) mark a node here when its load, counts, resources or
// membership change, so that a reader (the dashboard's node views) works on
// what changed since it last looked, not on every node of the mesh.
import type { NodeRecord } from '../gcs/tables.js';

/** Which feed a node's changes go to: load.ts marks a node without knowing its membership. */
const feeds = new WeakMap<NodeRecord, NodeChanges>();

/** `n`'s load, counts or resources changed. */
export function nodeChanged(n: NodeRecord): void {
  feeds.get(n)?.mark(n);
}

export class NodeChanges {
  private dirty = new Set<NodeRecord>();

  /** A node joined: its changes come here (and it counts as changed). */
  watch(n: NodeRecord): void {
    feeds.set(n, this);
    this.dirty.add(n);
  }

  mark(n: NodeRecord): void {
    this.dirty.add(n);
  }

  /** A node left: changed once more (the reader sees it gone), then no longer followed. */
  gone(n: NodeRecord): void {
    this.dirty.add(n);
    if (feeds.get(n) === this) feeds.delete(n);
  }

  /** The nodes changed since the last take (at most one entry per node, whatever the number of changes). */
  take(): Set<NodeRecord> {
    const d = this.dirty;
    this.dirty = new Set();
    return d;
  }

  get pending(): number {
    return this.dirty.size;
  }
}
