// A job's timeline: a row per executor slot of each node that ran its tasks
// (idle slots too), coloured by function or by state. A task waiting in get
// lends its slot to others: each slot shows, solid, what ran on it instant by
// instant, and under it, thin, each task's whole span from start to end.
import type { Timeline, TimelineBar } from '../../shared/dashboard.js';
import { duration, h, s } from './dom.js';

export type ColourBy = 'function' | 'state';

const MAX_BARS = 3000;
/** Distinct hues for functions, in the order they first ran; past the last they repeat. */
const PALETTE = ['#4fd1c5', '#a78bfa', '#fbbf24', '#60a5fa', '#f472b6', '#34d399', '#fb923c', '#c084fc', '#facc15', '#22d3ee', '#e879f9', '#a3e635'];
const STATES = ['running', 'finished', 'failed', 'cancelled', 'reconstructing', 'queued', 'assigned', 'waiting-args', 'infeasible'];

const W = 1200;
const ROW_H = 22;
const GROUP_H = 20;
const AXIS_H = 40;
/** Width of a character of the bold 12px node label, near enough to size the label column. */
const CHAR_W = 7.6;

/** A tick step of 1, 2 or 5 times a power of ten, about `count` ticks over `span` ms. */
export function tickStep(span: number, count = 8): number {
  const raw = Math.max(1, span / count);
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((st) => st >= raw) ?? 10 * p;
}

function tickLabel(ms: number, step: number): string {
  if (step >= 60_000) return `${Math.round(ms / 60_000)} min`;
  if (step >= 1000) return `${Math.round(ms / 100) / 10} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(step >= 100 ? 1 : step >= 10 ? 2 : 3)} s`;
  return `${Math.round(ms)} ms`;
}

/**
 * What each slot ran, instant by instant: of the tasks open on it, the one
 * started last (the others wait in get for it or its siblings). Runs of one
 * task merge into one segment.
 */
export function running(bars: readonly TimelineBar[]): Map<string, { b: TimelineBar; from: number; to: number }[]> {
  const byLane = new Map<string, TimelineBar[]>();
  for (const b of bars) {
    const key = `${b.node}/${b.lane}`;
    let l = byLane.get(key);
    if (!l) byLane.set(key, (l = []));
    l.push(b);
  }
  const out = new Map<string, { b: TimelineBar; from: number; to: number }[]>();
  for (const [key, lane] of byLane) {
    const times = [...new Set(lane.flatMap((b) => [b.start, b.end]))].sort((a, c) => a - c);
    const byStart = [...lane].sort((a, c) => a.start - c.start);
    const segs: { b: TimelineBar; from: number; to: number }[] = [];
    let open: TimelineBar[] = [];
    let next = 0;
    for (let i = 0; i + 1 < times.length; i++) {
      const t = times[i];
      while (next < byStart.length && byStart[next].start <= t) open.push(byStart[next++]);
      open = open.filter((b) => b.end > t);
      if (open.length === 0) continue;
      const top = open.reduce((m, b) => (b.start >= m.start ? b : m));
      const last = segs[segs.length - 1];
      if (last && last.b === top && last.to === t) last.to = times[i + 1];
      else segs.push({ b: top, from: t, to: times[i + 1] });
    }
    // Timestamps are the coordinator's (when `started` and `done` arrived): a task they
    // show wholly covered by a later one still ran; it keeps a mark at its start.
    const shown = new Set(segs.map((g) => g.b));
    for (const b of lane) if (!shown.has(b)) segs.push({ b, from: b.start, to: b.start });
    out.set(key, segs);
  }
  return out;
}

