// Overview: nodes, throughput and objects over time, tasks by state, events.
import * as Y from 'yjs';
import { areaChart, stackedBar, type Point } from '../charts.js';
import { ago, badge, bytes, h, num, time } from '../dom.js';
import type { DocCounts, DocTotals, EventView, NodeView, RemoteNode, SeriesPoint } from '../../../shared/dashboard.js';
import { card, swap, type Ctx, type View } from '../context.js';

export function overview(ctx: Ctx, root: HTMLElement): View {
  const body = h('div', { class: 'overview' });
  root.append(body);
  const update = () => {
    const doc = ctx.live.doc;
    const counts = (doc.getMap('meta').get('counts') ?? {}) as Partial<DocCounts>;
    const totals = (doc.getMap('meta').get('totals') ?? {}) as Partial<DocTotals>;
    const series = [...(doc.getMap('series') as Y.Map<SeriesPoint>).values()].sort((a, b) => a.t - b.t);
    // This coordinator's nodes, then the other coordinators' of a mesh (issue 15: sampled apart, every 2 s).
    const own = [...(doc.getMap('nodes') as Y.Map<NodeView>).entries()].sort((a, b) => a[1].joinedAt - b[1].joinedAt);
    const remote = [...(doc.getMap('remoteNodes') as Y.Map<RemoteNode>).entries()].sort((a, b) => a[1].joinedAt - b[1].joinedAt);
    const nodes: [string, NodeView & { coordinator?: string }][] = [...own, ...remote];
    const alive = nodes.filter(([, n]) => n.state === 'alive');
    const cores = alive.reduce((a, [, n]) => a + n.cpus, 0);
    const rate = series.at(-1)?.tasksPerSec ?? 0;
    const stat = (label: string, value: string, hint?: string) =>
      h(
        'div',
        { class: 'stat' },
        h('div', { class: 'stat-value' }, value),
        h('div', { class: 'stat-label' }, label),
        hint ? h('div', { class: 'stat-hint' }, hint) : null,
      );
    const parts = [
      { label: 'waiting for args', value: counts.waitingArgs ?? 0, cls: 'waiting-args' },
      { label: 'queued', value: counts.queued ?? 0, cls: 'queued' },
      { label: 'assigned', value: counts.assigned ?? 0, cls: 'assigned' },
      { label: 'running', value: counts.running ?? 0, cls: 'running' },
      { label: 'finished', value: counts.finished ?? 0, cls: 'finished' },
      { label: 'failed', value: counts.failed ?? 0, cls: 'failed' },
      { label: 'cancelled', value: counts.cancelled ?? 0, cls: 'cancelled' },
    ];
    const events = (doc.getArray('events') as Y.Array<EventView>).toArray().slice(-12).reverse();
    // The durable GCS refuses writes and new tasks are refused until it takes them (issue 14).
    const backlog = doc.getMap('meta').get('gcsBacklog') as string | null | undefined;
    swap(
      body,
      backlog ? h('div', { class: 'health-alert', role: 'alert' }, `GCS storage: ${backlog}`) : null,
      h(
        'div',
        { class: 'stats' },
        stat(
          'nodes',
          String(alive.length),
          `${alive.filter(([, n]) => n.kind === 'browser').length} tabs · ${alive.filter(([, n]) => n.kind === 'edge').length} edge`,
        ),
        stat('cores', String(cores)),
        // A mesh of coordinators (issue 15): the whole mesh's counts, whichever coordinator serves this page.
        totals.coordinators
          ? stat('coordinators', String(totals.coordinators), `${num(totals.meshNodes ?? 0)} nodes · ${num(totals.meshJobs ?? 0)} jobs in the mesh`)
          : null,
        stat('tasks / s', num(rate)),
        stat('objects', num(totals.objects ?? 0)),
        stat('jobs running', String(totals.jobsRunning ?? 0)),
        stat('actors alive', String(totals.actorsAlive ?? 0), `${totals.actorsDead ?? 0} dead`),
        stat('tasks finished', num(counts.finished ?? 0), `${num(counts.failed ?? 0)} failed`),
      ),
      h(
        'div',
        { class: 'grid2' },
        card(
          'Tasks per second',
          areaChart(
            series.map((p): Point => ({ t: p.t, v: p.tasksPerSec })),
            { label: 'tasks per second', unit: 'tasks/s', color: '#4fd1c5' },
          ),
        ),
        card(
          'Objects in the store',
          areaChart(
            series.map((p): Point => ({ t: p.t, v: p.objects })),
            { label: 'objects', unit: 'objects', color: '#a78bfa' },
          ),
        ),
      ),
      card(
        'Tasks by state',
        stackedBar(parts),
        h(
          'ul',
          { class: 'state-counts' },
          parts.map((p) => h('li', {}, h('i', { class: `dot fill-${p.cls}` }), `${p.label} `, h('strong', {}, num(p.value)))),
        ),
      ),
      card(
        'Nodes',
        nodes.length === 0
          ? h(
              'p',
              { class: 'muted' },
              'No node has joined yet. Open the volunteer page in a tab, or run ',
              h('code', {}, 'tabmesh node --coordinator URL'),
              '.',
            )
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
                    ['node', 'kind', 'state', 'cores', 'load', 'objects held', 'network in / out', 'tasks done', 'trust', 'joined'].map((c) =>
                      h('th', { scope: 'col' }, c),
                    ),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  nodes.map(([id, n]) =>
                    h(
                      'tr',
                      { class: n.state === 'lost' ? 'lost' : '' },
                      h(
                        'th',
                        { scope: 'row', title: id, class: 'node-name' },
                        n.name,
                        h('div', { class: 'sub mono' }, n.coordinator ? `${id} · coordinator ${n.coordinator}` : id),
                      ),
                      h('td', {}, h('span', { class: `kind kind-${n.kind}` }, n.kind === 'browser' ? 'tab' : 'edge')),
                      h('td', {}, badge(n.state)),
                      h('td', { class: 'num' }, n.cpus),
                      h('td', {}, loadBar(n)),
                      h('td', { class: 'num' }, num(n.objects), h('div', { class: 'sub' }, bytes(n.storeBytes))),
                      h('td', { class: 'num' }, `${bytes(n.bytesIn)} / ${bytes(n.bytesOut)}`),
                      h('td', { class: 'num' }, num(n.tasksDone)),
                      h('td', {}, n.trust ?? 'new'),
                      h('td', {}, ago(n.joinedAt)),
                    ),
                  ),
                ),
              ),
            ),
      ),
      card(
        'Recent events',
        h(
          'ol',
          { class: 'events' },
          events.map((e) =>
            h(
              'li',
              {},
              h('time', {}, time(e.ts)),
              h('span', { class: `ev ev-${e.kind.split('-')[0]} ev-${e.kind}` }, e.kind),
              h('span', { class: 'ev-msg' }, e.message),
            ),
          ),
        ),
      ),
    );
  };
  update();
  return { title: 'Overview', update };
}

function loadBar(n: NodeView): HTMLElement {
  const pct = n.cpus ? Math.min(100, (n.running / n.cpus) * 100) : 0;
  return h(
    'div',
    { class: 'load', title: `${n.running} running on ${n.cpus} cores, ${n.queued} queued` },
    h('div', { class: 'load-bar' }, h('div', { style: `width:${pct}%` })),
    h('span', {}, `${n.running}/${n.cpus}`, n.queued ? h('span', { class: 'sub' }, ` +${n.queued} queued`) : null),
  );
}
