// A driver's side of result shortcuts (issue 14, session 14;
// shared/protocol/shortcut.ts): a node that ran one of this job's tasks sends
// its small result over their peer link; `get` resolves from it when the tag
// proves that the coordinator assigned that task, under that attempt, to that
// node. The node's `done` says the result went, so the coordinator sends no
// `ready` for it: a refused shortcut, or a link that closes, asks again.
import { isPutObject, taskOfObject, type NodeId } from '../ids.js';
import { ShortcutKey } from '../protocol/shortcut.js';
import type { Shortcut } from '../transfer/wire.js';
import type { ObjectClient } from './object-client.js';

export class DriverShortcuts {
  /** `taken`: resolved a wait or readiness here first; `late`: the object was ready already, or not held; `refused`: a bad tag or value. */
  readonly counts = { taken: 0, late: 0, refused: 0 };
  private key: ShortcutKey | null = null;

  constructor(
    private readonly objects: ObjectClient,
    private readonly inlineMax: () => number,
  ) {}

  /** The job's secret, from the coordinator's welcome: tags are made with it. */
  welcomed(secret: string): void {
    this.key = new ShortcutKey(secret);
  }

  /** A result from peer `peer`; its bytes are a view of the link's buffer, copied when taken. */
  onResult(peer: string, r: Shortcut): void {
    const key = this.key;
    // A task's first return only (the one a node sends), of a size that travels inline.
    if (
      !key ||
      isPutObject(r.id) ||
      !r.id.endsWith('00000000') ||
      r.v.byteLength > this.inlineMax() ||
      !key.matches(r.tag, taskOfObject(r.id), r.attempt, peer as NodeId)
    ) {
      this.counts.refused++;
      // The coordinator may have left its `ready` to this shortcut (the node's `done` said it went): asked again.
      this.objects.reask(r.id);
      return;
    }
    if (this.objects.onShortcut(r.id, r.v.slice())) this.counts.taken++;
    else this.counts.late++;
  }

  /** A link closed: a shortcut it carried may be lost, so what is still waited on is asked of the coordinator again (once any came). */
  linkClosed(): void {
    if (this.counts.taken + this.counts.late + this.counts.refused > 0) this.objects.reask();
  }
}