export function timeline(data: Timeline, by: ColourBy = 'function'): HTMLElement {
  const bars = data.bars.slice(0, MAX_BARS);
  if (bars.length === 0) return h('p', { class: 'muted' }, 'No task has run yet.');
  // Rows grouped by node, in the order the API gave them (first node to run a task first).
  const groups = new Map<string, { name: string; lanes: number[] }>();
  for (const r of data.rows) {
    let g = groups.get(r.node);
    if (!g) groups.set(r.node, (g = { name: r.nodeName, lanes: [] }));
    g.lanes.push(r.lane);
  }
  const rowY = new Map<string, number>();
  let y = 6;
  for (const [node, g] of groups) {
    y += GROUP_H;
    for (const lane of g.lanes.sort((a, b) => a - b)) {
      rowY.set(`${node}/${lane}`, y);
      y += ROW_H;
    }
  }
  const H = y + AXIS_H;
  const labelW = Math.min(420, Math.max(110, ...[...groups.values()].map((g) => g.name.length * CHAR_W + 16)));
  const t0 = Math.min(...bars.map((b) => b.start));
  const t1 = Math.max(...bars.map((b) => b.end));
  const span = Math.max(1, t1 - t0);
  const x = (t: number) => labelW + ((t - t0) / span) * (W - labelW - 16);
  const kids: SVGElement[] = [];
  const step = tickStep(span);
  for (let t = 0; t <= span + 1e-6; t += step) {
    kids.push(s('line', { x1: x(t0 + t), x2: x(t0 + t), y1: 6, y2: y, class: 'grid' }));
    kids.push(s('text', { x: x(t0 + t), y: y + 14, class: 'axis', 'text-anchor': 'middle' }, tickLabel(t, step)));
  }
  kids.push(s('line', { x1: labelW, x2: W - 16, y1: y, y2: y, class: 'axis-line' }));
  kids.push(s('text', { x: labelW + (W - labelW - 16) / 2, y: y + 32, class: 'axis-title', 'text-anchor': 'middle' }, 'time since the first task started'));
  let gy = 6;
  for (const [node, g] of groups) {
    kids.push(s('text', { x: 4, y: gy + 14, class: 'grouplabel' }, s('title', {}, node), g.name));
    gy += GROUP_H;
    for (const lane of g.lanes) {
      kids.push(s('text', { x: 16, y: gy + 15, class: 'rowlabel' }, `executor ${lane}`));
      kids.push(s('line', { x1: labelW, x2: W - 16, y1: gy + ROW_H - 0.5, y2: gy + ROW_H - 0.5, class: 'rowline' }));
      gy += ROW_H;
    }
  }
  const colours = new Map<string, string>();
  for (const b of bars) if (!colours.has(b.name)) colours.set(b.name, PALETTE[colours.size % PALETTE.length]);
  const fill = (b: TimelineBar, attrs: Record<string, string | number>) => {
    if (by === 'state') attrs.class += ` fill-${b.state}`;
    else attrs.fill = colours.get(b.name)!;
    return attrs;
  };
  const tip = (b: TimelineBar) =>
    s(
      'title',
      {},
      `${b.name} (${b.state}): ${duration(b.end - b.start)} from start to end, queued ${duration(Math.max(0, b.start - b.submittedAt))}, on ${b.nodeName} executor ${b.lane}`,
    );
  for (const b of bars) {
    const top = rowY.get(`${b.node}/${b.lane}`);
    if (top === undefined) continue;
    // The whole span, thin: includes the time it waited in get while others ran on its slot.
    kids.push(
      s(
        'rect',
        fill(b, { x: x(b.start), y: top + ROW_H - 6, width: Math.max(1.5, x(b.end) - x(b.start)), height: 3, class: 'span', 'data-task': b.task }),
        tip(b),
      ),
    );
  }
  for (const [key, segs] of running(bars)) {
    const top = rowY.get(key);
    if (top === undefined) continue;
    for (const { b, from, to } of segs) {
      kids.push(
        s(
          'rect',
          fill(b, {
            x: x(from),
            y: top + 3,
            width: Math.max(1.5, x(to) - x(from)),
            height: ROW_H - 11,
            rx: 2,
            class: 'bar',
            'data-task': b.task,
            'data-fn': b.name,
            'data-state': b.state,
          }),
          tip(b),
        ),
      );
    }
  }
  const svg = s(
    'svg',
    {
      viewBox: `0 0 ${W} ${H}`,
      class: 'timeline',
      role: 'img',
      'aria-label': `timeline: ${bars.length} tasks on ${data.rows.length} executor slots of ${groups.size} node(s) over ${duration(span)}`,
    },
    kids,
  );
  const legend =
    by === 'state'
      ? STATES.filter((st) => bars.some((b) => b.state === st)).map((st) => h('span', { class: 'legend-item' }, h('i', { class: `dot fill-${st}` }), st))
      : [...colours].map(([name, c]) => h('span', { class: 'legend-item' }, h('i', { class: 'dot', style: `background:${c}` }), name));
  return h(
    'figure',
    { class: 'timeline-wrap' },
    h('div', { class: 'scroll-x' }, svg),
    h(
      'figcaption',
      {},
      h(
        'span',
        { 'data-testid': 'timeline-caption' },
        `${data.bars.length} task(s) on ${data.rows.length} executor slot(s) of ${groups.size} node(s), ${duration(span)}${data.bars.length > MAX_BARS ? `; the first ${MAX_BARS} drawn` : ''}`,
      ),
      h('span', { class: 'legend' }, legend),
    ),
  );
}
