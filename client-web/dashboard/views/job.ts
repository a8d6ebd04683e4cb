// One job: progress, result or error, log, task graph, timeline, Cancel.
import * as Y from 'yjs';
import { ApiError } from '../api.js';
import { badge, duration, h, progressBar, progressText, time } from '../dom.js';
import { card, swap, type Ctx, type JobView, type View } from '../context.js';
import { taskGraph, type TaskView } from '../graph.js';
import type { LogView, Timeline } from '../../../shared/dashboard.js';
import { timeline, type ColourBy } from '../timeline.js';

type Tab = 'log' | 'graph' | 'timeline';
/** The timeline's colouring, kept while the page lives. */
let colourBy: ColourBy = 'function';
const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'timeout', 'finished']);

export function job(ctx: Ctx, root: HTMLElement, id: string, tab: Tab): View {
  const head = h('div', { class: 'job-head' });
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'job details' });
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel', id: 'job-panel', tabindex: 0 });
  root.append(head, card('Details', tabs, panel));
  let disposed = false;
  let lastFetch = 0;
  let wasEnded = false;
  // Another coordinator's job (a mesh, issue 15) is in remoteJobs (also when this one runs some of its tasks as a guest).
  const jobOf = () => (ctx.live.doc.getMap('remoteJobs') as Y.Map<JobView>).get(id) ?? (ctx.live.doc.getMap('jobs') as Y.Map<JobView>).get(id);

  const renderTabs = () => {
    const names: [Tab, string][] = [
      ['log', 'Log'],
      ['graph', 'Task graph'],
      ['timeline', 'Timeline'],
    ];
    swap(
      tabs,
      ...names.map(([t, label]) =>
        h(
          'a',
          {
            role: 'tab',
            href: `#/jobs/${id}/${t}`,
            'aria-selected': t === tab ? 'true' : 'false',
            'aria-controls': 'job-panel',
            class: t === tab ? 'tab active' : 'tab',
            'data-key': `tab-${t}`,
          },
          label,
        ),
      ),
    );
  };

  const cancel = async () => {
    try {
      await ctx.api.del(`/api/jobs/${id}`);
      ctx.announce('Job cancelled');
    } catch (e) {
      ctx.announce(`Cancel failed: ${(e as Error).message}`);
    }
  };

  const exportTrace = async () => {
    const text = await ctx.api.text(`/api/timeline?job=${id}`);
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const a = h('a', { href: url, download: `tabmesh-${id}.trace.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  const renderHead = () => {
    const j = jobOf();
    if (!j) {
      swap(
        head,
        h('h1', {}, `Job ${id}`),
        h(
          'p',
          { class: 'muted' },
          'This job is not in the live view (it may be older than the 50 most recent jobs); its details below come from the state API.',
        ),
      );
      return;
    }
    const running = !ENDED.has(j.status);
    swap(
      head,
      h(
        'div',
        { class: 'job-title' },
        h('h1', {}, j.name, ' ', badge(j.status)),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'button', onclick: () => void exportTrace(), 'data-key': 'export' }, 'Export trace'),
          running && ctx.role() === 'driver'
            ? h('button', { type: 'button', class: 'button danger', onclick: () => void cancel(), 'data-key': 'cancel' }, 'Cancel')
            : null,
        ),
      ),
      h('div', { class: 'sub mono' }, `${id} · ${j.kind} · started ${time(j.startedAt)} · ${duration((j.endedAt || Date.now()) - j.startedAt)}`),
      h(
        'div',
        { class: 'job-progress' },
        progressBar(j, 'job progress'),
        h('div', { class: 'progress-text', 'data-testid': 'progress-text' }, progressText(j)),
      ),
      j.result ? h('div', { class: 'result' }, h('h3', {}, 'Result'), h('pre', { 'data-testid': 'result' }, pretty(j.result))) : null,
      j.error ? h('div', { class: 'error', role: 'alert' }, h('h3', {}, 'Error'), h('pre', { 'data-testid': 'error' }, j.error)) : null,
      // A driver session's program ran elsewhere: how its session ended is what the mesh knows of its end.
      j.ended ? h('p', { class: 'sub', 'data-testid': 'ended' }, `Ended: ${j.ended}.`) : null,
    );
  };

  const renderLog = () => {
    const lines = (ctx.live.doc.getMap('logs') as Y.Map<Y.Array<LogView>>).get(id)?.toArray() ?? [];
    const pre = h(
      'pre',
      { class: 'log', 'aria-live': 'polite', 'data-testid': 'log' },
      lines.length
        ? lines.map((l) => h('div', { class: `log-${l.level}` }, h('span', { class: 'log-time' }, time(l.ts)), ' ', l.text))
        : h('span', { class: 'muted' }, ENDED.has(jobOf()?.status ?? 'finished') ? 'The job printed nothing.' : 'No output yet.'),
    );
    swap(
      panel,
      pre,
      h(
        'p',
        { class: 'sub' },
        'The last 100 lines, live. ',
        h(
          'a',
          {
            href: `#`,
            onclick: (e: Event) => {
              e.preventDefault();
              void fullLog();
            },
            'data-key': 'full',
          },
          'Load the full log',
        ),
      ),
    );
    pre.scrollTop = pre.scrollHeight;
  };
  const fullLog = async () => {
    const lines = await ctx.api.get<{ ts: number; level: string; text: string }[]>(`/api/jobs/${id}/log?limit=1000`);
    swap(
      panel,
      h(
        'pre',
        { class: 'log' },
        lines.map((l) => h('div', { class: `log-${l.level}` }, h('span', { class: 'log-time' }, time(l.ts)), ' ', l.text)),
      ),
    );
  };

  const fetchDetail = async () => {
    lastFetch = Date.now();
    try {
      if (tab === 'graph') {
        const g = await ctx.api.get<{ tasks: TaskView[]; omitted: number }>(`/api/jobs/${id}/graph`);
        if (!disposed) swap(panel, g.tasks.length ? taskGraph(g.tasks, g.omitted) : h('p', { class: 'muted' }, 'No task yet.'));
      } else if (tab === 'timeline') {
        lastTimeline = await ctx.api.get<Timeline>(`/api/timeline?job=${id}&format=bars`);
        if (!disposed) renderTimeline();
      }
    } catch (e) {
      if (!disposed) swap(panel, h('p', { class: 'error' }, e instanceof ApiError ? e.message : String(e)));
    }
  };

  let lastTimeline: Timeline | null = null;
  const renderTimeline = () => {
    if (!lastTimeline) return;
    const choice = (value: ColourBy, label: string) =>
      h(
        'label',
        { class: 'seg' },
        h('input', {
          type: 'radio',
          name: 'colour-by',
          value,
          checked: colourBy === value,
          'data-key': `by-${value}`,
          onchange: () => {
            colourBy = value;
            renderTimeline();
          },
        }),
        label,
      );
    swap(
      panel,
      h('fieldset', { class: 'colour-by' }, h('legend', {}, 'Colour by'), choice('function', 'function'), choice('state', 'state')),
      timeline(lastTimeline, colourBy),
    );
  };

  const update = () => {
    renderHead();
    const j = jobOf();
    const ended = !j || ENDED.has(j.status);
    if (tab === 'log') renderLog();
    // Graph and timeline come from the state API: refresh while running, and once at the end.
    else if ((!ended && Date.now() - lastFetch > 2000) || (ended && !wasEnded)) void fetchDetail();
    wasEnded = ended;
  };
  renderTabs();
  renderHead();
  if (tab === 'log') renderLog();
  else void fetchDetail();
  wasEnded = ENDED.has(jobOf()?.status ?? 'finished');
  return {
    title: `Job ${jobOf()?.name ?? id}`,
    update,
    dispose: () => {
      disposed = true;
    },
  };
}

function pretty(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}
