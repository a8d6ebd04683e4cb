// The live document's node views (issue 14): every node up to MAX_NODES,
// past that the busiest MAX_NODES and totals in meta.nodeSummary; lost nodes
// stay in view a while (at most MAX_LOST_NODES of them). Totals and the
// ranking follow the nodes that changed (membership's change feed), not a
// walk of every node: an idle mesh of 10,000 costs nothing to sample.
import type * as Y from 'yjs';
import type { NodeView } from '../../shared/dashboard.js';
import type { Gcs } from '../gcs/gcs.js';
import type { ObjectDirectory } from '../objects/directory.js';
import type { NodeRecord } from '../gcs/tables.js';
import type { NodeChanges } from '../nodes/changes.js';
import type { TrustTable } from '../trust/trust.js';
import { same, setIfChanged, type Plain } from './doc-write.js';
import type { TaskHistory } from './task-history.js';
import { best, MAX_NODES, score, unchanged } from './node-rank.js';

export { MAX_NODES } from './node-rank.js';
/** Lost nodes kept in view (for a while, so dashboards see them go). */
export const MAX_LOST_NODES = 50;

/** Frame bytes received from and sent to a node on its control connection (counted by its session). */
function socketBytes(n: NodeRecord): { bytesIn: number; bytesOut: number } {
  return { bytesIn: n.session.bytesIn, bytesOut: n.session.bytesOut };
}

/** What a node adds to the totals, as last counted. */
interface Counted {
  cpus: number;
  running: number;
  queued: number;
  inflight: number;
  browser: number;
}

const NONE: Counted = { cpus: 0, running: 0, queued: 0, inflight: 0, browser: 0 };

export class NodeViews {
  /** Nodes whose name the task history has (told once per node, not once per sample). */
  private readonly named = new WeakSet<NodeRecord>();
  /** Node views kept after the node is lost, for a while, so dashboards see it go. */
  private readonly lostKeepMs = 60_000;
  /** The nodes shown since the last ranking pass (a pass over every node runs once a second, not every sample). */
  private ranked: NodeRecord[] | null = null;
  /** Tasks running and in flight over all nodes, as of the last ranking pass. */
  totals = { running: 0, inflight: 0 };
  /** Each node's part of the sums, as last counted: a change subtracts it and adds the new one. */
  private readonly counted = new Map<NodeRecord, Counted>();
  private readonly sums: Counted = { ...NONE };
  /** The lowest score among the shown nodes at the last ranking (-Infinity: every node is shown). */
  private floor = -Infinity;
  /** The nodes that ranking chose (the samples between drop lost ones from `ranked`, not from this). */
  private lastTop = new Set<NodeRecord>();
  /** Nodes looked at by ranking passes (tests: an idle mesh looks at none; a walk looks at all). */
  visited = 0;
  walks = 0;
  /** Whether every node was counted once (the first look), and whether count() took changes since the last ranking. */
  private countedOnce = false;
  private countedAlone = false;
  private uncounted: NodeRecord[] = [];
  /** Views built (tests: a sample between seconds builds those of the shown nodes that changed only). */
  built = 0;

  constructor(
    private readonly c: {
      readonly gcs: Gcs;
      readonly trust: TrustTable;
      readonly dir: ObjectDirectory;
      readonly membership: { readonly changes: NodeChanges };
    },
    private readonly nodes: Y.Map<NodeView>,
    private readonly meta: Y.Map<unknown>,
    private readonly history: TaskHistory,
  ) {}

