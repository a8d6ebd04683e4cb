// A job's task graph: tasks layered by dependency depth, edges from the
// tasks whose outputs they consumed (and from parent to child for nested
// tasks), put objects as small diamonds. Colour is state.
import { h, s } from './dom.js';

export interface TaskView {
  id: string;
  parent: string;
  name: string;
  state: string;
  node: string | null;
  startedAt: number;
  endedAt: number;
  submittedAt: number;
  deps: string[];
  puts: string[];
}

const MAX_DRAWN = 400;

export function taskGraph(tasks: TaskView[], omitted: number): HTMLElement {
  const shown = tasks.slice(0, MAX_DRAWN);
  const byId = new Map(shown.map((t) => [t.id, t]));
  const depth = new Map<string, number>();
  const depthOf = (t: TaskView, seen = new Set<string>()): number => {
    const known = depth.get(t.id);
    if (known !== undefined) return known;
    if (seen.has(t.id)) return 0;
    seen.add(t.id);
    let d = 0;
    for (const p of [...t.deps, t.parent]) {
      const u = byId.get(p);
      if (u) d = Math.max(d, depthOf(u, seen) + 1);
    }
    depth.set(t.id, d);
    return d;
  };
  const hasPuts = shown.some((t) => t.puts.length > 0);
  const layers: TaskView[][] = [];
  for (const t of shown) (layers[depthOf(t) + (hasPuts ? 1 : 0)] ??= []).push(t);
  const puts = [...new Set(shown.flatMap((t) => t.puts))];
  if (hasPuts) layers[0] = [];
  const maxRow = Math.max(puts.length, ...layers.map((l) => l?.length ?? 0), 1);
  const colW = 150;
  // Fit the tallest layer in about 560 px: big graphs get smaller rows (and no labels).
  const rowH = Math.max(8, Math.min(36, Math.floor(560 / maxRow)));
  const W = Math.max(400, layers.length * colW + 60);
  const H = maxRow * rowH + 40;
  const pos = new Map<string, { x: number; y: number }>();
  const place = (items: string[], col: number) => {
    const offset = (H - items.length * rowH) / 2;
    items.forEach((id, i) => pos.set(id, { x: 40 + col * colW, y: offset + i * rowH + rowH / 2 }));
  };
  // Later layers sit at the mean height of what they consume (barycentre), spaced by rowH: trees look like trees.
  const placeNear = (items: TaskView[], col: number) => {
    const want = items.map((t, i) => {
      const ys = [...t.deps, t.parent, ...t.puts].map((p) => pos.get(p)?.y).filter((y): y is number => y !== undefined);
      return { id: t.id, y: ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : (H / (items.length + 1)) * (i + 1) };
    });
    want.sort((a, b) => a.y - b.y);
    let prev = -Infinity;
    const ys = want.map((w) => (prev = Math.max(w.y, prev + rowH)));
    // Shift the column back so that it is centred on what it wanted, and inside the picture.
    const shift = want.reduce((a, w, i) => a + w.y - ys[i], 0) / want.length;
    const lo = rowH / 2 + 10 - Math.min(...ys.map((y) => y + shift));
    const hi = H - rowH / 2 - 10 - Math.max(...ys.map((y) => y + shift));
    const d = Math.min(Math.max(shift, shift + lo), shift + hi);
    want.forEach((w, i) => pos.set(w.id, { x: 40 + col * colW, y: ys[i] + d }));
  };
  if (hasPuts) place(puts, 0);
  layers.forEach((l, i) => {
    if (!l || l.length === 0) return;
    if (i === (hasPuts ? 1 : 0) && !hasPuts)
      place(
        l.map((t) => t.id),
        i,
      );
    else placeNear(l, i);
  });
  const edges: SVGElement[] = [];
  const nodes: SVGElement[] = [];
  const edge = (a: { x: number; y: number }, b: { x: number; y: number }, cls: string) => {
    const mx = (a.x + b.x) / 2;
    edges.push(s('path', { d: `M${a.x + 8},${a.y} C${mx},${a.y} ${mx},${b.y} ${b.x - 8},${b.y}`, class: `edge ${cls}` }));
  };
  for (const t of shown) {
    const b = pos.get(t.id)!;
    for (const d of t.deps) {
      const a = pos.get(d);
      if (a) edge(a, b, 'edge-data');
    }
    const p = pos.get(t.parent);
    if (p) edge(p, b, 'edge-nested');
    for (const o of t.puts) {
      const a = pos.get(o);
      if (a) edge(a, b, 'edge-data');
    }
  }
  const small = rowH < 24;
  const r = Math.max(3, Math.min(8, rowH / 2 - 1));
  for (const o of puts) {
    const { x, y } = pos.get(o)!;
    nodes.push(
      s(
        'g',
        { class: 'gnode' },
        s('rect', { x: x - 6, y: y - 6, width: 12, height: 12, transform: `rotate(45 ${x} ${y})`, class: 'obj' }),
        s('title', {}, `object ${o} (put)`),
      ),
    );
  }
  for (const t of shown) {
    const { x, y } = pos.get(t.id)!;
    const dur = t.endedAt && t.startedAt ? `, ran ${t.endedAt - t.startedAt} ms` : '';
    nodes.push(
      s(
        'g',
        { class: 'gnode' },
        s('circle', { cx: x, cy: y, r, class: `fill-${t.state}` }),
        small ? null : s('text', { x: x + 13, y: y + 4, class: 'glabel' }, t.name.length > 16 ? t.name.slice(0, 15) + '…' : t.name),
        s('title', {}, `${t.name} (${t.id.slice(0, 12)}…): ${t.state}${dur}`),
      ),
    );
  }
  const svg = s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'dag', role: 'img', 'aria-label': `task graph of ${tasks.length} tasks` },
    edges,
    nodes,
  );
  return h(
    'figure',
    { class: 'dag-wrap' },
    h('div', { class: 'scroll-x', tabindex: 0, 'aria-label': 'task graph, scrollable' }, svg),
    h(
      'figcaption',
      {},
      `${tasks.length} task(s)`,
      tasks.length > MAX_DRAWN || omitted ? ` — drawing the first ${shown.length}; ${omitted + Math.max(0, tasks.length - MAX_DRAWN)} more not drawn` : '',
      legend(),
    ),
  );
}

export function legend(): HTMLElement {
  const states = ['waiting-args', 'queued', 'assigned', 'running', 'finished', 'failed', 'cancelled'];
  return h(
    'span',
    { class: 'legend' },
    states.map((st) => h('span', { class: 'legend-item' }, h('i', { class: `dot fill-${st}` }), st)),
  );
}
