// Small hand-made SVG charts: an area chart over time with a few gridlines.
import { num, s } from './dom.js';

export interface Point {
  t: number;
  v: number;
}

export function areaChart(points: Point[], opts: { label: string; unit: string; color: string; height?: number; width?: number }): SVGElement {
  const W = opts.width ?? 560;
  const H = opts.height ?? 160;
  const pad = { l: 44, r: 10, t: 12, b: 22 };
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const max = niceMax(Math.max(1, ...points.map((p) => p.v)));
  const t1 = points.length ? points[points.length - 1].t : Date.now();
  const span = 120_000;
  const x = (t: number) => pad.l + iw * (1 - (t1 - t) / span);
  const y = (v: number) => pad.t + ih * (1 - v / max);
  const kids: SVGElement[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    kids.push(s('line', { x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v), class: 'grid' }));
    kids.push(s('text', { x: pad.l - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, num(v)));
  }
  for (const sec of [120, 90, 60, 30, 0]) {
    kids.push(s('text', { x: x(t1 - sec * 1000), y: H - 6, class: 'axis', 'text-anchor': 'middle' }, sec ? `-${sec}s` : 'now'));
  }
  const visible = points.filter((p) => t1 - p.t <= span);
  if (visible.length > 1) {
    const line = visible.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
    const area = `${line}L${x(visible[visible.length - 1].t).toFixed(1)},${y(0)}L${x(visible[0].t).toFixed(1)},${y(0)}Z`;
    const id = `g-${opts.label.replace(/\W/g, '')}`;
    kids.push(
      s(
        'defs',
        {},
        s(
          'linearGradient',
          { id, x1: 0, x2: 0, y1: 0, y2: 1 },
          s('stop', { offset: '0%', 'stop-color': opts.color, 'stop-opacity': 0.45 }),
          s('stop', { offset: '100%', 'stop-color': opts.color, 'stop-opacity': 0.02 }),
        ),
      ),
    );
    kids.push(s('path', { d: area, fill: `url(#${id})` }));
    kids.push(s('path', { d: line, fill: 'none', stroke: opts.color, 'stroke-width': 2, 'stroke-linejoin': 'round' }));
  }
  const last = visible.at(-1)?.v ?? 0;
  return s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `${opts.label}: ${num(last)} ${opts.unit} now, last two minutes` },
    kids,
  );
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Tasks by state as one stacked bar. */
export function stackedBar(parts: { label: string; value: number; cls: string }[]): SVGElement {
  const total = parts.reduce((a, p) => a + p.value, 0) || 1;
  let x = 0;
  const rects = parts.map((p) => {
    const w = (p.value / total) * 100;
    const r = s('rect', { x: `${x}%`, y: 0, width: `${w}%`, height: 14, class: `fill-${p.cls}` }, s('title', {}, `${p.label}: ${p.value}`));
    x += w;
    return r;
  });
  return s('svg', { class: 'stacked', width: '100%', height: 14, role: 'img', 'aria-label': parts.map((p) => `${p.label} ${p.value}`).join(', ') }, rects);
}
