// Which nodes changed (issue 14): the writers of node records (load.ts,
// membership.ts) mark a node here when its load, counts, resources or
// membership change, so that a reader (the dashboard's node views) works on
// what changed since it last looked, not on every node of the mesh.
import type { NodeRecord } from '../gcs/tables.js';

/** `n`'s load, counts or resources changed (a read when it is marked already: this runs twice per task). */
export function nodeChanged(n: NodeRecord): void {
  if (n.changed === true) return;
  n.feed?.mark(n);
}

export class NodeChanges {
  private dirty: NodeRecord[] = [];

  /** A node joined: its changes come here (and it counts as changed). */
  watch(n: NodeRecord): void {
    n.feed = this;
    this.mark(n);
  }

  mark(n: NodeRecord): void {
    if (n.changed === true) return;
    n.changed = true;
    this.dirty.push(n);
  }

  /** A node left: changed once more (the reader sees it gone), then no longer followed. */
  gone(n: NodeRecord): void {
    this.mark(n);
    if (n.feed === this) n.feed = undefined;
  }

  /** The nodes changed since the last take, each once, whatever the number of its changes (the feed's own list: no copy). */
  take(): NodeRecord[] {
    const out = this.dirty;
    for (const n of out) n.changed = false;
    this.dirty = [];
    return out;
  }

  get pending(): number {
    return this.dirty.length;
  }
}
