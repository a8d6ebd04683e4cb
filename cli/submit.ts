// `tabmesh submit job.js --coordinator URL --token T`: runs a program as a
// detached job on the coordinator's side, shows a progress bar (stderr) and
// the job's log (stdout) as they come, and exits with the job's status:
// 0 succeeded, 1 failed / timed out / cancelled. Ctrl+C detaches (the job
// goes on); `--cancel-on-exit` cancels it instead.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ConnectError } from '../shared/errors.js';
import { readToken } from './token.js';
import { CliError, coordinatorFlag, jobFile, reachCoordinator } from './reach.js';
import { parseFlags } from './flags.js';
import { coordinatorFetch } from './http.js';

export const SUBMIT_USAGE = `  tabmesh submit FILE --coordinator URL [--token T] [--data .tabmesh] [--name NAME] [--timeout-ms MS] [--cancel-on-exit]
                 [--package NAME]... [--module NAME=FILE.js]... [--wasm NAME=FILE.wasm]...
                 (runs FILE, the body of an async function with \`mesh\` in scope, as a job;
                  the token: --token, else $TABMESH_TOKEN, else the data folder's token file; its tasks may
                  mesh.import the packages (resolved in the coordinator's folder) and modules, and mesh.wasm the binaries)`;

interface JobState {
  status: string;
  progress: { total: number; done: number; failed: number; cancelled: number; running: number; fraction: number };
  result: unknown;
  error: { name: string; message: string } | null;
}

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'timeout', 'finished']);
const POLL_MS = 300;

