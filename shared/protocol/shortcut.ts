// Result shortcuts (issue 14, session 14): a node sends a small result of a
// plain task straight to the task's driver over their peer link, beside its
// `done` to the coordinator, and the driver's `get` resolves from it. The
// coordinator stays the authority (its record and lineage are unchanged; the
// `done` says the result went, so it sends the driver no `ready`); it grants each shortcut in the assign with a tag that only it
// and the job's driver can make: the first TAG_BYTES of SHA-256(job secret,
// task id, attempt, node id), all of fixed length. The driver recomputes it
// with the link's peer (the signalling relay vouched for it), so a node can
// shortcut only a task the coordinator assigned to it, under that attempt.
import { fromHex, hexInto, idDigest, NODE_ID_BYTES, TASK_ID_BYTES, type NodeId, type TaskId } from '../ids.js';

/** Bytes of a shortcut tag (hex in the assign, binary on the link). */
export const TAG_BYTES = 16;
/** The job secret's bytes (coordinator/jobs/job-manager.ts makes 24). */
const SECRET_BYTES = 24;
const MSG_BYTES = SECRET_BYTES + TASK_ID_BYTES + 4 + NODE_ID_BYTES;

/**
 * A plain task's tag needs a job with at most this many tasks in flight: a
 * driver waiting on few tasks gains a hop; a batch gains nothing (it waits on
 * throughput, and a shortcut is a second copy of the result to send and read),
 * and nodes would open links to its driver by the hundred.
 */
export const SHORTCUT_MAX_IN_FLIGHT = 4;

/** One job's key: its secret's bytes, parsed once. */
export class ShortcutKey {
  private readonly buf = new Uint8Array(MSG_BYTES);
  readonly ok: boolean;

  constructor(secret: string) {
    this.ok = /^[0-9a-f]{48}$/.test(secret);
    if (this.ok) this.buf.set(fromHex(secret));
  }

  /** The tag of `taskId` under `attempt` on node `node`, as bytes (a view of a fresh digest). */
  tag(taskId: TaskId, attempt: number, node: NodeId): Uint8Array {
    const b = this.buf;
    hexInto(b, SECRET_BYTES, taskId, TASK_ID_BYTES);
    new DataView(b.buffer).setUint32(SECRET_BYTES + TASK_ID_BYTES, attempt >>> 0, true);
    hexInto(b, SECRET_BYTES + TASK_ID_BYTES + 4, node, NODE_ID_BYTES);
    return idDigest(b).subarray(0, TAG_BYTES);
  }

  /** Whether `tag` is the one of `taskId`, `attempt`, `node` (all of its bytes compared). */
  matches(tag: Uint8Array, taskId: TaskId, attempt: number, node: NodeId): boolean {
    if (!this.ok || tag.byteLength !== TAG_BYTES) return false;
    const want = this.tag(taskId, attempt, node);
    let diff = 0;
    for (let i = 0; i < TAG_BYTES; i++) diff |= want[i] ^ tag[i];
    return diff === 0;
  }
}
