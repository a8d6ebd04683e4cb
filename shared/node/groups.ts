// Task groups on a node (issue 14, session 26; shared/protocol/group.ts): an `assignGroup` slice's members run
// through the machinery of an assigned task (ready queue, executors' column batches, function source cache,
// inline-vs-stored results) as LocalTasks that carry their slice. What a group saves here is per-member messages:
// no assign to decode and check, and one `groupDone` per slice per frame instead of a `done` each. A member that
// still runs REPORT_AFTER_MS after its dispatch is reported as a plain task is (start-reports.ts), one `groupStarted`
// per slice per check: the coordinator counts a lost run against maxRetries only for members that had started.
import { failureOf, type Failure } from '../errors.js';
import { childTaskId, type TaskId } from '../ids.js';
import type { FunctionSource, Msg, MsgOf, TaskResult } from '../protocol/messages.js';
import type { EnvCache } from './env-cache.js';
import type { Executor, LocalScheduler, LocalTask } from './executors.js';
import { actorDied } from './actor-host.js';
import { cancelledFailure } from './cancels-ahead.js';
import type { GroupSlice } from './local-task.js';
import type { NodeSession, TaskTable } from './node-context.js';
import type { NodeOptions } from './platform.js';
import { StartReports } from './start-reports.js';

/**
 * Entries added to reports already in the outbox are not in its byte count: past this many bytes of them in one
 * frame, the frame goes at once (a frame stays far below FRAME_HARD_MAX however many slices report in it).
 */
const FRAME_REPORT_BYTES = 512 * 1024;

/** What NodeGroups uses of the runtime. */
export interface GroupsContext extends NodeSession {
  readonly tasks: TaskTable;
  readonly local: LocalScheduler;
  readonly fns: Map<string, FunctionSource>;
  readonly envCache: EnvCache;
  readonly opts: Pick<NodeOptions, 'kind'>;
  readonly paused: boolean;
  /** Frames sent to the coordinator so far: a report still in the outbox is filled further until this moves. */
  readonly frames: number;
  /** Sends what the outbox holds now. */
  readonly flushLater: () => void;
}

export class NodeGroups {
  /** Slices held, by group id. */
  private readonly slices = new Map<TaskId, Set<GroupSlice>>();
  /** Bytes of entries added to reports in the outbox, and the frame they go in. */
  private frameBytes = 0;
  private frame = -1;
  /** Members dispatched and not reported running yet; those reported in this check, by slice (sent in a microtask). */
  private readonly starts = new StartReports((t) => this.running(t));
  private startedNow: Map<GroupSlice, number[]> | null = null;

  constructor(private readonly n: GroupsContext) {}

  /** Member `t` went to an executor: reported `groupStarted` if it still runs at the next check (start-reports.ts). */
  dispatched(t: LocalTask): void {
    this.starts.dispatched(t);
  }

  /** The session ended: no more start reports. */
  stop(): void {
    this.starts.stop();
    this.startedNow = null;
  }

  /** Member `t` runs: its slice's `groupStarted` goes once this check (or this assign) is done. */
  private running(t: LocalTask): void {
    const mem = t.member;
    if (!mem || mem.out || mem.quiet || t.state !== 'running') return; // called out: it said `started` as a task
    if (!this.startedNow) {
      this.startedNow = new Map();
      queueMicrotask(() => this.sendStarted());
    }
    let idx = this.startedNow.get(mem.slice);
    if (!idx) this.startedNow.set(mem.slice, (idx = []));
    idx.push(mem.i);
  }

  private sendStarted(): void {
    const now = this.startedNow;
    this.startedNow = null;
    if (!now) return;
    for (const [slice, idx] of now) this.n.send({ t: 'groupStarted', g: slice.g, s: slice.s, idx });
  }

  /** Slices held now (tests, stats). */
  get count(): number {
    let c = 0;
    for (const set of this.slices.values()) c += set.size;
    return c;
  }

