// The live cluster document dashboards see (issue 7): a Yjs doc the
// coordinator writes and dashboards only read. It is sampled from the GCS on
// a timer, never from the task path, and its size is bounded: capped jobs,
// events and log tails, and throughput as a fixed ring of slots. With no
// dashboard connected only the throughput ring is kept, once a second (issue
// 14: a sample at 10,000 nodes was ~17 ms of CPU during a job, for nobody);
// the first dashboard to connect gets a full sample before its sync.
//
//   meta    Y.Map  counters, tasks by state, ring head, node totals (nodeSummary), coordinators of a mesh
//   nodes   Y.Map  id -> NodeView        (every node up to MAX_NODES; past that the busiest MAX_NODES, issue 14)
//   jobs    Y.Map  id -> JobView        (the MAX_JOBS most recent)
//   actors  Y.Map  id -> actor summary   (alive ones, then the most recent dead; MAX_ACTORS)
//   events  Y.Array<EventView>          (the MAX_EVENTS most recent)
//   series  Y.Map  slot -> SeriesPoint  (SERIES_SLOTS one-second slots)
//   logs    Y.Map  job id -> Y.Array<LogView> (tails of the most recent submitted jobs)
import * as Y from 'yjs';
import type { JobId } from '../../shared/ids.js';
import type { DocCounts, DocTotals, EventView, JobView, LogView, NodeView, SeriesPoint } from '../../shared/dashboard.js';
import type { Coordinator } from '../coordinator.js';
import type { JobRecord } from '../gcs/tables.js';
import type { JobRunner } from '../jobs/runner.js';
import type { TaskHistory } from './task-history.js';
import { actorView } from '../http/views.js';
import { same, setIfChanged, type Plain } from './doc-write.js';
import { jobView } from './job-view.js';
import { NodeViews } from './node-views.js';
import { meshViewOf } from '../mesh/mesh-view.js';

export const SAMPLE_MS = 200;
export const SERIES_SLOTS = 120;
export const MAX_JOBS = 50;
export const MAX_EVENTS = 100;
export const MAX_ACTORS = 100;
export const LOG_JOBS = 10;
export const LOG_TAIL = 100;
const LOG_LINE_CHARS = 300;
/** Changed nodes counted into the totals per tick while no dashboard is connected (10,000 in one tick was ~10 ms). */
const COUNT_PER_TICK = 2000;

export class ClusterDoc {
  readonly doc = new Y.Doc();
  readonly meta: Y.Map<unknown>;
  readonly nodes: Y.Map<NodeView>;
  readonly jobs: Y.Map<JobView>;
  readonly actors: Y.Map<Plain>;
  readonly events: Y.Array<EventView>;
  readonly series: Y.Map<SeriesPoint>;
  readonly logs: Y.Map<Y.Array<LogView>>;
  private timer: ReturnType<typeof setInterval> | null = null;
  private lastEventSeq = 0;
  private lastSlotAt = 0;
  private lastFinished = 0;
  private head = 0;
  private readonly logSent = new Map<JobId, number>();
  private readonly nodeViews: NodeViews;
  /** Full samples taken, and ticks that kept only the throughput ring (no dashboard connected). */
  samples = 0;
  unwatchedTicks = 0;

  constructor(
    private readonly c: Coordinator,
    private readonly runner: JobRunner,
    history: TaskHistory,
    /** Whether a dashboard is connected (DashboardHub.size > 0): with none, the timer keeps the throughput ring only. */
    private readonly watched: () => boolean = () => true,
  ) {
    this.meta = this.doc.getMap('meta');
    this.nodes = this.doc.getMap('nodes');
    this.jobs = this.doc.getMap('jobs');
    this.actors = this.doc.getMap('actors');
    this.events = this.doc.getArray('events');
    this.series = this.doc.getMap('series');
    this.logs = this.doc.getMap('logs');
    this.nodeViews = new NodeViews(c, this.nodes, this.meta, history);
    this.lastEventSeq = Math.max(0, (c.gcs.events.at(-1)?.seq ?? 0) - MAX_EVENTS);
    this.lastFinished = this.finishedTotal();
  }

