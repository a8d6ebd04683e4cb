// Submit: an editor with example workloads; Run submits the code as a job.
import { EXAMPLES } from '../examples.js';
import { h } from '../dom.js';
import { card, type Ctx, type View } from '../context.js';

const DRAFT_KEY = 'tabmesh.dashboard.draft';

export function submit(ctx: Ctx, root: HTMLElement): View {
  const saved = sessionStorage.getItem(DRAFT_KEY);
  const first = EXAMPLES[0];
  const editor = h('textarea', { id: 'source', class: 'editor', spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': 'editor-help', rows: 24 }) as HTMLTextAreaElement;
  editor.value = saved ?? first.source;
  const name = h('input', { id: 'job-name', type: 'text', value: saved ? 'my job' : first.title, maxlength: 120 }) as HTMLInputElement;
  // Runtime env (issue 16): packages the job's tasks may mesh.import, resolved in the coordinator's folder.
  const packages = h('input', { id: 'job-packages', type: 'text', value: saved ? '' : (first.packages ?? []).join(' '), placeholder: 'e.g. @sindresorhus/slugify', maxlength: 1000 }) as HTMLInputElement;
  const description = h('p', { class: 'muted', id: 'example-desc' }, saved ? '' : first.description);
  const status = h('p', { class: 'status', role: 'status' });
  const run = h('button', { type: 'submit', class: 'button primary', id: 'run' }, 'Run') as HTMLButtonElement;
  const select = h(
    'select',
    {
      id: 'example',
      onchange: () => {
        const ex = EXAMPLES.find((e) => e.id === select.value);
        if (!ex) return;
        editor.value = ex.source;
        name.value = ex.title;
        packages.value = (ex.packages ?? []).join(' ');
        description.textContent = ex.description;
        sessionStorage.removeItem(DRAFT_KEY);
      },
    },
    EXAMPLES.map((e) => h('option', { value: e.id }, e.title)),
  ) as HTMLSelectElement;
  editor.addEventListener('input', () => sessionStorage.setItem(DRAFT_KEY, editor.value));
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  const form = h(
    'form',
    {
      class: 'submit',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        run.disabled = true;
        status.textContent = 'Submitting…';
        try {
          const list = packages.value.split(/[\s,]+/).filter(Boolean);
          const runtimeEnv = list.length ? { packages: list } : undefined;
          const { id } = await ctx.api.post<{ id: string }>('/api/jobs', { source: editor.value, name: name.value, runtimeEnv });
          ctx.announce(`Job ${name.value} started`);
          ctx.navigate(`#/jobs/${id}`);
        } catch (err) {
          status.textContent = `Could not start the job: ${(err as Error).message}`;
          run.disabled = false;
        }
      },
    },
    h(
      'div',
      { class: 'form-row' },
      h('label', { for: 'example' }, h('span', {}, 'Example'), select),
      h('label', { for: 'job-name' }, h('span', {}, 'Job name'), name),
      h('label', { for: 'job-packages' }, h('span', {}, 'Packages'), packages),
    ),
    description,
    h('label', { for: 'source', class: 'editor-label' }, 'Program: the body of an async function; ', h('code', {}, 'mesh'), ' is in scope, and what it returns is the result.'),
    editor,
    h('p', { id: 'editor-help', class: 'sub' }, 'Ctrl+Enter runs. Tab moves focus out of the editor, as everywhere else.'),
    h('div', { class: 'form-row' }, run, status),
  );
  if (ctx.role() !== 'driver') {
    run.disabled = true;
    status.textContent = 'A viewer token can read but not submit: open the dashboard with the driver token to run jobs.';
  }
  root.append(card('Submit a job', form));
  return { title: 'Submit' };
}
