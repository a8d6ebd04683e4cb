// Task groups at the coordinator (issue 14, session 26; docs/decisions.md "Task groups"; the wire:
// shared/protocol/group.ts): the manager the message handlers, the scheduler's pass, membership and the job end
// call. The table (group-table.ts) owns the records; placement, reports and materialization are its helpers.
import { childTaskId, ownId, returnObjectId, rootTaskId, type TaskId } from '../../shared/ids.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { ActorManager } from '../actors/actors.js';
import type { Gcs } from '../gcs/gcs.js';
import type { JobRecord, NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { NodeIndex } from '../scheduler/node-index.js';
import type { ObjectDirectory } from '../objects/directory.js';
import { shareResources } from '../scheduler/task-submit.js';
import type { TaskManager } from '../scheduler/tasks.js';
import type { Session } from '../session.js';
import { DONE, FAILED, GroupRecord, ON_SLICE, RELEASED } from './group-record.js';
import { endJobGroups } from './group-cancel.js';
import { GroupMaterializer } from './group-materialize.js';
import { GroupReports, type Refusal } from './group-reports.js';
import { GroupPlacer } from './group-slices.js';
import { sendReady } from './group-ready.js';
import { GroupTable, type GroupCounts } from './group-table.js';

export class GroupManager {
  readonly table: GroupTable;
  readonly placer: GroupPlacer;
  readonly reports: GroupReports;
  readonly materializer: GroupMaterializer;

  constructor(
    private readonly gcs: Gcs,
    private readonly dir: ObjectDirectory,
    tasks: TaskManager,
    actors: ActorManager,
    /** A placement pass is due (the scheduler's soon()). */
    wake: () => void,
    /** Whether any node is alive (groups or not). */
    anyNode: () => boolean,
    /** The scheduler's node index (least loaded nodes by resource shape). */
    index: NodeIndex,
  ) {
    this.table = new GroupTable(gcs);
    this.table.wake = wake;
    this.placer = new GroupPlacer(gcs, this.table);
    this.placer.anyNode = anyNode;
    this.placer.leastLoaded = (grp, fits) => index.leastLoaded({ spec: grp.spec } as TaskRecord, fits);
    this.materializer = new GroupMaterializer(gcs, dir, tasks, actors, this.table);
    this.placer.toOrdinary = (grp) => this.materializer.queued(grp);
    this.placer.toTasks = (grp, k) => this.materializer.ordinary(grp, k);
    this.reports = new GroupReports(gcs, this.table, tasks, this.materializer, dir);
  }

  /**
   * A driver's group (its checks: the job runs, the function is registered, the template is a plain task of one
   * output with no arguments of its own, member 0's id is the group's). The group on record already (the
   * driver resumed and sends it again): its ended members are told again, and it goes on. Else an error text.
   */
  submit(s: Session, job: JobRecord | undefined, m: MsgOf<'submitGroup'>): string | null {
    const spec = m.spec;
    const g = spec.taskId;
    if (!job || job.state !== 'running' || job.id !== s.jobId || spec.jobId !== job.id) return `group ${g}: job ${spec.jobId} is not yours or not running`;
    if (spec.parentId !== rootTaskId(job.id)) return `group ${g}: only a driver's own tasks are grouped (parent ${spec.parentId})`;
    const bad = templateFault(m);
    if (bad) return `group ${g}: ${bad}`;
    if (m.first + m.args.length > 2 ** 31) return `group ${g}: members past the submit index range`;
    const old = this.table.groups.get(g);
    if (old) {
      if (old.job !== job || old.n !== m.args.length || old.first !== m.first) return `group ${g} is on record with other members`;
      this.resumed(old);
      return null;
    }
    const fn = this.gcs.functions.get(spec.fnId);
    if (!fn) return `group ${g}: function ${spec.fnId} is not registered (send its source first)`;
    if (childTaskId(spec.parentId, m.first) !== g) return `group ${g}: its id is not member 0's task id`;
    this.gcs.jobUses(job, fn);
    // Kept on record: no string of the frame (issue 14, task-submit.ts ownStrings).
    spec.taskId = ownId(g);
    spec.jobId = job.id;
    spec.parentId = rootTaskId(job.id);
    spec.fnId = fn.fnId;
    spec.resources = shareResources(spec.resources);
    const grp = new GroupRecord(spec, m.first, m.args, job);
    // Members made tasks whose records went before the restart (its row names them; counted in the job's `gone`).
    const outBefore = job.recovered ? job.goneGroups?.get(grp.g)?.out : undefined;
    // Counted before the restart as ended (its owner sent it again all the same): it counts afresh from here.
    if (job.recovered) this.gcs.gone.groupBack(job, grp.g);
    this.table.add(grp);
    // After a restart, members materialized before it are tasks on record (durable): they are not run again.
    if (job.recovered) for (let i = 0; i < grp.n; i++) if (this.gcs.tasks.has(grp.taskId(i))) this.table.leave(grp, i);
    if (outBefore?.length) this.table.outBefore(grp, outBefore);
    this.table.settle(grp);
    return null;
  }

  /** The owner sent a group it sent before (it resumed): what ended is told again (values kept until released). */
  private resumed(grp: GroupRecord): void {
    this.reports.ownerBack(grp);
    const ok: number[] = [];
    const failed: number[] = [];
    for (let i = 0; i < grp.n; i++) {
      if (grp.state[i] === DONE) ok.push(i);
      else if (grp.state[i] === FAILED) failed.push(i);
    }
    const moved = grp.moved ? [...grp.moved] : [];
    if (ok.length + failed.length + moved.length > 0) sendReady(grp, ok, failed, moved);
  }

  /** The group of `g` when it is of session `s`'s job, else an error text. */
  ofDriver(s: Session, g: TaskId): GroupRecord | string {
    const grp = this.table.groups.get(g);
    if (!grp) return `group ${g} is not on record (ended, released, or never sent)`;
    if (grp.job.id !== s.jobId) return `group ${g} is not of your job`;
    return grp;
  }

  release(s: Session, m: MsgOf<'groupRelease'>): string | null {
    const grp = this.table.groups.get(m.g);
    if (!grp) return null; // gone with its job, or released already
    if (grp.job.id !== s.jobId) return `group ${m.g} is not of your job`;
    // A member the coordinator moved (made an object) while the groupReady saying so was on its way: the owner's
    // release is of its hold on that object (it never learnt to release it the classic way).
    if (grp.moved)
      for (const i of m.idx)
        if (grp.moved.delete(i)) {
          const id = returnObjectId(grp.taskId(i), 0);
          if (s.held.has(id)) this.dir.unhold(s, id);
        }
    this.table.release(grp, m.idx);
    return null;
  }

  materialize(s: Session, m: MsgOf<'materialize'>): string | null {
    const grp = this.ofDriver(s, m.g);
    if (typeof grp === 'string') return grp;
    this.materializer.asked(grp, m.idx, s);
    return null;
  }

  done(n: NodeRecord, m: MsgOf<'groupDone'>): Refusal | null {
    return this.reports.done(n, m);
  }

  handBack(n: NodeRecord, m: MsgOf<'groupHandBack'>): Refusal | null {
    return this.reports.handBack(n, m);
  }

  started(n: NodeRecord, m: MsgOf<'groupStarted'>): Refusal | null {
    return this.reports.started(n, m);
  }

  /** Members of a slice on node `n` call out: ordinary tasks assigned there from now on (group-reports.ts callOut). */
  callOut(n: NodeRecord, m: MsgOf<'groupCallOut'>): Refusal | null {
    return this.reports.callOut(n, m);
  }

  /**
   * A task's console line from node `n`, as member `i` of group `g`: the member's task id, and whether it ended, if it
   * runs there or ended there (its line may come after its report, task-logs.ts); else null.
   */
  logOf(n: NodeRecord, g: TaskId, i: number): { taskId: TaskId; fn: string; job: JobRecord; ended: boolean } | null {
    const grp = this.table.groups.get(g);
    if (!grp || i >= grp.n || grp.slice[i] < 0) return null;
    const st = grp.state[i];
    if (st === ON_SLICE) {
      if (grp.slices.get(grp.slice[i])?.node !== n) return null;
    } else if ((st !== DONE && st !== FAILED && st !== RELEASED) || grp.sentTo[grp.slice[i]] !== n.id) return null;
    return { taskId: grp.taskId(i), fn: grp.spec.name, job: grp.job, ended: st !== ON_SLICE };
  }

  /**
   * Members of `job`'s groups an executor runs, as far as the coordinator knows: on each node, its members on
   * slices up to its CPUs (no member reports its start: the rest wait there).
   */
  runningOf(job: JobRecord): number {
    const on = new Map<NodeRecord, number>();
    for (const grp of this.table.ofJob(job.id)) for (const sl of grp.slices.values()) on.set(sl.node, (on.get(sl.node) ?? 0) + sl.open);
    let k = 0;
    for (const [n, open] of on) k += Math.min(open, Math.max(1, n.resources.cpu ?? 0));
    return k;
  }

  addNode(n: NodeRecord): void {
    this.placer.addNode(n);
  }

  /** The node takes no more slices (its socket closed; it may still report what it finished before). */
  removeNode(n: NodeRecord): void {
    this.placer.removeNode(n);
  }

  nodeLost(n: NodeRecord): void {
    this.placer.removeNode(n);
    this.reports.nodeLost(n);
  }

  /** The job ended: its groups go; their nodes (`cancelGroup`) and owner are told, unless `quiet` (let go of). */
  endJob(job: JobRecord, quiet: boolean, owner: Session | null = null): void {
    this.reports.jobEnded(job);
    endJobGroups(this.gcs, this.table, job, quiet, owner);
  }

  /** The scheduler's pass: places queued members until `deadline` (false: cut there, the rest next pass). */
  pass(deadline: number): boolean {
    return this.placer.pass(deadline);
  }

  counts(): GroupCounts & GroupTable['counters'] {
    return { ...this.table.counts(), ...this.table.counters };
  }
}

/** Why a group's template is not one the coordinator takes (design: "Which tasks group"), or null. */
function templateFault(m: MsgOf<'submitGroup'>): string | null {
  const s = m.spec;
  if (s.attempt !== 0) return 'a new task starts at attempt 0';
  if (m.args.length === 0) return 'a group has members';
  if (s.args.length !== 0 || s.nested.length !== 0) return "the template has arguments (members' go in args)";
  if (s.numReturns !== 1) return 'a member returns one value';
  if (s.actor) return 'actor tasks are not grouped';
  if (s.verify) return 'verified tasks are not grouped';
  if (s.scheduling !== undefined && s.scheduling !== 'default') return 'only default scheduling is grouped';
  return null;
}