  start(everyMs = SAMPLE_MS): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), everyMs);
    this.timer.unref();
  }

  /** The timer's turn: a full sample while a dashboard looks; else the throughput ring, once a second. */
  tick(now = Date.now()): void {
    if (this.watched()) return this.sample(now);
    // Node totals from the nodes that changed (no ranking, no views), a part a tick: the ring's `running`.
    this.nodeViews.count(COUNT_PER_TICK);
    if (now - this.lastSlotAt < 1000) return;
    this.unwatchedTicks++;
    this.doc.transact(() => {
      this.sampleMeta(now);
      this.sampleSeries(now);
    });
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
      this.nodeViews.sample(now, oneSecond);
      this.sampleMeta(now);
      this.sampleJobs(oneSecond);
      this.sampleActors();
      this.sampleEvents();
      this.sampleLogs();
      if (oneSecond) this.sampleSeries(now);
    });
  }

  private sampleMeta(now: number): void {
    const c = this.c;
    const st = c.gcs.stats;
    // From the node views' last pass over all nodes (once a second at most, issue 14).
    const { running, inflight: assigned } = this.nodeViews.totals;
    // Task groups' queued members are queued tasks too (their running ones count in the nodes' load).
    const g = c.groups?.counts();
    const queued = c.scheduler.queuedCount + (g?.groupMembersQueued ?? 0);
    const pending = st.tasksSubmitted - st.tasksFinished - st.tasksFailed - st.tasksCancelled;
    const counts: DocCounts = {
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
    if (!same(prev, counts as unknown as Plain)) m.set('counts', counts);
    const totals: DocTotals = {
      objects: c.gcs.objects.size,
      nodes: c.gcs.nodes.size,
      functions: c.gcs.functions.size,
      bytesRelayed: st.bytesRelayed,
      jobsRunning: [...c.gcs.jobs.values()].filter((j) => j.state === 'running').length,
      actorsAlive: c.actors.alive,
      actorsDead: c.actors.dead,
      ...(g ? { groups: g.groups } : {}),
      // A mesh of coordinators (issue 15): its totals, from every coordinator's record.
      ...meshViewOf(c)?.totals(),
    };
    if (!same(m.get('totals') as Plain | undefined, totals as unknown as Plain)) m.set('totals', totals);
    // The durable GCS refuses writes (a full disk, Redis at maxmemory): why, while new tasks are refused (issue 14).
    const backlog = c.gcs.storage.backlog?.() ?? null;
    if ((m.get('gcsBacklog') ?? null) !== backlog) m.set('gcsBacklog', backlog);
    const coordinators = meshViewOf(c)?.coordinators();
    if (coordinators && JSON.stringify(m.get('coordinators')) !== JSON.stringify(coordinators)) m.set('coordinators', coordinators);
    if (m.get('startedAt') === undefined) {
      m.set('startedAt', now);
      m.set('slots', SERIES_SLOTS);
    }
  }

  /** `oneSecond`: running jobs' running tasks are counted again (a walk of each one's tasks: once a second, not every sample). */
  private sampleJobs(oneSecond: boolean): void {
    const { gcs } = this.c;
    const groups = this.c.groups;
    const members = groups ? (j: JobRecord) => groups.runningOf(j) : undefined;
    // The most recent MAX_JOBS jobs, by start.
    const ids = new Map<JobId, number>();
    for (const j of gcs.jobs.values()) ids.set(j.id, j.startedAt);
    for (const s of this.runner.jobs.values()) if (!ids.has(s.id)) ids.set(s.id, s.submittedAt);
    const keep = [...ids].sort((a, b) => b[1] - a[1]).slice(0, MAX_JOBS);
    const keepSet = new Set(keep.map(([id]) => id as string));
    for (const [id] of keep) {
      const v = jobView(gcs.jobs.get(id), this.runner.jobs.get(id), this.jobs.get(id), oneSecond, members);
      setIfChanged(this.jobs, id, v);
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
      setIfChanged(this.actors, a.id, { ...v, pendingCalls: v.pendingCalls });
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
        arr = new Y.Array<LogView>();
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