  /**
   * Node views (issue 14). Up to MAX_NODES nodes every node has a view; past
   * that, the busiest MAX_NODES (most tasks in flight, then most done) and
   * the totals in meta.nodeSummary. Ranking and totals work on the nodes
   * that changed since the last pass (`shown`); views, trust and socket
   * counters are built for the shown ones only, and byte counters (which
   * move with every heartbeat) refresh once a second, so a sample rewrites
   * what changed among what is shown. The ranking pass (and the totals) runs
   * once a second; the samples between refresh the shown nodes only, so at
   * 10,000 nodes a sample costs what is shown and what changed, not what
   * exists (a node that became the busiest shows within a second).
   */
  sample(now: number, oneSecond: boolean): void {
    const c = this.c;
    // Whether the shown set may have changed (a ranking pass, or a shown node left).
    let reshown = true;
    // After totals-only counts (no dashboard was connected) a sample is whole: ranking, and every shown view built again.
    if (this.countedAlone) oneSecond = true;
    if (oneSecond || !this.ranked || c.gcs.nodes.size <= MAX_NODES) this.ranked = this.shown();
    else {
      const kept = this.ranked.filter((n) => c.gcs.nodes.get(n.id) === n);
      reshown = kept.length !== this.ranked.length;
      this.ranked = kept;
    }
    const shown = this.ranked;
    for (const n of shown) {
      const prev = this.nodes.get(n.id);
      // Between seconds a view is built again only when what it shows of the node's load moved (issue 14:
      // 200 views rebuilt and compared every 200 ms were most of an idle mesh's dashboard cost).
      if (!oneSecond && prev && prev.state === 'alive' && unchanged(prev, n)) continue;
      this.built++;
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
    // Views of nodes no longer shown: looked for when the shown set may have changed (every second: lost ones expire).
    if (reshown) this.dropUnshown(shown, now);
  }

  /** Views of nodes no longer shown: alive ones go, lost ones stay a while (at most MAX_LOST_NODES). */
  private dropUnshown(shown: readonly NodeRecord[], now: number): void {
    const c = this.c;
    const ids = new Set<string>();
    for (const n of shown) ids.add(n.id);
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

  /**
   * The nodes that get a view, and meta.nodeSummary, from the nodes that
   * changed since the last pass: their part of the sums is counted again,
   * and the ranking is the best of the shown ones and the changed ones. That
   * is exact while no shown node fell below the last ranking's floor (every
   * other node was at or below it and has not changed); when one did, or
   * left, or on the first pass, the ranking walks every node (a busy mesh,
   * once a second at most, as before).
   */
  private shown(): NodeRecord[] {
    const c = this.c;
    const all = c.gcs.nodes;
    const before = this.lastTop;
    // Nodes counted by count() since the last ranking are not among `changed`: this ranking walks.
    let walk = this.ranked === null || this.countedAlone || all.size <= MAX_NODES;
    this.countedAlone = false;
    this.countSome(Infinity);
    const changed = this.takeChanged();
    for (const n of changed) {
      this.visited++;
      const alive = all.get(n.id) === n;
      this.recount(n, alive);
      if (before.has(n) && (!alive || score(n) < this.floor)) walk = true;
    }
    let top: NodeRecord[];
    if (walk) {
      this.walks++;
      this.visited += all.size;
      top = best(all.values() as Iterable<NodeRecord>, all.size <= MAX_NODES);
    } else {
      const candidates = new Set(this.ranked);
      for (const n of changed) if (all.get(n.id) === n) candidates.add(n);
      top = best(candidates, false);
    }
    this.floor = top.length >= MAX_NODES ? score(top[top.length - 1]) : -Infinity;
    this.lastTop = new Set(top);
    const t = this.sums;
    this.totals = { running: t.running, inflight: t.inflight };
    const summary = {
      alive: all.size,
      browsers: t.browser,
      edges: all.size - t.browser,
      cpus: t.cpus,
      running: t.running,
      queued: t.queued,
      inflight: t.inflight,
      shown: top.length,
    };
    if (!same(this.meta.get('nodeSummary') as Plain | undefined, summary)) this.meta.set('nodeSummary', summary);
    return top;
  }

  /** The nodes changed since the last look (every node at the first: they may predate this view, or be hand-made by a test). */
  private takeChanged(): NodeRecord[] {
    const changed = this.c.membership.changes.take();
    if (this.countedOnce) return changed;
    this.countedOnce = true;
    const seen = new Set(changed);
    for (const n of this.c.gcs.nodes.values()) if (!seen.has(n as NodeRecord)) changed.push(n as NodeRecord);
    return changed;
  }

  /**
   * The totals only (`totals`, no ranking, no views, no meta.nodeSummary), from
   * the nodes that changed, at most `max` of them a call (the rest at the next
   * calls): what the cluster document keeps while no dashboard is connected.
   * The next ranking pass counts the rest and walks every node once.
   */
  count(max = Infinity): void {
    if (this.uncounted.length === 0) this.uncounted = this.takeChanged();
    this.countSome(max);
    this.countedAlone = true;
    this.totals = { running: this.sums.running, inflight: this.sums.inflight };
  }

  /** Nodes taken from the feed by count() and not counted yet: up to `max` of them now. */
  private countSome(max: number): void {
    const all = this.c.gcs.nodes;
    const list = this.uncounted;
    const end = Math.min(list.length, max);
    for (let i = 0; i < end; i++) {
      const n = list[i];
      this.visited++;
      this.recount(n, all.get(n.id) === n);
    }
    this.uncounted = end === list.length ? [] : list.slice(end);
  }

  /** `n`'s part of the sums again (none once it is gone): its record of them is updated in place (10,000 changed nodes a second, issue 14). */
  private recount(n: NodeRecord, alive: boolean): void {
    const t = this.sums;
    let was = this.counted.get(n);
    if (was) {
      t.cpus -= was.cpus;
      t.running -= was.running;
      t.queued -= was.queued;
      t.inflight -= was.inflight;
      t.browser -= was.browser;
    }
    if (!alive) {
      if (was) this.counted.delete(n);
      return;
    }
    if (!was) {
      this.counted.set(n, (was = { ...NONE }));
      if (!this.named.has(n)) {
        this.named.add(n);
        this.history.noteNode(n.id, n.name);
      }
    }
    was.cpus = n.resources.cpu ?? 0;
    was.running = n.load.running;
    was.queued = n.load.queued;
    was.inflight = n.inflightTasks;
    was.browser = n.kind === 'browser' ? 1 : 0;
    t.cpus += was.cpus;
    t.running += was.running;
    t.queued += was.queued;
    t.inflight += was.inflight;
    t.browser += was.browser;
  }
}
