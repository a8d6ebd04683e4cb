// The dashboard's data, declared once: the live cluster document the
// coordinator writes (coordinator/dashboard/cluster-doc.ts) and the page reads
// (client-web/dashboard), and a job's timeline (coordinator/http/trace.ts,
// drawn by client-web/dashboard/timeline.ts).
//
//   meta    Y.Map  counts: DocCounts, totals: DocTotals, nodeSummary: NodeSummary, head, startedAt, slots
//   nodes   Y.Map  id -> NodeView
//   jobs    Y.Map  id -> JobView
//   actors  Y.Map  id -> actor summary (the state API's actor view)
//   events  Y.Array<EventView>
//   series  Y.Map  slot -> SeriesPoint
//   logs    Y.Map  job id -> Y.Array<LogView>

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

/** Another coordinator's node or job in a mesh (remoteNodes, remoteJobs of the live document; issue 15). */
export type RemoteNode = NodeView & { coordinator: string };
export type RemoteJob = JobView & { coordinator: string };

export interface SeriesPoint {
  t: number;
  tasksPerSec: number;
  objects: number;
  queued: number;
  running: number;
}

/** meta.counts: tasks by state over the whole mesh. */
export interface DocCounts {
  waitingArgs: number;
  queued: number;
  running: number;
  assigned: number;
  finished: number;
  failed: number;
  cancelled: number;
  retried: number;
  submitted: number;
}

/** meta.totals. */
export interface DocTotals {
  objects: number;
  nodes: number;
  functions: number;
  bytesRelayed: number;
  jobsRunning: number;
  actorsAlive: number;
  actorsDead: number;
  /** Task groups on record (coordinator/groups; their members count in `counts` as tasks). Absent with groups off. */
  groups?: number;
  /** In a mesh of coordinators (issue 15), from every coordinator's registry record: the same on each. */
  coordinators?: number;
  meshNodes?: number;
  meshCpus?: number;
  meshJobs?: number;
  meshLoad?: number;
}

/** meta.coordinators (a mesh of coordinators, issue 15): one row a coordinator, this one first. */
export interface CoordinatorView {
  id: string;
  url: string;
  nodes: number;
  cpus: number;
  jobs: number;
  load: number;
  self: boolean;
}

/** meta.nodeSummary: totals over every node, also those without a view (issue 14). */
export interface NodeSummary {
  alive: number;
  browsers: number;
  edges: number;
  cpus: number;
  running: number;
  queued: number;
  inflight: number;
  shown: number;
}

/** An entry of `events` (a GCS event record). */
export interface EventView {
  seq: number;
  ts: number;
  kind: string;
  message: string;
  job?: string;
  node?: string;
  task?: string;
  object?: string;
}

/** A line of a submitted job's log tail. */
export interface LogView {
  seq: number;
  ts: number;
  level: string;
  text: string;
}

export interface TimelineBar {
  task: string;
  name: string;
  state: string;
  node: string;
  nodeName: string;
  /** The node's executor slot that ran it (as the node reported it). */
  lane: number;
  /** Tasks of the same slot it overlaps, started before it: a task waiting in get lends its slot to others. */
  depth: number;
  start: number;
  end: number;
  submittedAt: number;
}

/** One executor slot of a node that ran some of the job's tasks. */
export interface TimelineRow {
  node: string;
  nodeName: string;
  lane: number;
}

/** GET /api/jobs/:id/timeline. */
export interface Timeline {
  rows: TimelineRow[];
  bars: TimelineBar[];
}

/** GET /api/jobs/:id/trace: Chrome's Trace Event Format. */
export interface ChromeTrace {
  traceEvents: Record<string, unknown>[];
  displayTimeUnit: 'ms';
  otherData: Record<string, unknown>;
}
