// Tables of tasks, objects and actors from the state API: filters and paging.
import { badge, bytes, duration, h, time } from '../dom.js';
import { card, swap, type Ctx, type View } from '../context.js';

interface Column<T> {
  label: string;
  cell: (row: T) => Node | string | number;
  num?: boolean;
}

interface TableSpec<T> {
  title: string;
  path: string;
  filters: {
    key: string;
    label: string;
    options?: string[];
    placeholder?: string;
    /** The query value for what was typed, or an Error saying what to type. */ parse?: (typed: string) => string | Error;
  }[];
  columns: Column<T>[];
  empty: string;
}

const PAGE = 50;

function table<T>(ctx: Ctx, root: HTMLElement, spec: TableSpec<T>, initial: Record<string, string> = {}): View {
  const values: Record<string, string> = { ...initial };
  let generation = 0;
  let offset = 0;
  const body = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'filters',
      onsubmit: (e: Event) => {
        e.preventDefault();
        offset = 0;
        void load();
      },
    },
    spec.filters.map((f) => {
      const id = `f-${f.key}`;
      const input = f.options
        ? h(
            'select',
            {
              id,
              name: f.key,
              onchange: (e: Event) => {
                values[f.key] = (e.target as HTMLSelectElement).value;
                offset = 0;
                void load();
              },
            },
            h('option', { value: '' }, 'any'),
            f.options.map((o) => h('option', { value: o }, o)),
          )
        : h('input', {
            id,
            name: f.key,
            type: 'search',
            placeholder: f.placeholder ?? f.label,
            value: values[f.key] ?? '',
            oninput: (e: Event) => {
              values[f.key] = (e.target as HTMLInputElement).value.trim();
            },
          });
      return h('label', { for: id }, h('span', {}, f.label), input);
    }),
    h('button', { type: 'submit', class: 'button' }, 'Apply'),
  );
  root.append(card(spec.title, form, body));
  const load = async () => {
    // Only the latest request may render (an older, slower answer must not overwrite it).
    const mine = ++generation;
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    for (const f of spec.filters) {
      const typed = values[f.key];
      if (!typed) continue;
      const v = f.parse ? f.parse(typed) : typed;
      if (v instanceof Error) return swap(body, h('p', { class: 'error', role: 'alert' }, `${f.label}: ${v.message}`));
      q.set(f.key, v);
    }
    try {
      const { items, total } = await ctx.api.page<T>(`${spec.path}?${q}`);
      if (mine !== generation) return;
      const pager = h(
        'nav',
        { class: 'pager', 'aria-label': 'pages' },
        h(
          'button',
          {
            type: 'button',
            class: 'button',
            disabled: offset === 0,
            onclick: () => {
              offset = Math.max(0, offset - PAGE);
              void load();
            },
            'data-key': 'prev',
          },
          '← Previous',
        ),
        h('span', {}, total ? `${offset + 1}–${offset + items.length} of ${total}` : '0 rows'),
        h(
          'button',
          {
            type: 'button',
            class: 'button',
            disabled: offset + PAGE >= total,
            onclick: () => {
              offset += PAGE;
              void load();
            },
            'data-key': 'next',
          },
          'Next →',
        ),
      );
      swap(
        body,
        items.length === 0
          ? h('p', { class: 'muted' }, spec.empty)
          : h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                {},
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    spec.columns.map((c) => h('th', { scope: 'col' }, c.label)),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  items.map((row) =>
                    h(
                      'tr',
                      {},
                      spec.columns.map((c) => h('td', { class: c.num ? 'num' : '' }, c.cell(row))),
                    ),
                  ),
                ),
              ),
            ),
        pager,
      );
    } catch (e) {
      swap(body, h('p', { class: 'error', role: 'alert' }, (e as Error).message));
    }
  };
  void load();
  return { title: spec.title };
}

const short = (id: string | null) => (id ? h('span', { class: 'mono', title: id }, id.slice(0, 12) + '…') : '—');

interface TaskRow {
  id: string;
  job: string;
  name: string;
  state: string;
  node: string | null;
  attempt: number;
  submittedAt: number;
  startedAt: number;
  endedAt: number;
}

