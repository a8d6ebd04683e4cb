// The live document's node views (issue 14): every node up to MAX_NODES,
// past that the busiest MAX_NODES and totals in meta.nodeSummary; lost nodes
// stay in view a while (at most MAX_LOST_NODES of them).
import type * as Y from 'yjs';
import type { NodeView } from '../../shared/dashboard.js';
import type { Gcs } from '../gcs/gcs.js';
import type { ObjectDirectory } from '../objects/directory.js';
import type { NodeRecord } from '../gcs/tables.js';
import type { TrustTable } from '../trust/trust.js';
import { same, setIfChanged, type Plain } from './doc-write.js';
import type { TaskHistory } from './task-history.js';

/** Node views in the document: a mesh of 10,000 nodes shows totals plus its busiest nodes (issue 14). */
export const MAX_NODES = 200;
/** Lost nodes kept in view (for a while, so dashboards see them go). */
export const MAX_LOST_NODES = 50;

/** Frame bytes received from and sent to a node on its control connection (counted by its session). */
function socketBytes(n: NodeRecord): { bytesIn: number; bytesOut: number } {
  return { bytesIn: n.session.bytesIn, bytesOut: n.session.bytesOut };
}

export class NodeViews {
  /** Nodes whose name the task history has (told once per node, not once per sample). */
  private readonly named = new WeakSet<NodeRecord>();
  /** Node views kept after the node is lost, for a while, so dashboards see it go. */
  private readonly lostKeepMs = 60_000;
  /** The nodes shown since the last ranking pass (a pass over every node runs once a second, not every sample). */
  private ranked: NodeRecord[] | null = null;
  /** Tasks running and in flight over all nodes, as of the last ranking pass. */
  totals = { running: 0, inflight: 0 };

  constructor(
    private readonly c: { readonly gcs: Gcs; readonly trust: TrustTable; readonly dir: ObjectDirectory },
    private readonly nodes: Y.Map<NodeView>,
    private readonly meta: Y.Map<unknown>,
    private readonly history: TaskHistory,
  ) {}

  /**
   * Node views (issue 14). Up to MAX_NODES nodes every node has a view; past
   * that, the busiest MAX_NODES (most tasks in flight, then most done) and
   * the totals in meta.nodeSummary. Ranking is one pass of numbers over the
   * nodes; views, trust and socket counters are built for the shown ones
   * only, and byte counters (which move with every heartbeat) refresh once a
   * second, so a sample rewrites what changed among what is shown. The
   * ranking pass (and the totals) runs once a second; the samples between
   * refresh the shown nodes only, so at 10,000 nodes a sample costs what is
   * shown, not what exists (a node that became the busiest shows within a second).
   */
  sample(now: number, oneSecond: boolean): void {
    const c = this.c;
    if (oneSecond || !this.ranked || c.gcs.nodes.size <= MAX_NODES) this.ranked = this.shown();
    else this.ranked = this.ranked.filter((n) => c.gcs.nodes.get(n.id) === n);
    const shown = this.ranked;
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
        objects: oneSecond || !prev ? c.dir.copiesOf(n.session).size : prev.objects,
        ...(oneSecond || !prev ? socketBytes(n) : { bytesIn: prev.bytesIn, bytesOut: prev.bytesOut }),
        tasksDone: n.tasksDone,
        joinedAt: n.joinedAt,
        lostAt: 0,
        trust: c.trust.level(n.id),
      };
      setIfChanged(this.nodes, n.id, v);
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
  private shown(): NodeRecord[] {
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
    this.totals = { running, inflight };
    const summary = { alive: all.size, browsers, edges: all.size - browsers, cpus, running, queued, inflight, shown: top.length };
    if (!same(this.meta.get('nodeSummary') as Plain | undefined, summary)) this.meta.set('nodeSummary', summary);
    return top;
  }
}