  /** A slice to run: its members are queued as assigned tasks are (after the function's runtime env is here). */
  assign(m: MsgOf<'assignGroup'>): void {
    const n = this.n;
    const g = m.spec.taskId;
    if (m.fn) n.fns.set(m.fn.fnId, m.fn);
    // Its source was taken by a `forget` that crossed its announcement: back, said so (the next slice carries it).
    else if (!n.fns.has(m.spec.fnId)) return n.send({ t: 'groupHandBack', g, s: m.s, idx: m.idx, noSource: true });
    if (m.args.length !== m.idx.length || m.spec.numReturns !== 1) {
      n.log(
        `coordinator: assignGroup ${g.slice(0, 8)} slice ${m.s}: ${m.idx.length} members, ${m.args.length} argument lists, numReturns ${m.spec.numReturns}: handed back`,
      );
      return n.send({ t: 'groupHandBack', g, s: m.s, idx: m.idx });
    }
    // Assigned before the coordinator heard that we paused.
    if (n.paused) return n.send({ t: 'groupHandBack', g, s: m.s, idx: m.idx });
    const slice: GroupSlice = { g, s: m.s, tasks: [], left: 0, open: null, openFrame: -1 };
    const tpl = m.spec;
    const attempt = m.attempt;
    for (let k = 0; k < m.idx.length; k++) {
      const i = m.idx[k];
      const taskId = i === 0 ? g : childTaskId(tpl.parentId, m.first + i);
      const had = n.tasks.get(taskId);
      if (had) {
        // Still here from an earlier slice (the coordinator placed it again): its run goes on, reported in this one.
        if (had.member && had.state !== 'ended' && had.member.slice !== slice && !had.member.quiet) {
          had.member.slice.left--;
          if (had.member.slice.left === 0) this.drop(had.member.slice);
          had.member = { slice, i };
          if (attempt > had.spec.attempt) {
            if (had.state === 'running') had.runAttempt ??= had.spec.attempt; // its executor reports under that
            had.spec = { ...had.spec, attempt };
          }
          slice.tasks.push(had);
          slice.left++;
          if (had.state === 'running') this.running(had); // its run goes on: started on this slice too
        }
        continue;
      }
      const args = m.args[k];
      for (let a = 0; a < args.length; a++) n.inlineBytes.in += args[a].byteLength;
      const t: LocalTask = {
        spec: { ...tpl, taskId, attempt },
        args,
        missing: 0,
        state: 'resolving',
        executor: null,
        blocked: false,
        holds: [],
        timer: null,
        calledOut: false,
        member: { slice, i },
      };
      n.tasks.adopt(t);
      slice.tasks.push(t);
      slice.left++;
    }
    if (slice.left === 0) return;
    let set = this.slices.get(g);
    if (!set) this.slices.set(g, (set = new Set()));
    set.add(slice);
    const fresh = slice.tasks.filter((t) => t.state === 'resolving');
    const env = n.fns.get(tpl.fnId)?.env;
    const side = n.opts.kind === 'browser' ? 'b' : 'e';
    if (!env || n.envCache.ready(env, side)) return n.local.enqueueAll(fresh);
    // A function with a runtime env (issue 16): its artifacts are here before its first member runs.
    n.envCache.ensure(env, side).then(
      () => n.local.enqueueAll(fresh.filter((t) => t.state === 'resolving')),
      (e: Error) => {
        for (const t of fresh) {
          if (t.state === 'resolving') n.tasks.end(t, { failure: { ...failureOf('TASK_ERROR', t.spec.taskId, t.spec.name, e), name: e.name } });
        }
      },
    );
  }

