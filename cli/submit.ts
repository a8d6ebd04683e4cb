// `tabmesh submit job.js --coordinator URL --token T`: runs a program as a
// detached job on the coordinator's side, shows a progress bar (stderr) and
// the job's log (stdout) as they come, and exits with the job's status:
// 0 succeeded, 1 failed / timed out / cancelled. Ctrl+C detaches (the job
// goes on); `--cancel-on-exit` cancels it instead.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export const SUBMIT_USAGE = `  tabmesh submit FILE --coordinator URL [--token T] [--name NAME] [--timeout-ms MS] [--cancel-on-exit]
                 (runs FILE, the body of an async function with \`mesh\` in scope, as a job)`;

interface JobState {
  status: string;
  progress: { total: number; done: number; failed: number; cancelled: number; running: number; fraction: number };
  result: unknown;
  error: { name: string; message: string } | null;
}

const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'timeout', 'finished']);
const POLL_MS = 300;

function bar(p: JobState['progress'], width = 30): string {
  const ended = p.done + p.failed + p.cancelled;
  const frac = p.total ? ended / p.total : 0;
  const full = Math.round(frac * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.round(frac * 100)).padStart(3)}% ${ended}/${p.total} tasks, ${p.running} running${p.failed ? `, ${p.failed} failed` : ''}`;
}

export async function runSubmit(args: string[], usage: (msg: string) => never): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      coordinator: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'cancel-on-exit': { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length !== 1) usage('submit takes one FILE');
  if (!values.coordinator || !/^https?:\/\//.test(values.coordinator)) usage('--coordinator URL (http or https) is required');
  const timeoutMs = values['timeout-ms'] === undefined ? undefined : Number(values['timeout-ms']);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0)) usage('--timeout-ms must be a positive integer');
  const file = positionals[0];
  const source = readFileSync(file, 'utf8');
  const base = values.coordinator.replace(/\/+$/, '');
  const token = values.token ?? process.env.TABMESH_TOKEN ?? '';
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    // A content-type without a body is refused (the DELETE of --cancel-on-exit has none).
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await res.json().catch(() => ({}))) as T & { error?: string; message?: string };
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.error ?? ''} ${json.message ?? ''}`.trim());
    return json;
  };

  const { id } = await call<{ id: string }>('POST', '/api/jobs', { source, name: values.name ?? basename(file), timeoutMs });
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
    const line = bar(job.progress);
    if (line !== lastBar) {
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      lastBar = line;
    }
    if (ENDED.has(job.status) && log.length < 1000) {
      if (tty) process.stderr.write('\n');
      if (job.status === 'succeeded') {
        process.stdout.write(JSON.stringify(job.result, null, 2) + '\n');
        process.stderr.write(`job ${id} succeeded\n`);
        return 0;
      }
      process.stderr.write(`job ${id} ${job.status}${job.error ? `: ${job.error.name}: ${job.error.message}` : ''}\n`);
      return 1;
    }
    if (stopping) return 130;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
