// A task that wrote into an argument it was lent in place (shared/write-check.ts).
// Checked when the task ends, before the node runs anything else on that
// object: a changed copy is dropped at once (from every tier; the coordinator
// hears `dropped`, so a later reader gets it again from another holder or by
// lineage, as after any loss) and never served to a peer, whose hash check
// would otherwise report this node to the trust table as a liar. The task's
// driver hears why, once per function on this node, through its task log.
import { isShared } from '../shared-memory.js';
import { fingerprint, unchanged, type Fingerprint } from '../write-check.js';
import type { ObjectId } from '../ids.js';
import type { LocalTask } from './local-task.js';
import type { CallServerContext } from './node-context.js';

/** An argument lent in place to a task's executor, and what it looked like then. */
export interface LentArg {
  i: number;
  id: ObjectId;
  bytes: Uint8Array;
  fp: Fingerprint;
}

/** TABMESH_CHECK_WRITES=1 (Node only): compare every lent argument whole, whatever its size. */
const exactMode = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TABMESH_CHECK_WRITES === '1';

/** Fingerprints of `t`'s arguments that are lent in place (shared memory; by-value and copied ones cannot be written back). */
export function noteLent(t: LocalTask, posted: Uint8Array[]): void {
  let lent: LentArg[] | undefined;
  for (let i = 0; i < posted.length; i++) {
    const id = t.spec.args[i]?.r;
    const b = posted[i];
    if (!id || !isShared(b)) continue;
    (lent ??= []).push({ i, id, bytes: b, fp: fingerprint(b, exactMode) });
  }
  t.lent = lent;
}

/** Most functions remembered as warned about (a bounded set: one warning per function is a courtesy, not state). */
const WARNED_MAX = 1024;

export class ArgWrites {
  private readonly warned = new Set<string>();
  /** Writes seen (stats, tests). */
  seen = 0;

  constructor(private readonly n: Pick<CallServerContext, 'send' | 'onEvent' | 'store' | 'closed'>) {}

  /** `t` ended (or left its executor): its lent arguments are checked and let go of. */
  check(t: LocalTask): void {
    const lent = t.lent;
    if (!lent) return;
    t.lent = undefined;
    for (const a of lent) {
      if (unchanged(a.bytes, a.fp)) continue;
      this.seen++;
      this.drop(a);
      this.warn(t, a);
    }
  }

  private drop(a: LentArg): void {
    const n = this.n;
    // Only the copy that was written: the store may hold the object again meanwhile (a new copy, other bytes). One
    // spilled since is dropped too: its tier copy may have been written after the task's write.
    if (!n.store.has(a.id)) return;
    const held = n.store.getSync(a.id);
    if (held && (held.buffer !== a.bytes.buffer || held.byteOffset !== a.bytes.byteOffset)) return;
    n.store.delete(a.id);
    if (!n.closed) n.send({ t: 'dropped', ids: [a.id] });
  }

  private warn(t: LocalTask, a: LentArg): void {
    const s = t.spec;
    const text =
      `task ${s.name} wrote into its argument ${a.i} (object ${a.id}), which is read-only: copy it first ` +
      `(\`new Float64Array(a)\`); this node dropped its changed copy`;
    this.n.onEvent(text);
    if (this.warned.has(s.fnId) || this.n.closed) return;
    if (this.warned.size >= WARNED_MAX) this.warned.clear();
    this.warned.add(s.fnId);
    const mem = t.member;
    this.n.send({ t: 'log', taskId: s.taskId, level: 'warn', text, ...(mem && { g: mem.slice.g, i: mem.i }) });
  }
}