/** The progress line; as on the dashboard, 100% means done and good: a running job stops at 99%, a failed one says so. */
function bar(p: JobState['progress'], status: string, width = 30): string {
  const ended = p.done + p.failed + p.cancelled;
  const ok = status === 'succeeded';
  const frac = Math.min(p.total ? ended / p.total : 0, ok ? 1 : 0.99);
  const full = Math.round(frac * width);
  const head = p.total === 0 ? (ok ? 'done' : 'no tasks') : ENDED.has(status) && !ok ? status : `${String(Math.floor(frac * 100)).padStart(3)}%`;
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${head} ${ended}/${p.total} tasks, ${p.running} running${p.failed ? `, ${p.failed} failed` : ''}${p.cancelled ? `, ${p.cancelled} cancelled` : ''}`;
}

export async function runSubmit(args: string[], usage: (msg: string) => never): Promise<number> {
  const { values, positionals } = parseFlags('submit', {
    args,
    options: {
      coordinator: { type: 'string' },
      token: { type: 'string' },
      data: { type: 'string', default: '.tabmesh' },
      name: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'cancel-on-exit': { type: 'boolean', default: false },
      package: { type: 'string', multiple: true },
      module: { type: 'string', multiple: true },
      wasm: { type: 'string', multiple: true },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1)
    usage(positionals.length ? `submit takes one FILE, not ${positionals.length}: ${positionals.join(' ')}` : 'submit takes the FILE of the job to run');
  if (!values.coordinator) usage('--coordinator URL is required, e.g. --coordinator http://127.0.0.1:8080');
  const timeoutMs = values['timeout-ms'] === undefined ? undefined : Number(values['timeout-ms']);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) usage('--timeout-ms must be a positive integer');
  const runtimeEnv = jobRuntimeEnv(values, usage);
  const file = positionals[0];
  jobFile(file);
  const source = readFileSync(file, 'utf8');
  const url = coordinatorFlag(values.coordinator, usage);
  const base = url.base;
  // Which token, and where it came from: a refusal says which one to fix.
  const fromData = readToken(values.data, 'driver');
  const [token, tokenFrom] = values.token
    ? [values.token, '--token']
    : process.env.TABMESH_TOKEN
      ? [process.env.TABMESH_TOKEN, '$TABMESH_TOKEN']
      : url.token
        ? [url.token, "the URL's #token="]
        : fromData
          ? [fromData, `${values.data}/token`]
          : ['', ''];
  await reachCoordinator(base);
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    // A content-type without a body is refused (the DELETE of --cancel-on-exit has none).
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await coordinatorFetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await res.json().catch(() => ({}))) as T & { error?: string; message?: string };
    if (res.status === 401) {
      throw new CliError(
        tokenFrom
          ? `the coordinator at ${base} refused the token from ${tokenFrom} (HTTP 401): pass the driver token it printed at start with --token (it is in the token file of its data folder, .tabmesh/token unless it was started with --data)`
          : `the coordinator at ${base} needs a driver token (HTTP 401): pass --token T (the token it printed at start; it is in the token file of its data folder, .tabmesh/token unless it was started with --data)`,
      );
    }
    if (!res.ok) {
      if (typeof json.error !== 'string')
        throw new ConnectError('NOT_A_COORDINATOR', base, `${base} is not a tabmesh coordinator (${method} ${path} answered HTTP ${res.status})`);
      throw new CliError(`${method} ${path}: ${json.error}: ${json.message ?? ''}`);
    }
    return json;
  };

  const { id } = await call<{ id: string }>('POST', '/api/jobs', { source, name: values.name ?? basename(file), timeoutMs, runtimeEnv });
  process.stderr.write(`job ${id} submitted to ${base} (dashboard: ${base}/dashboard#/jobs/${id})\n`);
  const tty = process.stderr.isTTY;
  let stopping = false;
  process.once('SIGINT', () => {
    stopping = true;
    if (values['cancel-on-exit']) {
      void call('DELETE', `/api/jobs/${id}`).finally(() => process.exit(130));
    } else {
      process.stderr.write(`\ndetached: job ${id} goes on; cancel it with DELETE ${base}/api/jobs/${id}\n`);
      process.exit(130);
    }
  });

  let since = 0;
  let lastBar = '';
  for (;;) {
    const [job, log] = await Promise.all([
      call<JobState>('GET', `/api/jobs/${id}`),
      call<{ seq: number; level: string; text: string }[]>('GET', `/api/jobs/${id}/log?since=${since}&limit=1000`),
    ]);
    if (log.length) {
      if (tty && lastBar) process.stderr.write('\r\x1b[2K');
      for (const l of log) (l.level === 'log' ? process.stdout : process.stderr).write(l.text + '\n');
      since = log[log.length - 1].seq;
      lastBar = '';
    }
    const line = bar(job.progress, job.status);
    if (line !== lastBar) {
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      lastBar = line;
    }
    if (ENDED.has(job.status) && log.length < 1000) {
      if (tty) process.stderr.write('\n');
      if (job.status === 'succeeded') {
        // A job that returns nothing (its script's last statement is not a value) prints no result line: `null`
        // after a job's own output read as part of it.
        if (job.result !== null && job.result !== undefined) process.stdout.write(JSON.stringify(job.result, null, 2) + '\n');
        process.stderr.write(`job ${id} succeeded\n`);
        return 0;
      }
      process.stderr.write(`job ${id} ${job.status}${job.error ? `: ${job.error.name}: ${atFile(job.error.message, file)}` : ''}\n`);
      return 1;
    }
    if (stopping) return 130;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** "… at line 3, column 7" of the job's source reads as file:3:7, which editors open. */
function atFile(message: string, file: string): string {
  return message.replace(/\bat line (\d+), column (\d+)/, (_m, l: string, c: string) => `at ${file}:${l}:${c}`);
}

/** --package, --module NAME=FILE and --wasm NAME=FILE as the job's runtime env (issue 16); files are read here. */
function jobRuntimeEnv(
  values: { package?: string[]; module?: string[]; wasm?: string[] },
  usage: (msg: string) => never,
): { packages?: string[]; modules?: Record<string, string>; wasm?: Record<string, string> } | undefined {
  const pairs = (flag: string, list: string[] | undefined, read: (file: string) => string): Record<string, string> | undefined => {
    if (!list?.length) return undefined;
    const out: Record<string, string> = {};
    for (const item of list) {
      const eq = item.indexOf('=');
      if (eq <= 0 || eq === item.length - 1) usage(`--${flag} takes NAME=FILE, not ${item}`);
      const name = item.slice(0, eq);
      if (name in out) usage(`--${flag} ${name} is given twice`);
      const file = item.slice(eq + 1);
      try {
        out[name] = read(file);
      } catch (e) {
        // The flag is well formed, its file is not usable: one line, not the whole usage.
        const err = e as NodeJS.ErrnoException;
        const why = err.code === 'ENOENT' ? `no such file: ${file}` : err.code === 'EISDIR' ? `${file} is a folder, not a file` : err.message;
        throw new CliError(`--${flag} ${item}: ${why}`, 2);
      }
    }
    return out;
  };
  const modules = pairs('module', values.module, (f) => readFileSync(f, 'utf8'));
  const wasm = pairs('wasm', values.wasm, (f) => {
    const bytes = readFileSync(f);
    if (!WebAssembly.validate(bytes)) throw new Error('not a valid WebAssembly module');
    return bytes.toString('base64');
  });
  const packages = values.package?.length ? values.package : undefined;
  return packages || modules || wasm ? { packages, modules, wasm } : undefined;
}
