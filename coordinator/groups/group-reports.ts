// What nodes report about the groups' slices they hold (docs/decisions.md "Task groups"): members that ended
// (`groupDone`), members handed back unstarted (`groupHandBack`), and the loss of the node. A report is taken
// only from the slice's node, for members on that slice and not ended; one on a slice the node was never sent
// is a lie (the trust table's offence, as `done` for a task never assigned), one on a member that moved on is late.
import { failureOf, type Failure } from '../../shared/errors.js';
import { returnObjectId } from '../../shared/ids.js';
import type { MsgOf, TaskResult } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { JobRecord, NodeRecord } from '../gcs/tables.js';
import { maybeNotSent, taskDone } from '../nodes/load.js';
import type { ObjectDirectory } from '../objects/directory.js';
import { countRun } from '../scheduler/task-values.js';
import type { TaskManager } from '../scheduler/tasks.js';
import { MATERIALIZED, ON_SLICE, type GroupRecord, type Slice } from './group-record.js';
import type { GroupMaterializer } from './group-materialize.js';
import type { GroupTable } from './group-table.js';

/** Why a report is refused: `lie` an offence of the node's (it was never sent that), else a malformed message. */
export type Refusal = { lie: string } | { error: string };

/** A member's result stored on its node while its owner was away: kept there until the owner is back. */
interface AwayResult {
  node: NodeRecord;
  s: number;
  r: TaskResult;
  ms: number;
  /** The executor slot it ran on, when the report said. */
  ex: number | undefined;
}

export class GroupReports {
  /** By group: members whose large result was stored on their node while their owner was away (session 27). */
  private readonly away = new Map<GroupRecord, Map<number, AwayResult>>();

  constructor(
    private readonly gcs: Gcs,
    private readonly table: GroupTable,
    private readonly tasks: TaskManager,
    private readonly materializer: GroupMaterializer,
    private readonly dir: ObjectDirectory,
  ) {}

  /** A slice's report from node `n`; null when taken (late parts are counted as stale and dropped). */
  done(n: NodeRecord, m: MsgOf<'groupDone'>): Refusal | null {
    if (m.results.length !== m.ok.length || m.ms.length !== m.ok.length)
      return { error: `groupDone: ${m.ok.length} members, ${m.results.length} results, ${m.ms.length} times` };
    if (m.ex !== undefined && m.ex.length !== m.ok.length) return { error: `groupDone: ${m.ok.length} members, ${m.ex.length} executor slots` };
    const grp = this.table.groups.get(m.g);
    if (!grp) return (void this.gcs.stats.staleReports++, null); // released, or its job ended: late
    if (grp.sentTo[m.s] !== n.id) return { lie: `a report on slice ${m.s} of group ${m.g.slice(0, 12)}, which it was never sent` };
    const sl = grp.slices.get(m.s);
    const f = this.gcs.functions.get(grp.spec.fnId);
    let off = 0;
    let ended = 0;
    // When the report came: each member's end (its start: that less its run time), as a `done` is taken.
    const at = Date.now();
    for (let k = 0; k < m.ok.length; k++) {
      const i = m.ok[k];
      const mine = this.mine(grp, sl, m.s, i);
      if (mine !== true) {
        if (mine) return mine;
        continue;
      }
      if (f) countRun(f, m.ms[k]);
      const r = m.results[k];
      if (r.v) {
        off++;
        ended++;
        this.table.ended(grp, i, r.v, n, m.ex?.[k] ?? -1, m.ms[k], at);
      } else this.stored(grp, i, r, m.ms[k], n, slotOf(m.ex?.[k])); // member() takes it off the slice (or it waits there for its owner)
    }
    for (const { i, failure, ex, ms } of m.failed ?? []) {
      const mine = this.mine(grp, sl, m.s, i);
      if (mine !== true) {
        if (mine) return mine;
        continue;
      }
      off++;
      this.threw(grp, i, failure, n, ex ?? -1, ms ?? -1, at);
    }
    if (sl && off > 0) this.table.offSlice(grp, sl, off);
    if (ended > 0) taskDone(n, ended);
    // Members made ordinary tasks while on this slice: their ends go the classic way.
    if (grp.onSlice !== null) this.classic(grp, n, m);
    return null;
  }

  /**
   * Whether member `i` is on slice `s` now (true); else null when only late (it was on it, and ended or moved on
   * since, or is an ordinary task now), or the lie (it was never on that slice).
   */
  private mine(grp: GroupRecord, sl: Slice | undefined, s: number, i: number): true | null | Refusal {
    if (i >= grp.n) return { lie: `a report on member ${i} of group ${grp.g.slice(0, 12)}, which has ${grp.n}` };
    if (sl && grp.state[i] === ON_SLICE && grp.slice[i] === s) return true;
    if (grp.state[i] === MATERIALIZED && grp.slice[i] === s) return null; // classic() takes it
    if (sl && !sl.idx.includes(i)) return { lie: `a report on member ${i} of group ${grp.g.slice(0, 12)}, not on its slice ${s}` };
    this.gcs.stats.staleReports++;
    return null;
  }

