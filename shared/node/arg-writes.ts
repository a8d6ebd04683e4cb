// A task that wrote into an argument it was lent in place (shared/write-check.ts).
// Checked when the task ends, before the node runs anything else on that
// object: a changed copy is dropped at once (from every tier; the coordinator
// hears `dropped`, so a later reader gets it again from another holder or by
// lineage, as after any loss) and never served to a peer, whose hash check
// would otherwise report this node to the trust table as a liar. The task's
// driver hears why, once per function on this node, through its task log.
import { isShared } from '../shared-memory.js';
import { fingerprint, unchanged, type Fingerprint } from '../write-check.js';
import type { ObjectId, TaskId } from '../ids.js';
import type { ViewLeases } from './view-leases.js';
import type { Msg } from '../protocol/messages.js';
import type { TaskSpec } from '../protocol/task.js';
import type { ObjectStore } from './store.js';

/** What a task that lends is (local-task.ts's LocalTask; its own shape here: that module imports this one). */
export interface LendingTask {
  spec: Pick<TaskSpec, 'args' | 'name' | 'fnId' | 'taskId'>;
  member?: { slice: { g: TaskId }; i: number };
  lent?: LentArg[];
}

/** What the check needs of its node (node-context.ts's CallServerContext has it). */
export interface ArgWritesNode {
  send(m: Msg): void;
  onEvent(text: string): void;
  readonly store: ObjectStore;
  readonly closed: boolean;
}

/** An argument lent in place to a task's executor, and what it looked like then. */
export interface LentArg {
  i: number;
  id: ObjectId;
  bytes: Uint8Array;
  fp: Fingerprint;
}

/** Who lent an argument (not its LocalTask: a check after its end must not keep it). */
interface Writer {
  name: string;
  fnId: string;
  taskId: TaskId;
  member?: { g: TaskId; i: number };
}

/** TABMESH_CHECK_WRITES=1 (Node only): compare every lent argument whole, whatever its size. */
const exactMode = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.TABMESH_CHECK_WRITES === '1';

/** Fingerprints of `t`'s arguments that are lent in place (shared memory; by-value and copied ones cannot be written back). */
export function noteLent(t: LendingTask, posted: Uint8Array[]): void {
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
  /** Lent arguments checked at their task's end whose views its executor still holds, by buffer. */
  private readonly watching = new Map<SharedArrayBuffer, Set<LentArg>>();
  /** Writes seen (stats, tests). */
  seen = 0;

  constructor(private readonly n: ArgWritesNode) {}

  /**
   * `t` ended: its lent arguments are checked now, and again once its executor
   * let go of every view of them (`leases`): a view kept (an actor's field, a
   * global) may be written later.
   */
  check(t: LendingTask, leases?: ViewLeases): void {
    const lent = t.lent;
    if (!lent) return;
    t.lent = undefined;
    const who: Writer = { name: t.spec.name, fnId: t.spec.fnId, taskId: t.spec.taskId, member: t.member && { g: t.member.slice.g, i: t.member.i } };
    for (const a of lent) {
      if (!this.verify(who, a, false) || !leases) continue;
      const buf = a.bytes.buffer as SharedArrayBuffer;
      let w = this.watching.get(buf);
      if (!w) this.watching.set(buf, (w = new Set()));
      // One late check an object: its bytes were just found as they were lent, so a check already waiting for these
      // views sees any later write as well (each waiting check held a copy up to 256 KiB: 1,000 reads of one object
      // held 1,000 copies until the executor let go, review of session 38).
      let waiting = false;
      for (const x of w) if (x.id === a.id && x.bytes.byteOffset === a.bytes.byteOffset) waiting = true;
      if (waiting) continue;
      w.add(a);
      leases.whenLetGo(buf, () => {
        const set = this.watching.get(buf);
        if (!set?.delete(a)) return; // settled: a write to these bytes was seen and told already
        if (set.size === 0) this.watching.delete(buf);
        this.verify(who, a, true);
      });
    }
  }

  /** Whether `a` is unchanged; if not, the copy is dropped and the driver told. */
  private verify(who: Writer, a: LentArg, late: boolean): boolean {
    // Unchanged (nearly always): nothing more to look up (held() also touches the store's LRU).
    if (unchanged(a.bytes, a.fp)) return true;
    const here = this.held(a);
    // Late, a copy no longer held here protects nobody, and who wrote it is not known.
    if (late && here === 'other') return true;
    this.seen++;
    // Other tasks' views of these bytes, kept past their ends, would find this same write: it is not theirs.
    this.watching.delete(a.bytes.buffer as SharedArrayBuffer);
    if (here === 'lent') this.drop(a);
    this.warn(who, a, late, here === 'lent');
    return false;
  }

  /** Whether the store holds `a`'s object in the very bytes lent ('lent'; spilled since counts), or not ('other'). */
  private held(a: LentArg): 'lent' | 'other' {
    const n = this.n;
    if (!n.store.has(a.id)) return 'other';
    // Spilled since: its tier copy may have been written after the write.
    const held = n.store.getSync(a.id);
    return held && (held.buffer !== a.bytes.buffer || held.byteOffset !== a.bytes.byteOffset) ? 'other' : 'lent';
  }

  private drop(a: LentArg): void {
    const n = this.n;
    n.store.delete(a.id);
    if (!n.closed) n.send({ t: 'dropped', ids: [a.id] });
  }

  private warn(s: Writer, a: LentArg, late: boolean, dropped: boolean): void {
    // Seen late, the writer may be another task that was lent the same bytes and kept them too.
    const who = late
      ? `task ${s.name} (or another task on this node that kept a view of it) wrote into its argument ${a.i} after its end`
      : `task ${s.name} wrote into its argument ${a.i}`;
    const text =
      `${who} (object ${a.id}), which is read-only: copy it first (\`new Float64Array(a)\`)` + (dropped ? '; this node dropped its changed copy' : '');
    this.n.onEvent(text);
    if (this.warned.has(s.fnId) || this.n.closed) return;
    if (this.warned.size >= WARNED_MAX) this.warned.clear();
    this.warned.add(s.fnId);
    this.n.send({ t: 'log', taskId: s.taskId, level: 'warn', text, ...s.member });
  }
}
