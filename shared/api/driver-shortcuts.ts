// A driver's side of result shortcuts (issue 14, session 14;
// shared/protocol/shortcut.ts): a node that ran one of this job's tasks sends
// its small result over their peer link; `get` resolves from it when the tag
// proves that the coordinator assigned that task, under that attempt, to that
// node. The node's `done` says the result went, so the coordinator holds its
// `ready` back until this driver says `took` (session 15: riding on a frame
// sent anyway), or sends it late: a node's word is not proof. A refused
// shortcut, or a link that closes, asks again at once.
import { isPutObject, taskOfObject, type NodeId, type ObjectId, type TaskId } from '../ids.js';
import type { MsgOf } from '../protocol/messages.js';
import { ShortcutKey } from '../protocol/shortcut.js';
import type { Shortcut } from '../transfer/wire.js';
import type { ObjectClient } from './object-client.js';

/**
 * A `took` that found no frame to ride on goes alone after this long: well
 * before the coordinator's ACK_WAIT_MS (coordinator/objects/shortcut-acks.ts),
 * so that an idle driver is not sent the values it has again.
 */
const TOOK_ALONE_MS = 200;
/** Ids a `took` carries at most (a frame's size stays small; more go at once). */
const TOOK_MAX_IDS = 4096;

export class DriverShortcuts {
  /** `taken`: resolved a wait or readiness here first; `late`: the object was ready already, or not held; `refused`: a bad tag or value. */
  readonly counts = { taken: 0, late: 0, refused: 0 };
  private key: ShortcutKey | null = null;
  /** Taken and not yet said to the coordinator. */
  private took: ObjectId[] = [];
  private tookTimer: ReturnType<typeof setTimeout> | null = null;
  /** The latest direct task's subscribe queued `later` (subscribeLater), while it may still be taken back. */
  private lastLater: MsgOf<'subscribe'> | null = null;

  /** `push`: a message to the coordinator, in order (a `took` alone, when no frame carried it in time). */
  constructor(
    private readonly objects: ObjectClient,
    private readonly inlineMax: () => number,
    private readonly push: (m: MsgOf<'took'>) => void,
    /** Whether this driver sent `task` straight to `peer` (driver-direct.ts): its result needs no tag. */
    private readonly sentTo: (task: TaskId, peer: string) => boolean = () => false,
    /** `later`: queues a subscribe on a later frame, and returns it if it can still be taken back (`withdraw`). */
    private readonly subscribes: { later: (m: MsgOf<'subscribe'>) => MsgOf<'subscribe'> | null; withdraw: (m: MsgOf<'subscribe'>) => boolean } = {
      later: () => null,
      withdraw: () => false,
    },
  ) {}

  /**
   * A direct task's subscribe, queued `later` (its value comes by the node's shortcut); the latest one is kept in hand
   * (one: a sequential run's, whose shortcut comes before the next task's subscribe; older ones go as before).
   */
  subscribeLater(m: MsgOf<'subscribe'>): void {
    this.lastLater = this.subscribes.later(m);
  }

  /**
   * `id`'s value came by its shortcut while its subscribe still waited for a frame: that subscribe is taken back, so
   * the coordinator is sent neither it nor a `took` (two messages a sequential task that it decoded and filed for
   * nothing, issue 14, session 25). True when it was.
   */
  private unsubscribed(id: ObjectId): boolean {
    const m = this.lastLater;
    if (m === null || m.ids[0] !== id) return false;
    this.lastLater = null;
    return this.subscribes.withdraw(m);
  }

  /** The `took` to ride on a frame being sent (the outbox's `riding`), or null. */
  riding(): MsgOf<'took'> | null {
    if (this.took.length === 0) return null;
    const m: MsgOf<'took'> = { t: 'took', ids: this.took };
    this.took = [];
    return m;
  }

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
      !((r.attempt === 0 && this.sentTo(taskOfObject(r.id), peer)) || key.matches(r.tag, taskOfObject(r.id), r.attempt, peer as NodeId))
    ) {
      this.counts.refused++;
      // The coordinator may have left its `ready` to this shortcut (the node's `done` said it went): asked again.
      this.objects.reask(r.id);
      return;
    }
    if (this.objects.onShortcut(r.id, r.v.slice())) {
      this.counts.taken++;
      if (!this.unsubscribed(r.id)) this.tookLater(r.id);
    } else this.counts.late++;
  }

  /** `id` is said taken on the next frame to the coordinator, or alone after TOOK_ALONE_MS (one timer for all, not one a result). */
  private tookLater(id: ObjectId): void {
    this.took.push(id);
    if (this.took.length >= TOOK_MAX_IDS) return this.sendTook();
    if (this.tookTimer !== null) return;
    this.tookTimer = setTimeout(() => {
      this.tookTimer = null;
      this.sendTook();
    }, TOOK_ALONE_MS);
    (this.tookTimer as { unref?: () => void }).unref?.();
  }

  private sendTook(): void {
    const m = this.riding();
    if (m) this.push(m);
  }

  /** A link closed: a shortcut it carried may be lost, so what is still waited on is asked of the coordinator again (once any came). */
  linkClosed(): void {
    if (this.counts.taken + this.counts.late + this.counts.refused > 0) this.objects.reask();
  }
}
