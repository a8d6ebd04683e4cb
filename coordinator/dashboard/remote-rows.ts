// The other coordinators' nodes and jobs in the live document (issue 15): the
// dashboard's node and job tables show the whole mesh. Asked over the mesh
// bus (mesh-view.ts) every REMOTE_MS while a dashboard is connected (nothing
// else reads them: the state API gathers its own), at once when the first
// one connects, apart from the sampling of this coordinator's own rows,
// into maps of their own, bounded like the rest:
//
//   remoteNodes  Y.Map  id -> NodeView & { coordinator }   (at most MAX_NODES)
//   remoteJobs   Y.Map  id -> JobView & { coordinator }    (the MAX_JOBS most recent)
//
// Rows come from other processes: every field is read with a type check.
import * as Y from 'yjs';
import type { RemoteJob, RemoteNode } from '../../shared/dashboard.js';
import type { Coordinator } from '../coordinator.js';
import { meshViewOf, type Gathered, type ViewRow } from '../mesh/mesh-view.js';
import { MAX_JOBS } from './cluster-doc.js';
import { setIfChanged } from './doc-write.js';
import { MAX_NODES } from './node-views.js';

export const REMOTE_MS = 2000;
/** How often whether a dashboard looks is checked: a new one gets the rows within it. */
const WATCH_MS = 250;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown, max = 256): string => (typeof v === 'string' ? v.slice(0, max) : '');
const part = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});

export function remoteNode(r: ViewRow): RemoteNode {
  const load = part(r.load);
  const trust = str(part(r.trust).level, 32);
  const n: RemoteNode = {
    kind: r.kind === 'browser' ? 'browser' : 'edge',
    name: str(r.name),
    state: 'alive',
    cpus: num(part(r.resources).cpu),
    running: num(load.running),
    queued: num(load.queued),
    inflight: num(r.inflightTasks),
    storeBytes: num(load.storeBytes),
    objects: 0,
    bytesIn: 0,
    bytesOut: 0,
    tasksDone: num(r.tasksDone),
    joinedAt: num(r.joinedAt),
    lostAt: 0,
    coordinator: str(r.coordinator, 64),
  };
  if (trust) n.trust = trust;
  return n;
}

export function remoteJob(r: ViewRow): RemoteJob {
  const p = part(r.progress);
  return {
    name: str(r.name),
    kind: r.kind === 'submitted' ? 'submitted' : 'driver',
    status: str(r.status, 32),
    submitted: num(p.total),
    finished: num(p.done),
    failed: num(p.failed),
    cancelled: num(p.cancelled),
    running: num(p.running),
    startedAt: num(r.startedAt),
    endedAt: num(r.endedAt),
    error: '',
    ended: '',
    result: '',
    coordinator: str(r.coordinator, 64),
  };
}

/** The other coordinators' rows (this one's page is the first: left out), each with an id. */
function others(g: Gathered): ViewRow[] {
  return g.pages.slice(1).flatMap((p) => p.page.rows.filter((r) => typeof r.id === 'string' && r.id.length <= 64));
}

export class RemoteRows {
  /** Made in the document on the first round in a mesh only: alone, the document has no such maps (a reader's copy would not). */
  private maps: { nodes: Y.Map<RemoteNode>; jobs: Y.Map<RemoteJob> } | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private busy = false;
  /** When the last round started; 0 while nobody looks. */
  private last = 0;
  /** Rounds asked of the mesh (tests). */
  rounds = 0;

  constructor(
    private readonly c: Coordinator,
    private readonly doc: Y.Doc,
    /** Whether a dashboard reads the document now. */
    private readonly watched: () => boolean = () => true,
  ) {}

  start(everyMs = REMOTE_MS): void {
    this.timer = setInterval(() => this.tick(everyMs), Math.min(WATCH_MS, everyMs));
    this.timer.unref();
  }

  private tick(everyMs: number): void {
    if (!this.watched()) return void (this.last = 0);
    const now = Date.now();
    if (now - this.last < everyMs) return;
    this.last = now;
    void this.sample();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round: ask the others, then one transaction. Alone (no mesh), the maps stay empty. */
  async sample(): Promise<void> {
    const view = meshViewOf(this.c);
    if (this.busy || (!view && !this.maps)) return;
    this.busy = true;
    this.rounds++;
    try {
      const [nodes, jobs] = view
        ? await Promise.all([view.gather({ what: 'nodes', take: MAX_NODES }), view.gather({ what: 'jobs', take: MAX_JOBS })])
        : [null, null];
      const nodeRows = nodes ? others(nodes).slice(0, MAX_NODES) : [];
      const jobRows = jobs
        ? others(jobs)
            .sort((a, b) => num(b.startedAt) - num(a.startedAt))
            .slice(0, MAX_JOBS)
        : [];
      this.maps ??= { nodes: this.doc.getMap('remoteNodes'), jobs: this.doc.getMap('remoteJobs') };
      const { nodes: nodeMap, jobs: jobMap } = this.maps;
      this.doc.transact(() => {
        write(nodeMap, nodeRows, remoteNode);
        write(jobMap, jobRows, remoteJob);
      });
    } finally {
      this.busy = false;
    }
  }
}

function write<V extends object>(map: Y.Map<V>, rows: ViewRow[], view: (r: ViewRow) => V): void {
  const keep = new Set<string>();
  for (const r of rows) {
    const id = r.id as string;
    keep.add(id);
    setIfChanged(map, id, view(r));
  }
  for (const id of [...map.keys()]) if (!keep.has(id)) map.delete(id);
}
