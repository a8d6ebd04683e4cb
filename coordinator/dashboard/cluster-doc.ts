// The live cluster document dashboards see (issue 7): a Yjs doc the
// coordinator writes and dashboards only read. It is sampled from the GCS on
// a timer, never from the task path, and its size is bounded: capped jobs,
// events and log tails, and throughput as a fixed ring of slots.
//
//   meta    Y.Map  counters, tasks by state, ring head, node totals (nodeSummary)
//   nodes   Y.Map  id -> NodeView        (every node up to MAX_NODES; past that the busiest MAX_NODES, issue 14)
//   jobs    Y.Map  id -> JobView        (the MAX_JOBS most recent)
//   actors  Y.Map  id -> actor summary   (alive ones, then the most recent dead; MAX_ACTORS)
//   events  Y.Array<EventView>          (the MAX_EVENTS most recent)
//   series  Y.Map  slot -> SeriesPoint  (SERIES_SLOTS one-second slots)
//   logs    Y.Map  job id -> Y.Array<LogView> (tails of the most recent submitted jobs)
import * as Y from 'yjs';
import type { JobId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import type { JobRecord, NodeRecord } from '../gcs/tables.js';
import type { JobRunner, SubmittedJob } from '../jobs/runner.js';
import type { TaskHistory } from './task-history.js';
import { actorView } from '../http/state.js';

export const SAMPLE_MS = 200;
export const SERIES_SLOTS = 120;
export const MAX_JOBS = 50;
export const MAX_EVENTS = 100;
export const MAX_ACTORS = 100;
export const LOG_JOBS = 10;
export const LOG_TAIL = 100;
/** Node views in the document: a mesh of 10,000 nodes shows totals plus its busiest nodes (issue 14). */
export const MAX_NODES = 200;
/** Lost nodes kept in view (for a while, so dashboards see them go). */
export const MAX_LOST_NODES = 50;
const LOG_LINE_CHARS = 300;
const RESULT_PREVIEW_CHARS = 2000;

export interface NodeView {
  kind: 'edge' | 'browser';
  name: string;
  state: 'alive' | 'lost';
  cpus: number;
  running: number;
  queued: number;
  inflight: number;
  storeBytes: number;
  objects: number;
  bytesIn: number;
  bytesOut: number;
  tasksDone: number;
  joinedAt: number;
  lostAt: number;
  /** Issue 8: new, trusted, suspect or distrusted (coordinator/trust). */
  trust?: string;
}

export interface JobView {
  name: string;
  kind: 'driver' | 'submitted';
  status: string;
  submitted: number;
  finished: number;
  failed: number;
  cancelled: number;
  running: number;
  startedAt: number;
  endedAt: number;
  error: string;
  /** How a driver session ended (`its driver closed the session`, …); '' while it runs and for submitted jobs. */
  ended: string;
  result: string;
}

export interface SeriesPoint {
  t: number;
  tasksPerSec: number;
  objects: number;
  queued: number;
  running: number;
}

type Plain = Record<string, unknown>;

function same(a: Plain | undefined, b: Plain): boolean {
  if (!a) return false;
  for (const k in b) if (a[k] !== b[k]) return false;
  return true;
}

/** Frame bytes received from and sent to a node on its control connection (counted by its session). */
function socketBytes(n: NodeRecord): { bytesIn: number; bytesOut: number } {
  return { bytesIn: n.session.bytesIn, bytesOut: n.session.bytesOut };
}

export class ClusterDoc {
  readonly doc = new Y.Doc();
  readonly meta: Y.Map<unknown>;
  readonly nodes: Y.Map<NodeView>;
  readonly jobs: Y.Map<JobView>;
  readonly actors: Y.Map<Plain>;
  readonly events: Y.Array<Plain>;
  readonly series: Y.Map<SeriesPoint>;
  readonly logs: Y.Map<Y.Array<Plain>>;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastEventSeq = 0;
  private lastSlotAt = 0;
  private lastFinished = 0;
  private head = 0;
  private readonly logSent = new Map<JobId, number>();
  /** Nodes whose name the task history has (told once per node, not once per sample). */
  private readonly named = new WeakSet<NodeRecord>();
  /** Node views kept after the node is lost, for a while, so dashboards see it go. */
  private readonly lostKeepMs = 60_000;
  samples = 0;

  constructor(
    private readonly c: Coordinator,
    private readonly runner: JobRunner,
    private readonly history: TaskHistory,
  ) {
    this.meta = this.doc.getMap('meta');
    this.nodes = this.doc.getMap('nodes');
    this.jobs = this.doc.getMap('jobs');
    this.actors = this.doc.getMap('actors');
    this.events = this.doc.getArray('events');
    this.series = this.doc.getMap('series');
    this.logs = this.doc.getMap('logs');
    this.lastEventSeq = Math.max(0, (c.gcs.events.at(-1)?.seq ?? 0) - MAX_EVENTS);
    this.lastFinished = this.finishedTotal();
  }

  start(everyMs = SAMPLE_MS): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private finishedTotal(): number {
    const s = this.c.gcs.stats;
    return s.tasksFinished + s.tasksFailed + s.tasksCancelled;
  }

  /** One transaction: everything that changed since the last sample. */
  sample(now = Date.now()): void {
    this.samples++;
    const oneSecond = now - this.lastSlotAt >= 1000;
    this.doc.transact(() => {
      this.sampleMeta(now);
      this.sampleNodes(now, oneSecond);
      this.sampleJobs();
      this.sampleActors();
      this.sampleEvents();
      this.sampleLogs();
      if (oneSecond) this.sampleSeries(now);
    });
  }

  private setIfChanged<V extends object>(map: Y.Map<V>, key: string, v: V): void {
    if (!same(map.get(key) as Plain | undefined, v as unknown as Plain)) map.set(key, v);
  }

  private sampleMeta(now: number): void {
    const c = this.c;
    const st = c.gcs.stats;
    let running = 0;
    let assigned = 0;
    for (const n of c.gcs.nodes.values()) {
      running += n.load.running;
      assigned += n.inflightTasks;
    }
    const queued = c.scheduler.queuedCount;
    const pending = st.tasksSubmitted - st.tasksFinished - st.tasksFailed - st.tasksCancelled;
    const counts = {
      waitingArgs: Math.max(0, pending - queued - assigned),
      queued,
      running: Math.min(running, assigned),
      assigned: Math.max(0, assigned - running),
      finished: st.tasksFinished,
      failed: st.tasksFailed,
      cancelled: st.tasksCancelled,
      retried: st.tasksRetried,
      submitted: st.tasksSubmitted,
    };
    const m = this.meta;
    const prev = m.get('counts') as Plain | undefined;
    if (!same(prev, counts)) m.set('counts', counts);
    const totals = {
      objects: c.gcs.objects.size,
      nodes: c.gcs.nodes.size,
      functions: c.gcs.functions.size,
      bytesRelayed: st.bytesRelayed,
      jobsRunning: [...c.gcs.jobs.values()].filter((j) => j.state === 'running').length,
      actorsAlive: c.actors.alive,
      actorsDead: c.actors.dead,
    };
    if (!same(m.get('totals') as Plain | undefined, totals)) m.set('totals', totals);
    if (m.get('startedAt') === undefined) {
      m.set('startedAt', now);
      m.set('slots', SERIES_SLOTS);
    }
  }

  /**
   * Node views (issue 14). Up to MAX_NODES nodes every node has a view; past
   * that, the busiest MAX_NODES (most tasks in flight, then most done) and
   * the totals in meta.nodeSummary. Ranking is one pass of numbers over the
   * nodes; views, trust and socket counters are built for the shown ones
   * only, and byte counters (which move with every heartbeat) refresh once a
   * second, so a sample rewrites what changed among what is shown.
   */
  private sampleNodes(now: number, oneSecond: boolean): void {
    const c = this.c;
    const shown = this.shownNodes();
    let held: Map<unknown, number> | null = null;
    if (oneSecond) {
      const sessions = new Set(shown.map((n) => n.session as unknown));
      held = new Map();
      for (const o of c.gcs.objects.values()) for (const s of o.locations) if (sessions.has(s)) held.set(s, (held.get(s) ?? 0) + 1);
    }
    const ids = new Set<string>();
    for (const n of shown) {
      ids.add(n.id);
      const prev = this.nodes.get(n.id);
      const v: NodeView = {
        kind: n.kind,
        name: n.name,
        state: 'alive',
        cpus: n.resources.cpu ?? 0,
        running: n.load.running,
        queued: n.load.queued,
        inflight: n.inflightTasks,
        storeBytes: n.load.storeBytes,
        objects: held ? (held.get(n.session) ?? 0) : (prev?.objects ?? 0),
        ...(oneSecond || !prev ? socketBytes(n) : { bytesIn: prev.bytesIn, bytesOut: prev.bytesOut }),
        tasksDone: n.tasksDone,
        joinedAt: n.joinedAt,
        lostAt: 0,
        trust: c.trust.level(n.id),
      };
      this.setIfChanged(this.nodes, n.id, v);
    }
    const lost: [string, NodeView][] = [];
    for (const [id, v] of this.nodes) {
      if (ids.has(id)) continue;
      if (c.gcs.nodes.has(id as never))
        this.nodes.delete(id); // alive, no longer among the shown
      else if (v.state === 'alive') {
        const gone: NodeView = { ...v, state: 'lost', running: 0, queued: 0, inflight: 0, lostAt: now };
        this.nodes.set(id, gone);
        lost.push([id, gone]);
      } else if (now - v.lostAt > this.lostKeepMs) this.nodes.delete(id);
      else lost.push([id, v]);
    }
    if (lost.length > MAX_LOST_NODES) {
      lost.sort((a, b) => b[1].lostAt - a[1].lostAt);
      for (const [id] of lost.slice(MAX_LOST_NODES)) this.nodes.delete(id);
    }
  }

  /** The nodes that get a view, and meta.nodeSummary: one pass over the nodes, reading numbers only. */
  private shownNodes(): NodeRecord[] {
    const c = this.c;
    const all = c.gcs.nodes;
    const top: NodeRecord[] = [];
    const score = (n: NodeRecord) => n.inflightTasks * 1e9 + n.tasksDone;
    let cpus = 0;
    let running = 0;
    let queued = 0;
    let inflight = 0;
    let browsers = 0;
    for (const n of all.values()) {
      if (!this.named.has(n)) {
        this.named.add(n);
        this.history.noteNode(n.id, n.name);
      }
      cpus += n.resources.cpu ?? 0;
      running += n.load.running;
      queued += n.load.queued;
      inflight += n.inflightTasks;
      if (n.kind === 'browser') browsers++;
      if (all.size <= MAX_NODES) {
        top.push(n);
        continue;
      }
      // Keep the MAX_NODES best, sorted best first; most nodes fail the first comparison.
      const s = score(n);
      if (top.length === MAX_NODES && s <= score(top[MAX_NODES - 1])) continue;
      let i = top.length;
      while (i > 0 && score(top[i - 1]) < s) i--;
      top.splice(i, 0, n);
      if (top.length > MAX_NODES) top.pop();
    }
    const summary = { alive: all.size, browsers, edges: all.size - browsers, cpus, running, queued, inflight, shown: top.length };
    if (!same(this.meta.get('nodeSummary') as Plain | undefined, summary)) this.meta.set('nodeSummary', summary);
    return top;
  }

  private jobView(j: JobRecord | undefined, s: SubmittedJob | undefined, prev: JobView | undefined): JobView {
    let running = prev?.running ?? 0;
    if (j && j.state === 'running') {
      running = 0;
      if (j.tasks.size <= 50_000) for (const t of j.tasks) if (t.state === 'running') running++; // as the state API's progress.running
    } else running = 0;
    const counts = j?.counts ??
      s?.counts ?? { submitted: prev?.submitted ?? 0, finished: prev?.finished ?? 0, failed: prev?.failed ?? 0, cancelled: prev?.cancelled ?? 0 };
    const result = s && s.status === 'succeeded' ? JSON.stringify(s.result) : '';
    return {
      name: s?.name ?? prev?.name ?? 'driver',
      kind: s ? 'submitted' : 'driver',
      status: s ? s.status : (j?.state ?? prev?.status ?? 'finished'),
      submitted: counts.submitted,
      finished: counts.finished,
      failed: counts.failed,
      cancelled: counts.cancelled,
      running,
      startedAt: s?.submittedAt ?? j?.startedAt ?? prev?.startedAt ?? 0,
      endedAt: s ? s.endedAt : (j?.endedAt ?? prev?.endedAt ?? 0),
      // A submitted job's error, else a driver session's first failed task (its program runs elsewhere).
      error: s?.error ? `${s.error.name}: ${s.error.message}` : j?.firstError ? firstTaskErrorText(j.firstError) : (prev?.error ?? ''),
      ended: s ? '' : (j?.endReason ?? prev?.ended ?? ''),
      result: result.length > RESULT_PREVIEW_CHARS ? result.slice(0, RESULT_PREVIEW_CHARS) + '…' : result,
    };
  }

  private sampleJobs(): void {
    const { gcs } = this.c;
    // The most recent MAX_JOBS jobs, by start.
    const ids = new Map<JobId, number>();
    for (const j of gcs.jobs.values()) ids.set(j.id, j.startedAt);
    for (const s of this.runner.jobs.values()) if (!ids.has(s.id)) ids.set(s.id, s.submittedAt);
    const keep = [...ids].sort((a, b) => b[1] - a[1]).slice(0, MAX_JOBS);
    const keepSet = new Set(keep.map(([id]) => id as string));
    for (const [id] of keep) {
      const v = this.jobView(gcs.jobs.get(id), this.runner.jobs.get(id), this.jobs.get(id));
      this.setIfChanged(this.jobs, id, v);
    }
    for (const id of [...this.jobs.keys()]) if (!keepSet.has(id)) this.jobs.delete(id);
  }

  private sampleActors(): void {
    const all = [...this.c.actors.list()];
    // Alive ones first, then the most recent dead ones.
    all.sort((a, b) => (a.state === 'dead' ? 1 : 0) - (b.state === 'dead' ? 1 : 0) || b.createdAt - a.createdAt);
    const keep = all.slice(0, MAX_ACTORS);
    const ids = new Set<string>();
    for (const a of keep) {
      ids.add(a.id);
      const v = actorView(a);
      this.setIfChanged(this.actors, a.id, { ...v, pendingCalls: v.pendingCalls });
    }
    for (const id of [...this.actors.keys()]) if (!ids.has(id)) this.actors.delete(id);
  }

  private sampleEvents(): void {
    const events = this.c.gcs.events;
    if (events.length === 0 || events[events.length - 1].seq <= this.lastEventSeq) return;
    let i = events.length;
    while (i > 0 && events[i - 1].seq > this.lastEventSeq && events.length - i < MAX_EVENTS) i--;
    const fresh = events.slice(i).map((e) => ({ ...e }));
    this.lastEventSeq = events[events.length - 1].seq;
    this.events.push(fresh);
    const over = this.events.length - MAX_EVENTS;
    if (over > 0) this.events.delete(0, over);
  }

  private sampleLogs(): void {
    const recent = [...this.runner.jobs.values()].sort((a, b) => b.submittedAt - a.submittedAt).slice(0, LOG_JOBS);
    const keep = new Set<string>(recent.map((j) => j.id));
    for (const j of recent) {
      const sent = this.logSent.get(j.id) ?? 0;
      if (j.logSeq === sent) continue;
      let arr = this.logs.get(j.id);
      if (!arr) {
        arr = new Y.Array<Plain>();
        this.logs.set(j.id, arr);
      }
      const fresh = j.log.filter((l) => l.seq > sent).slice(-LOG_TAIL);
      arr.push(
        fresh.map((l) => ({ seq: l.seq, ts: l.ts, level: l.level, text: l.text.length > LOG_LINE_CHARS ? l.text.slice(0, LOG_LINE_CHARS) + '…' : l.text })),
      );
      if (arr.length > LOG_TAIL) arr.delete(0, arr.length - LOG_TAIL);
      this.logSent.set(j.id, j.logSeq);
    }
    for (const id of [...this.logs.keys()]) {
      if (!keep.has(id)) {
        this.logs.delete(id);
        this.logSent.delete(id as JobId);
      }
    }
  }

  private sampleSeries(now: number): void {
    const done = this.finishedTotal();
    const dt = this.lastSlotAt ? (now - this.lastSlotAt) / 1000 : 1;
    const rate = Math.max(0, (done - this.lastFinished) / dt);
    this.lastFinished = done;
    this.lastSlotAt = now;
    const counts = this.meta.get('counts') as { queued: number; running: number };
    const p: SeriesPoint = {
      t: now,
      tasksPerSec: Math.round(rate * 10) / 10,
      objects: this.c.gcs.objects.size,
      queued: counts.queued,
      running: counts.running,
    };
    this.series.set(String(this.head), p);
    this.meta.set('head', this.head);
    this.head = (this.head + 1) % SERIES_SLOTS;
  }

  /** The whole document as one update (what a fresh dashboard receives). */
  encodedSize(): number {
    return Y.encodeStateAsUpdate(this.doc).byteLength;
  }
}

/** How the dashboard shows a driver session's first failed task. */
function firstTaskErrorText(e: { name: string; message: string; functionName: string }): string {
  return `first failed task ${e.functionName}: ${e.name}: ${e.message}`;
}
