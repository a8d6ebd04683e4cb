// Submit: an editor with example workloads; Run submits the code as a job.
import { EXAMPLES, type Example } from '../examples.js';
import { h } from '../dom.js';
import { codeEditor } from '../editor.js';
import { card, type Ctx, type View } from '../context.js';

const DRAFT_KEY = 'tabmesh.dashboard.draft';

export function submit(ctx: Ctx, root: HTMLElement): View {
  const saved = sessionStorage.getItem(DRAFT_KEY);
  // The example the editor started from: while the code is that example's,
  // the job bears its name; once edited, it is "my job" (unless named by hand).
  let example: Example = (saved !== null && EXAMPLES.find((e) => e.source === saved)) || EXAMPLES[0];
  const code = codeEditor({ id: 'source', 'aria-describedby': 'editor-help', rows: '24' });
  const editor = code.textarea;
  code.set(saved ?? example.source);
  let namedByHand = false;
  const name = h('input', { id: 'job-name', type: 'text', maxlength: 120, oninput: () => (namedByHand = true) }) as HTMLInputElement;
  // Runtime env (issue 16): packages the job's tasks may mesh.import, resolved in the coordinator's folder.
  const packages = h('input', {
    id: 'job-packages',
    type: 'text',
    value: saved !== null && example.source !== saved ? '' : (example.packages ?? []).join(' '),
    placeholder: 'e.g. @sindresorhus/slugify',
    maxlength: 1000,
  }) as HTMLInputElement;
  // And files, as `tabmesh submit --wasm NAME=FILE --module NAME=FILE`: each named after its file, without the extension.
  const wasmFiles = h('input', { id: 'job-wasm', type: 'file', accept: '.wasm,application/wasm', multiple: true }) as HTMLInputElement;
  const moduleFiles = h('input', { id: 'job-modules', type: 'file', accept: '.js,.mjs,text/javascript', multiple: true }) as HTMLInputElement;
  const description = h('p', { class: 'muted', id: 'example-desc' });
  const follow = () => {
    const same = editor.value === example.source;
    if (!namedByHand) name.value = same ? example.title : 'my job';
    description.textContent = same ? example.description : `Edited from the example "${example.title}".`;
  };
  follow();
  const status = h('p', { class: 'status', role: 'status' });
  const run = h('button', { type: 'submit', class: 'button primary', id: 'run' }, 'Run') as HTMLButtonElement;
  const select = h(
    'select',
    {
      id: 'example',
      onchange: () => {
        const ex = EXAMPLES.find((e) => e.id === select.value);
        if (!ex) return;
        example = ex;
        code.set(ex.source);
        namedByHand = false;
        follow();
        packages.value = (ex.packages ?? []).join(' ');
        wasmFiles.value = moduleFiles.value = '';
        sessionStorage.removeItem(DRAFT_KEY);
      },
    },
    EXAMPLES.map((e) => h('option', { value: e.id }, e.title)),
  ) as HTMLSelectElement;
  select.value = example.id;
  editor.addEventListener('input', () => {
    sessionStorage.setItem(DRAFT_KEY, editor.value);
    follow();
  });
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
      onsubmit: (e: Event) =>
        void (async () => {
          e.preventDefault();
          run.disabled = true;
          status.textContent = 'Submitting…';
          try {
            const runtimeEnv = await jobEnv(packages.value, wasmFiles.files, moduleFiles.files);
            const { id } = await ctx.api.post<{ id: string }>('/api/jobs', { source: editor.value, name: name.value, runtimeEnv });
            ctx.announce(`Job ${name.value} started`);
            ctx.navigate(`#/jobs/${id}`);
          } catch (err) {
            status.textContent = `Could not start the job: ${(err as Error).message}`;
            run.disabled = false;
          }
        })(),
    },
    h(
      'div',
      { class: 'form-row' },
      h('label', { for: 'example' }, h('span', {}, 'Example'), select),
      h('label', { for: 'job-name' }, h('span', {}, 'Job name'), name),
      h('label', { for: 'job-packages' }, h('span', {}, 'Packages'), packages),
      h('label', { for: 'job-wasm' }, h('span', {}, 'WebAssembly files'), wasmFiles),
      h('label', { for: 'job-modules' }, h('span', {}, 'ES module files'), moduleFiles),
    ),
    description,
    h(
      'label',
      { for: 'source', class: 'editor-label' },
      'Program: the body of an async function; ',
      h('code', {}, 'mesh'),
      ' is in scope, and what it returns is the result.',
    ),
    code.root,
    h('p', { id: 'editor-help', class: 'sub' }, 'Ctrl+Enter runs. Tab indents and Shift+Tab outdents; Escape then Tab moves focus out of the editor.'),
    h('div', { class: 'form-row' }, run, status),
  );
  if (ctx.role() !== 'driver') {
    run.disabled = true;
    status.textContent = 'A viewer token can read but not submit: open the dashboard with the driver token to run jobs.';
  }
  root.append(card('Submit a job', form));
  return { title: 'Submit' };
}

/** The job's runtime env as POST /api/jobs takes it: package names, WASM in base64, module source; undefined when empty. */
async function jobEnv(
  packageList: string,
  wasm: FileList | null,
  modules: FileList | null,
): Promise<{ packages?: string[]; wasm?: Record<string, string>; modules?: Record<string, string> } | undefined> {
  const env: { packages?: string[]; wasm?: Record<string, string>; modules?: Record<string, string> } = {};
  const list = packageList.split(/[\s,]+/).filter(Boolean);
  if (list.length) env.packages = list;
  const named = (f: File) => f.name.replace(/\.[^.]*$/, '');
  for (const f of wasm ?? []) (env.wasm ??= {})[named(f)] = base64(new Uint8Array(await f.arrayBuffer()));
  for (const f of modules ?? []) (env.modules ??= {})[named(f)] = await f.text();
  return Object.keys(env).length ? env : undefined;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