  /**
   * A member threw (or its executor died) on node `n`'s slot `ex` after `ms` ms (-1: not measured): retried when its
   * spec says and retries are left, else failed.
   */
  private threw(grp: GroupRecord, i: number, failure: Failure, n: NodeRecord, ex: number, ms: number, at: number): void {
    const retry = (failure.code === 'TASK_ERROR' && grp.spec.retryExceptions === true) || failure.code === 'WORKER_CRASHED' || failure.code === 'NODE_LOST';
    if (retry && this.table.retriesLeft(grp, i)) this.table.retry(grp, i);
    else this.table.failed(grp, i, failure, n, ex, ms, at);
  }

  /**
   * A result too large to travel inline, stored on node `n`: the member becomes an ordinary task there whose
   * `done` it was (its output's record has that location), and its owner is told it moved. With its owner away
   * (within its job's grace), the member stays on its slice and its result where it is until the owner sends the
   * group again (ownerBack: then the same), or the job ends (jobEnded: the node drops the copy). Failing it
   * (OBJECT_LOST, as before session 27) lost a result that ran, for an owner that came back.
   */
  private stored(grp: GroupRecord, i: number, r: TaskResult, ms: number, n: NodeRecord, ex: number | undefined): void {
    const owner = grp.job.driver;
    if (!owner) {
      let held = this.away.get(grp);
      if (!held) this.away.set(grp, (held = new Map<number, AwayResult>()));
      held.set(i, { node: n, s: grp.slice[i], r, ms, ex });
      return;
    }
    const t = this.materializer.member(grp, i, owner);
    if (t) {
      this.tasks.ran(t, ms, ex);
      this.tasks.done(t, { t: 'done', taskId: t.spec.taskId, attempt: t.spec.attempt, ms, results: [r] }, n.session);
      this.table.moved(grp, i);
    }
  }

  /** The owner sent the group again (it resumed): results stored meanwhile become its objects, as stored() does. */
  ownerBack(grp: GroupRecord): void {
    const owner = grp.job.driver;
    if (grp.awayHeld && owner) {
      // Members made tasks by their call out meanwhile: their outputs its own now (they are in `moved`, told below).
      this.dir.handOver(grp.awayHeld, owner);
      grp.awayHeld = null;
      this.table.settle(grp);
    }
    const held = this.away.get(grp);
    if (!held || !grp.job.driver) return;
    this.away.delete(grp);
    for (const [i, a] of held) {
      // Run again since (its node was lost), or its node gone: nothing kept to read.
      if (grp.state[i] !== ON_SLICE || grp.slice[i] !== a.s || a.node.session.closed) continue;
      this.stored(grp, i, a.r, a.ms, a.node, a.ex);
      grp.onSlice?.delete(i); // its report came already: none is to come the classic way
    }
    this.table.settle(grp);
  }

  /** The job ended with results of its members kept for an owner that did not come back: their nodes drop them. */
  jobEnded(job: JobRecord): void {
    for (const [grp, held] of this.away) {
      if (grp.job !== job) continue;
      this.away.delete(grp);
      for (const [i, a] of held) if (!a.node.session.closed) a.node.session.send({ t: 'free', ids: [returnObjectId(grp.taskId(i), 0)] });
    }
  }

  /** Reports on members of the slice that are ordinary tasks now: as their node's `done` and `failed`. */
  private classic(grp: GroupRecord, n: NodeRecord, m: MsgOf<'groupDone'>): void {
    for (let k = 0; k < m.ok.length; k++) {
      const i = m.ok[k];
      if (i >= grp.n || grp.onSlice?.get(i) !== n || grp.slice[i] !== m.s) continue;
      grp.onSlice.delete(i);
      const t = this.tasks.ownedBy(n.session, grp.taskId(i), grp.attempt[i]);
      if (typeof t === 'string') continue;
      // It sent no `started` (a member does not): where and how long it ran, as a node's quiet `done` says (handlers.ts).
      this.tasks.ran(t, m.ms[k], slotOf(m.ex?.[k]));
      this.tasks.done(t, { t: 'done', taskId: t.spec.taskId, attempt: t.spec.attempt, ms: m.ms[k], results: [m.results[k]] }, n.session);
    }
    for (const { i, failure, ex, ms } of m.failed ?? []) {
      if (i >= grp.n || grp.onSlice?.get(i) !== n || grp.slice[i] !== m.s) continue;
      grp.onSlice.delete(i);
      const t = this.tasks.ownedBy(n.session, grp.taskId(i), grp.attempt[i]);
      if (typeof t === 'string') continue;
      // As a node's quiet `failed` (handlers.ts): its run when measured; else no start is made up.
      if (ms !== undefined) this.tasks.ran(t, ms, slotOf(ex));
      this.tasks.reportedFailed(t, failure);
    }
    this.table.settle(grp);
  }

