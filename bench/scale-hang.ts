// bench:scale's watchdog on a job's results: a job whose results do not all come in time is a hang to explain, not
// a figure. Before it fails, the bench prints what each coordinator says of the job's tasks not finished (their
// states and nodes, from /api/tasks) and its stats, so that a hang seen once can be read afterwards (session 32: a
// warm-up of 200 tasks hung for 6 minutes at 100 nodes, every process idle, and nothing said where the tasks were).
import type { ObjectRef } from '../edge/index.js';
import { log } from './harness.js';

interface Getter {
  get(refs: ObjectRef<unknown>[], opts?: { timeoutMs?: number }): Promise<unknown>;
  runtimeContext(): { jobId: string | null };
}

interface TaskRow {
  taskId?: string;
  state?: string;
  node?: string | null;
  coordinator?: string;
}

/** `urls`: the coordinators' base URLs. Resolves with the results, or prints the job's unfinished tasks and rejects. */
export async function getOrReport(
  mesh: Getter,
  refs: ObjectRef<unknown>[],
  what: string,
  urls: readonly string[],
  token: string,
  timeoutMs?: number,
): Promise<void> {
  try {
    await mesh.get(refs, timeoutMs === undefined ? {} : { timeoutMs });
  } catch (e) {
    log(`${what}: not every result${timeoutMs === undefined ? '' : ` in ${timeoutMs} ms`} (${(e as Error).message}); the coordinators' view of the job:`);
    await reportJob(mesh.runtimeContext().jobId, urls, token).catch((err: Error) => log(`${what}: the report failed: ${err.message}`));
    throw e;
  }
}

async function reportJob(jobId: string | null, urls: readonly string[], token: string): Promise<void> {
  const headers = { authorization: 'Bearer ' + token };
  for (const [i, u] of urls.entries()) {
    const stats = (await (await fetch(new URL('/api/stats', u), { headers })).json()) as Record<string, unknown>;
    log(`coordinator ${i}: stats ${JSON.stringify(stats)}`);
    const q = new URL('/api/tasks', u);
    if (jobId) q.searchParams.set('job', jobId);
    const rows = (await (await fetch(q, { headers })).json()) as TaskRow[];
    const open = rows.filter((r) => r.state !== 'finished');
    const byState = new Map<string, number>();
    for (const r of open) byState.set(`${r.state} on ${r.node ?? '-'}`, (byState.get(`${r.state} on ${r.node ?? '-'}`) ?? 0) + 1);
    log(
      `coordinator ${i}: ${rows.length} task rows of job ${jobId}, ${open.length} not finished: ${[...byState].map(([k, n]) => `${n} ${k}`).join(', ') || '-'}`,
    );
    for (const r of open.slice(0, 10)) log(`coordinator ${i}:   ${JSON.stringify(r)}`);
    // A driver's batch of calls to one function is a task group: one row with its members' counts (/api/groups).
    const g = new URL('/api/groups', u);
    if (jobId) g.searchParams.set('job', jobId);
    const groups = (await (await fetch(g, { headers })).json()) as unknown[];
    for (const row of groups.slice(0, 10)) log(`coordinator ${i}: group ${JSON.stringify(row)}`);
    // Nodes lost (a task lost on more nodes than its retries fails the job): how many, and the last few reasons.
    const lost = await fetch(new URL('/api/events?kind=node-lost', u), { headers });
    const events = (await lost.json()) as { message?: string }[];
    const why = new Map<string, number>();
    for (const ev of events) {
      const k = (ev.message ?? '').replace(/^.* lost: /, '').replace(/\d+/g, 'N');
      why.set(k, (why.get(k) ?? 0) + 1);
    }
    log(`coordinator ${i}: ${lost.headers.get('x-total-count')} nodes lost, why (the last 1,000): ${[...why].map(([k, n]) => `${n} ${k}`).join('; ')}`);
    for (const ev of events.slice(-3)) log(`coordinator ${i}:   ${ev.message}`);
  }
}
