// A job's timeline: a row per executor (per node), a bar per task.
import { duration, h, s } from './dom.js';

export interface Bar {
  task: string;
  name: string;
  state: string;
  node: string;
  nodeName: string;
  lane: number;
  start: number;
  end: number;
  submittedAt: number;
}

const MAX_BARS = 3000;

export function timeline(all: Bar[]): HTMLElement {
  const bars = all.slice(0, MAX_BARS);
  if (bars.length === 0) return h('p', { class: 'muted' }, 'No task has run yet.');
  const rows = new Map<string, { label: string; bars: Bar[] }>();
  for (const b of bars) {
    const key = `${b.node}/${b.lane}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { label: `${b.nodeName.length > 20 ? b.nodeName.slice(0, 19) + '…' : b.nodeName} · #${b.lane}`, bars: [] }));
    r.bars.push(b);
  }
  const sorted = [...rows.entries()].sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }));
  const t0 = Math.min(...bars.map((b) => b.start));
  const t1 = Math.max(...bars.map((b) => b.end));
  const span = Math.max(1, t1 - t0);
  const labelW = 210;
  const W = 1000;
  const rowH = 24;
  const H = sorted.length * rowH + 28;
  const x = (t: number) => labelW + ((t - t0) / span) * (W - labelW - 10);
  const kids: SVGElement[] = [];
  for (let i = 0; i <= 5; i++) {
    const t = t0 + (span / 5) * i;
    kids.push(s('line', { x1: x(t), x2: x(t), y1: 0, y2: H - 20, class: 'grid' }));
    kids.push(s('text', { x: x(t), y: H - 6, class: 'axis', 'text-anchor': 'middle' }, `+${duration(t - t0)}`));
  }
  sorted.forEach(([, r], i) => {
    const y = i * rowH + 4;
    kids.push(s('text', { x: 4, y: y + 14, class: 'rowlabel' }, r.label));
    for (const b of r.bars) {
      kids.push(
        s(
          'rect',
          { x: x(b.start), y, width: Math.max(1.5, x(b.end) - x(b.start)), height: rowH - 8, rx: 2, class: `fill-${b.state}` },
          s('title', {}, `${b.name}: ${duration(b.end - b.start)} (queued ${duration(b.start - b.submittedAt)}) on ${b.nodeName}`),
        ),
      );
    }
  });
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'timeline', role: 'img', 'aria-label': `timeline: ${bars.length} tasks on ${sorted.length} executors over ${duration(span)}` }, kids);
  return h('figure', { class: 'timeline-wrap' }, svg, h('figcaption', {}, `${all.length} task(s) on ${sorted.length} executor row(s), ${duration(span)}${all.length > MAX_BARS ? `; the first ${MAX_BARS} drawn` : ''}`));
}
