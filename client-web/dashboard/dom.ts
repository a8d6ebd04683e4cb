// A tiny hyperscript: enough to build the dashboard's views without a framework.
type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function s(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let u = -1;
  do {
    n /= 1024;
    u++;
  } while (n >= 1024 && u < units.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[u]}`;
}

export function num(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k` : String(Math.round(n * 10) / 10);
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function ago(ts: number): string {
  return ts ? `${duration(Math.max(0, Date.now() - ts))} ago` : '—';
}

export function time(ts: number): string {
  return ts ? new Date(ts).toLocaleTimeString([], { hour12: false }) : '—';
}

/** A badge whose colour says the state (see style.css `.st-*`). */
export function badge(state: string): HTMLElement {
  return h('span', { class: `badge st-${state}` }, state);
}

export interface Progress {
  status: string;
  submitted: number;
  finished: number;
  failed: number;
  cancelled: number;
  running: number;
}

const SUCCESS = new Set(['succeeded', 'finished']);
const ENDED = new Set(['succeeded', 'finished', 'failed', 'cancelled', 'timeout']);

/**
 * What a job's progress reads: "100%" only when it succeeded with every task
 * finished; a running job stops at 99%; a job that failed, was cancelled or
 * timed out says so instead of a percentage, and an empty one says "no tasks".
 */
export function progressHead(j: Progress): string {
  const ended = j.finished + j.failed + j.cancelled;
  if (ENDED.has(j.status) && !SUCCESS.has(j.status)) return j.status;
  if (j.submitted === 0) return 'no tasks';
  if (SUCCESS.has(j.status)) return j.finished === j.submitted ? '100%' : `${j.status} · ${Math.floor((j.finished / j.submitted) * 100)}% of tasks done`;
  return `${Math.min(99, Math.floor((ended / j.submitted) * 100))}%`;
}

export function progressText(j: Progress): string {
  return `${progressHead(j)} · ${j.finished} done / ${j.submitted} tasks · ${j.running} running · ${j.failed} failed · ${j.cancelled} cancelled`;
}

/** Finished, failed and cancelled tasks, each in its state's colour. */
export function progressBar(j: Progress, label: string): HTMLElement {
  const total = j.submitted;
  const pct = (x: number) => (total ? Math.min(100, (x / total) * 100) : 0);
  return h(
    'div',
    {
      class: 'progress',
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': Math.round(pct(j.finished)),
      'aria-valuetext': progressText(j),
      'aria-label': label,
    },
    h('div', { class: 'progress-done', style: `width:${pct(j.finished)}%` }),
    h('div', { class: 'progress-failed', style: `width:${pct(j.failed)}%` }),
    h('div', { class: 'progress-cancelled', style: `width:${pct(j.cancelled)}%` }),
  );
}