export function tasks(ctx: Ctx, root: HTMLElement, job?: string): View {
  return table<TaskRow>(
    ctx,
    root,
    {
      title: 'Tasks',
      path: '/api/tasks',
      filters: [
        { key: 'job', label: 'job id' },
        { key: 'state', label: 'state', options: ['waiting-args', 'queued', 'infeasible', 'assigned', 'running', 'finished', 'failed', 'cancelled'] },
        { key: 'node', label: 'node id' },
        { key: 'name', label: 'name' },
      ],
      columns: [
        { label: 'task', cell: (t) => short(t.id) },
        { label: 'name', cell: (t) => t.name },
        { label: 'state', cell: (t) => badge(t.state) },
        { label: 'job', cell: (t) => h('a', { href: `#/jobs/${t.job}`, class: 'mono' }, t.job) },
        { label: 'node', cell: (t) => short(t.node) },
        { label: 'attempt', cell: (t) => t.attempt, num: true },
        { label: 'submitted', cell: (t) => time(t.submittedAt) },
        // A group member's start is its end less its node's measure (fractional ms): whole ms, as elsewhere.
        { label: 'ran', cell: (t) => (t.startedAt && t.endedAt ? duration(t.endedAt - t.startedAt) : '—'), num: true },
      ],
      empty: 'No task matches. Tasks of ended jobs stay listed for 10 minutes; give a job id to see the tasks of an older one.',
    },
    job ? { job } : {},
  );
}

interface ObjectRow {
  id: string;
  job: string;
  state: string;
  size: number;
  inline: boolean;
  refs: number;
  put: boolean;
  locations: string[];
  error: string | null;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** "65536", "64k", "1.5 MiB" → bytes (the API's `minSize`). */
export function parseSize(typed: string): string | Error {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(typed.trim());
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) return new Error('give bytes, or a number with KiB, MiB or GiB (e.g. 64 KiB)');
  return String(Math.round(Number(m[1]) * unit));
}

export function objects(ctx: Ctx, root: HTMLElement): View {
  return table<ObjectRow>(ctx, root, {
    title: 'Objects',
    path: '/api/objects',
    filters: [
      { key: 'job', label: 'job id' },
      { key: 'state', label: 'state', options: ['pending', 'ready', 'failed', 'freed'] },
      { key: 'minSize', label: 'min size', placeholder: 'e.g. 64 KiB', parse: parseSize },
    ],
    columns: [
      { label: 'object', cell: (o) => short(o.id) },
      { label: 'state', cell: (o) => badge(o.state) },
      { label: 'size', cell: (o) => bytes(o.size), num: true },
      { label: 'where', cell: (o) => (o.inline ? 'coordinator (inline)' : o.locations.map((l) => l.slice(0, 12)).join(', ') || '—') },
      { label: 'made by', cell: (o) => (o.put ? 'put' : 'task') },
      { label: 'refs', cell: (o) => o.refs, num: true },
      { label: 'job', cell: (o) => h('a', { href: `#/jobs/${o.job}`, class: 'mono' }, o.job) },
      { label: 'error', cell: (o) => o.error ?? '' },
    ],
    empty: 'No object matches. Freed objects stay listed for 10 minutes.',
  });
}

interface ActorRow {
  id: string;
  name: string | null;
  className: string;
  job: string;
  state: string;
  node: string | null;
  calls: number;
  pendingCalls: number;
  createdAt: number;
  deathCause: string | null;
}

export function actors(ctx: Ctx, root: HTMLElement): View {
  return table<ActorRow>(ctx, root, {
    title: 'Actors',
    path: '/api/actors',
    filters: [
      { key: 'job', label: 'job id' },
      { key: 'state', label: 'state', options: ['pending', 'infeasible', 'alive', 'dead'] },
      { key: 'name', label: 'name' },
    ],
    columns: [
      { label: 'actor', cell: (a) => short(a.id) },
      { label: 'class', cell: (a) => a.className },
      { label: 'name', cell: (a) => a.name ?? '—' },
      { label: 'state', cell: (a) => badge(a.state) },
      { label: 'node', cell: (a) => short(a.node) },
      { label: 'calls', cell: (a) => a.calls, num: true },
      { label: 'pending', cell: (a) => a.pendingCalls, num: true },
      { label: 'job', cell: (a) => h('a', { href: `#/jobs/${a.job}`, class: 'mono' }, a.job) },
      { label: 'created', cell: (a) => time(a.createdAt) },
      { label: 'death', cell: (a) => a.deathCause ?? '' },
    ],
    empty: 'No actor matches. Actors of ended jobs stay listed (dead) for 10 minutes.',
  });
}