  /**
   * A member ended (NodeTasks.report, results already inline or stored) on executor slot `ex` (undefined: it did
   * not run on one) after `ms` ms (undefined: not measured, e.g. its executor crashed): its entry joins its slice's
   * report. A failed member's entry carries its run time too, so that its bar in the timeline is its run.
   */
  ended(t: LocalTask, results: TaskResult[] | undefined, failure: Failure | undefined, ms: number | undefined, ex?: number): void {
    const mem = t.member!;
    const slice = mem.slice;
    slice.left--;
    if (!mem.quiet) {
      const n = this.n;
      // A member that called out (children, puts) may return refs to what it made, and one that logged said things
      // its owner reads before its value: its report goes after those messages, in a report of its own; any other
      // may join a report of its slice already waiting in the outbox.
      let r = slice.open;
      const fresh = !r || slice.openFrame !== n.frames || t.calledOut || mem.logged;
      if (fresh) r = { t: 'groupDone', g: slice.g, s: slice.s, ok: [], results: [], ms: [], ex: [] };
      if (results) {
        r!.ok.push(mem.i);
        r!.results.push(results[0]);
        r!.ms.push(ms ?? 0);
        r!.ex!.push(ex ?? -1);
      } else (r!.failed ??= []).push({ i: mem.i, failure: failure!, ...(ex !== undefined && { ex }), ...(ms !== undefined && { ms }) });
      if (fresh) {
        slice.open = r;
        // The frame it rides in: send() may flush at once (a frame's bound), and then nothing more joins it.
        slice.openFrame = n.frames;
        n.send(r as Msg);
      } else {
        if (this.frame !== n.frames) {
          this.frame = n.frames;
          this.frameBytes = 0;
        }
        this.frameBytes += results ? (results[0].v?.byteLength ?? 0) + 64 : 256;
        if (this.frameBytes >= FRAME_REPORT_BYTES) n.flushLater();
      }
    }
    if (slice.left === 0) this.drop(slice);
  }

  /**
   * A member's first call out (a submit, put, get, wait, ask): the coordinator makes it the ordinary task it would
   * have been, assigned here, before the call's own message (that names it as a parent or a waiter). Its end still
   * goes in its slice's report.
   */
  callOut(t: LocalTask): void {
    const mem = t.member;
    if (!mem || mem.out || mem.quiet || t.state === 'ended') return;
    mem.out = true;
    this.n.send({ t: 'groupCallOut', g: mem.slice.g, s: mem.slice.s, idx: [mem.i] });
    // It runs (it calls from its executor): an ordinary task from now on, it says so as one does (start-reports.ts),
    // else its record read `assigned` until its end came in its slice's report.
    this.n.send({ t: 'started', taskId: t.spec.taskId, attempt: t.spec.attempt, ex: t.executor?.index });
  }

  /** Members that will not start here (paused, or asked back): one `groupHandBack` per slice. Each left `ended`. */
  handBack(members: readonly LocalTask[]): void {
    const bySlice = new Map<GroupSlice, number[]>();
    for (const t of members) {
      const mem = t.member!;
      let idx = bySlice.get(mem.slice);
      if (!idx) bySlice.set(mem.slice, (idx = []));
      idx.push(mem.i);
      t.state = 'ended';
      this.n.tasks.forget(t.spec.taskId);
      mem.slice.left--;
    }
    for (const [slice, idx] of bySlice) {
      this.n.send({ t: 'groupHandBack', g: slice.g, s: slice.s, idx });
      if (slice.left === 0) this.drop(slice);
    }
  }

  /**
   * The coordinator's `cancelGroup` (its job ended): the members (all, or `idx`) stop as a job's tasks do, reported
   * to nobody: queued ones dropped, each executor running any of them restarted once (force), its other tasks
   * queued again here (an actor's calls fail as on any restart).
   */
  cancel(g: TaskId, idx?: readonly number[]): void {
    const set = this.slices.get(g);
    if (!set) return;
    const n = this.n;
    const only = idx && new Set(idx);
    const stop: LocalTask[] = [];
    for (const slice of [...set]) {
      for (const t of slice.tasks) {
        const mem = t.member!;
        if (t.state === 'ended' || mem.quiet || (only && !only.has(mem.i))) continue;
        mem.quiet = true;
        stop.push(t);
      }
    }
    const executors = new Set<Executor>();
    for (const t of stop) {
      if (t.state === 'running' && t.executor) executors.add(t.executor);
      else n.tasks.cancel(t.spec.taskId, false); // not started: dropped and ended (quiet)
    }
    for (const ex of executors) {
      const cause = `its executor was restarted: the job of group ${g.slice(0, 8)} ended`;
      n.tasks.rehome(ex, cause, (o) => (o.member?.quiet ? cancelledFailure(o.spec.taskId, o.spec.name) : o.actorCall ? actorDied(o.spec, cause) : 'again'));
      n.onEvent(`executor ${ex.index} restarted: group ${g.slice(0, 8)} cancelled`);
    }
  }

  private drop(slice: GroupSlice): void {
    const set = this.slices.get(slice.g);
    if (!set?.delete(slice)) return;
    if (set.size === 0) this.slices.delete(slice.g);
    slice.tasks = [];
  }
}
