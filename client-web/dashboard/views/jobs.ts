// Jobs: every job (driver sessions and submitted programs) with its progress.
import * as Y from 'yjs';
import { ago, badge, duration, h, progressBar, progressHead } from '../dom.js';
import { card, swap, type Ctx, type JobView, type View } from '../context.js';
import type { RemoteJob } from '../../../shared/dashboard.js';

export function jobs(ctx: Ctx, root: HTMLElement): View {
  const body = h('div');
  root.append(
    h(
      'div',
      { class: 'toolbar' },
      ctx.role() === 'driver' ? h('a', { href: '#/submit', class: 'button primary' }, 'New job') : h('span', { class: 'muted' }, 'Read-only (viewer token)'),
    ),
    card('Jobs', body),
  );
  const update = () => {
    // This coordinator's jobs and the other coordinators' of a mesh (issue 15), newest first; a job this one runs
    // tasks of for its owner shows the owner's row.
    const merged = new Map<string, JobView & { coordinator?: string }>([
      ...(ctx.live.doc.getMap('jobs') as Y.Map<JobView>).entries(),
      ...(ctx.live.doc.getMap('remoteJobs') as Y.Map<RemoteJob>).entries(),
    ]);
    const list = [...merged].sort((a, b) => b[1].startedAt - a[1].startedAt);
    if (list.length === 0) return swap(body, h('p', { class: 'muted' }, 'No job yet. Submit one from the editor.'));
    swap(
      body,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'jobs' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['job', 'status', 'progress', 'running', 'failed', 'duration', 'started'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h(
            'tbody',
            {},
            list.map(([id, j]) => {
              return h(
                'tr',
                {},
                h(
                  'th',
                  { scope: 'row' },
                  h('a', { href: `#/jobs/${id}`, 'data-key': `job-${id}` }, j.name),
                  h('div', { class: 'sub mono' }, j.coordinator ? `${id} · ${j.kind} · coordinator ${j.coordinator}` : `${id} · ${j.kind}`),
                ),
                h('td', {}, badge(j.status)),
                h(
                  'td',
                  { class: 'progress-cell' },
                  progressBar(j, `job ${j.name} progress`),
                  h('span', { class: 'sub' }, `${progressHead(j)} · ${j.finished} / ${j.submitted} done`),
                ),
                h('td', { class: 'num' }, j.running),
                h('td', { class: 'num' }, j.failed),
                h('td', { class: 'num' }, duration((j.endedAt || Date.now()) - j.startedAt)),
                h('td', {}, ago(j.startedAt)),
              );
            }),
          ),
        ),
      ),
    );
  };
  update();
  return { title: 'Jobs', update };
}
