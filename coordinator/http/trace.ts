// A job's timeline: a row per executor, a bar per task, laid out from the
// tasks' run intervals, and its export in Chrome's Trace Event Format
// (https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU),
// which Perfetto and chrome://tracing open.
import type { TaskView } from '../dashboard/task-history.js';

export interface TimelineBar {
  task: string;
  name: string;
  state: string;
  node: string;
  nodeName: string;
  /** Executor row within the node: the first one free at the task's start. */
  lane: number;
  start: number;
  end: number;
  submittedAt: number;
}

/** Bars of the tasks that ran, each given the first free row of its node (interval packing). */
export function layoutTimeline(tasks: readonly TaskView[], nodeName: (id: string) => string, now = Date.now()): TimelineBar[] {
  const ran = tasks.filter((t) => t.node && t.startedAt > 0).sort((a, b) => a.startedAt - b.startedAt);
  const lanes = new Map<string, number[]>();
  const bars: TimelineBar[] = [];
  for (const t of ran) {
    const node = t.node!;
    const end = t.endedAt > 0 ? t.endedAt : now;
    let free = lanes.get(node);
    if (!free) lanes.set(node, (free = []));
    let lane = free.findIndex((until) => until <= t.startedAt);
    if (lane < 0) lane = free.push(0) - 1;
    free[lane] = Math.max(end, t.startedAt + 1);
    bars.push({ task: t.id, name: t.name, state: t.state, node, nodeName: nodeName(node), lane, start: t.startedAt, end, submittedAt: t.submittedAt });
  }
  return bars;
}

export interface ChromeTrace {
  traceEvents: Record<string, unknown>[];
  displayTimeUnit: 'ms';
  otherData: Record<string, unknown>;
}

/** Chrome trace JSON: one process per node, one thread per executor row, a complete ('X') event per task. */
export function chromeTrace(job: string, bars: readonly TimelineBar[]): ChromeTrace {
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
  const seen = new Set<string>();
  for (const b of bars) {
    const key = `${b.node}/${b.lane}`;
    if (seen.has(key)) continue;
    seen.add(key);
    events.push({ name: 'thread_name', ph: 'M', pid: pids.get(b.node), tid: b.lane + 1, args: { name: `executor ${b.lane}` } });
  }
  return { traceEvents: events, displayTimeUnit: 'ms', otherData: { job, origin: new Date(origin).toISOString(), source: 'tabmesh' } };
}