  /** The node will not start these members of slice `m.s`: queued again, same attempt. */
  handBack(n: NodeRecord, m: MsgOf<'groupHandBack'>): Refusal | null {
    const grp = this.table.groups.get(m.g);
    if (!grp) return null;
    if (grp.sentTo[m.s] !== n.id) return { lie: `a hand-back of slice ${m.s} of group ${m.g.slice(0, 12)}, which it was never sent` };
    // It came without the function's source, which the node no longer had: its next slice there carries it.
    if (m.noSource) maybeNotSent(n, grp.spec.fnId);
    const sl = grp.slices.get(m.s);
    if (!sl) return null;
    let k = 0;
    // Last first: each goes to the front of the queue, so they keep their order there.
    for (let j = m.idx.length - 1; j >= 0; j--) {
      const i = m.idx[j];
      if (i >= grp.n || grp.state[i] !== ON_SLICE || grp.slice[i] !== m.s) continue;
      grp.enqueue(i, true);
      k++;
    }
    if (k === 0) return null;
    this.table.offSlice(grp, sl, k);
    this.table.queuedAgain(grp);
    return null;
  }

  /**
   * Members of slice `m.s` call out (a nested submit, a put, a get...): each becomes the ordinary task it would have
   * been, assigned to `n` where it runs on (materializer.member), its owner told it moved. What follows from the
   * node names a parent on record, and its `blocked` gives its CPU back (a node full of members blocked on their
   * children placed none of them: test/integration/groups-nested.test.ts). With its owner away (its job waits for it)
   * it becomes one all the same, as an ordinary task of that job goes on: its output held for the owner meanwhile
   * (grp.awayHeld), whose the hold is once it is back and sends the group again (ownerBack: told it moved then).
   */
  callOut(n: NodeRecord, m: MsgOf<'groupCallOut'>): Refusal | null {
    const grp = this.table.groups.get(m.g);
    if (!grp) return (void this.gcs.stats.staleReports++, null);
    if (grp.sentTo[m.s] !== n.id) return { lie: `a call-out on slice ${m.s} of group ${m.g.slice(0, 12)}, which it was never sent` };
    const sl = grp.slices.get(m.s);
    const owner = grp.job.driver;
    for (const i of m.idx) {
      const mine = this.mine(grp, sl, m.s, i);
      if (mine !== true) {
        if (mine) return mine;
        continue;
      }
      if (this.materializer.member(grp, i, owner ?? (grp.awayHeld ??= { held: new Map() }))) this.table.moved(grp, i);
    }
    return null;
  }

  /** Members of slice `m.s` run on node `n` (`groupStarted`): lost with it now, they spent a run. */
  started(n: NodeRecord, m: MsgOf<'groupStarted'>): Refusal | null {
    const grp = this.table.groups.get(m.g);
    if (!grp) return (void this.gcs.stats.staleReports++, null);
    if (grp.sentTo[m.s] !== n.id) return { lie: `a start on slice ${m.s} of group ${m.g.slice(0, 12)}, which it was never sent` };
    for (const i of m.idx) {
      if (i >= grp.n || grp.state[i] !== ON_SLICE || grp.slice[i] !== m.s) continue; // ended, or moved on: late
      (grp.startedOn ??= new Int32Array(grp.n).fill(-1))[i] = m.s;
    }
    return null;
  }

  /**
   * Node `n` is gone: its slices' unended members are queued again as their next attempt, within maxRetries. A member
   * it never reported running (`groupStarted`) waited in its queue: its loss spends no retry (spared, bounded), as a
   * plain task's (scheduler/task-ends.ts).
   */
  nodeLost(n: NodeRecord): void {
    this.table.nodeGone(n);
    const on = this.table.slicesOn.get(n);
    if (!on) return;
    const at = Date.now();
    for (const sl of [...on]) {
      const grp = sl.grp;
      let k = 0;
      for (let j = sl.idx.length - 1; j >= 0; j--) {
        const i = sl.idx[j];
        if (grp.state[i] !== ON_SLICE || grp.slice[i] !== sl.s) continue;
        k++;
        if (grp.startedOn?.[i] !== sl.s) {
          const spared = (grp.spared ??= new Uint8Array(grp.n));
          spared[i] = Math.min(255, spared[i] + 1);
        }
        if (this.table.retriesLeft(grp, i)) this.table.retry(grp, i, true);
        else {
          const f = failureOf('NODE_LOST', grp.taskId(i), grp.spec.name, new Error(`node ${n.id} was lost and the task has no retries left`));
          this.table.failed(grp, i, { ...f, name: 'NodeLostError' }, n, -1, -1, at);
        }
      }
      if (k === 0) continue;
      this.table.offSlice(grp, sl, k);
      this.gcs.event('task-requeued', `${k} member(s) of group ${grp.spec.name} ${grp.g.slice(0, 12)} re-queued after node ${n.id} was lost`, {
        task: grp.g,
        node: n.id,
        job: grp.job.id,
      });
    }
    this.table.slicesOn.delete(n);
  }
}

/** A reported executor slot, undefined when not known (-1 or absent). */
function slotOf(ex: number | undefined): number | undefined {
  return ex === undefined || ex < 0 ? undefined : ex;
}
