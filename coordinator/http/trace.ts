// A job's timeline: a row per executor slot, a bar per task on the slot its
// node ran it on, and its export in Chrome's Trace Event Format
// (https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU),
// which Perfetto and chrome://tracing open.
import type { ChromeTrace, Timeline, TimelineBar, TimelineRow } from '../../shared/dashboard.js';
import type { TaskView } from '../dashboard/task-history.js';

export interface NodeInfo {
  name: string;
  /** Executor slots the node has now; 0 once it is gone. */
  slots: number;
}

/**
 * A row per executor slot of each node that ran the job's tasks (all its
 * slots, idle ones too), a bar per task that ran, on the slot its node
 * reported. Tasks without a reported slot (older nodes, recovered records) go
 * to the slot free first, within the node's slots.
 */
export function layoutTimeline(tasks: readonly TaskView[], node: (id: string) => NodeInfo, now = Date.now()): Timeline {
  const ran = tasks.filter((t) => t.node && t.startedAt > 0).sort((a, b) => a.startedAt - b.startedAt);
  const nodes = new Map<string, { info: NodeInfo; freeAt: number[]; open: number[][] }>();
  const bars: TimelineBar[] = [];
  for (const t of ran) {
    const id = t.node!;
    let n = nodes.get(id);
    if (!n) {
      const info = node(id);
      nodes.set(id, (n = { info, freeAt: Array.from({ length: Math.max(1, info.slots) }, () => 0), open: [] }));
    }
    const end = Math.max(t.endedAt > 0 ? t.endedAt : now, t.startedAt + 1);
    let lane = t.executor;
    if (lane < 0) {
      lane = n.freeAt.findIndex((until) => until <= t.startedAt);
      if (lane < 0) lane = n.freeAt.indexOf(Math.min(...n.freeAt));
    }
    while (n.freeAt.length <= lane) n.freeAt.push(0);
    n.freeAt[lane] = Math.max(n.freeAt[lane], end);
    // Nesting within the slot: the bars still open when this one starts.
    const open = (n.open[lane] ??= []).filter((until) => until > t.startedAt);
    const depth = open.length;
    open.push(end);
    n.open[lane] = open;
    bars.push({ task: t.id, name: t.name, state: t.state, node: id, nodeName: n.info.name, lane, depth, start: t.startedAt, end, submittedAt: t.submittedAt });
  }
  const rows: TimelineRow[] = [];
  for (const [id, n] of nodes) for (let lane = 0; lane < n.freeAt.length; lane++) rows.push({ node: id, nodeName: n.info.name, lane });
  return { rows, bars };
}

/** Chrome trace JSON: one process per node, one thread per executor row, a complete ('X') event per task. */
export function chromeTrace(job: string, { rows, bars }: Timeline): ChromeTrace {
  const t0 = bars.reduce((m, b) => Math.min(m, b.submittedAt, b.start), Infinity);
  const origin = Number.isFinite(t0) ? t0 : 0;
  const pids = new Map<string, number>();
  const events: Record<string, unknown>[] = [];
  for (const b of bars) {
    let pid = pids.get(b.node);
    if (pid === undefined) {
      pids.set(b.node, (pid = pids.size + 1));
      events.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: `${b.nodeName} (${b.node})` } });
    }
    events.push({
      name: b.name,
      cat: b.state,
      ph: 'X',
      pid,
      tid: b.lane + 1,
      ts: (b.start - origin) * 1000,
      dur: Math.max(1, (b.end - b.start) * 1000),
      args: { task: b.task, state: b.state, queuedMs: b.start - b.submittedAt },
    });
  }
  for (const r of rows) events.push({ name: 'thread_name', ph: 'M', pid: pids.get(r.node), tid: r.lane + 1, args: { name: `executor ${r.lane}` } });
  return { traceEvents: events, displayTimeUnit: 'ms', otherData: { job, origin: new Date(origin).toISOString(), source: 'tabmesh' } };
}
