// bench:scale's watchdog on a job's results: a job whose results do not all come in time is a hang to explain, not
// a figure. Before it fails, the bench prints what each coordinator says of the job's tasks not finished (their
// states and nodes, from /api/tasks) and its stats, so that a hang seen once can be read afterwards (session 32: a
// warm-up of 200 tasks hung for 6 minutes at 100 nodes, every process idle, and nothing said where the tasks were).
import type { ObjectRef } from '../edge/index.js';
import { log } from './harness.js';
import { fetchApi, fetchStats } from './cluster.js';

interface Getter {
  get(refs: ObjectRef<unknown>[], opts?: { timeoutMs?: number }): Promise<unknown>;
  runtimeContext(): { jobId: string | null };
}

interface TaskRow {
  id?: string;
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

/** "3 queued on n1, 1 running on n2": how many of `items` each key names, most first. */
function tally<T>(items: readonly T[], key: (x: T) => string): string {
  const n = new Map<string, number>();
  for (const x of items) n.set(key(x), (n.get(key(x)) ?? 0) + 1);
  return (
    [...n]
      .sort((a, b) => b[1] - a[1])
      .map(([k, c]) => `${c} ${k}`)
      .join(', ') || '-'
  );
}

async function reportJob(jobId: string | null, urls: readonly string[], token: string): Promise<void> {
  const ofJob = jobId ? `?job=${encodeURIComponent(jobId)}` : '';
  for (const [i, u] of urls.entries()) {
    log(`coordinator ${i}: stats ${JSON.stringify(await fetchStats(u, token))}`);
    const rows = await fetchApi<TaskRow[]>(u, token, `/api/tasks${ofJob}`);
    const open = rows.filter((r) => r.state !== 'finished');
    log(`coordinator ${i}: ${rows.length} task rows of job ${jobId}, ${open.length} not finished: ${tally(open, (r) => `${r.state} on ${r.node ?? '-'}`)}`);
    for (const r of open.slice(0, 10)) log(`coordinator ${i}:   ${JSON.stringify(r)}`);
    // A driver's batch of calls to one function is a task group: one row with its members' counts (/api/groups).
    const groups = await fetchApi<unknown[]>(u, token, `/api/groups${ofJob}`);
    for (const row of groups.slice(0, 10)) log(`coordinator ${i}: group ${JSON.stringify(row)}`);
    // Nodes lost (a task lost on more nodes than its retries fails the job): how many, and why.
    const lost = await fetchApi<{ message?: string }[]>(u, token, '/api/events?kind=node-lost');
    log(
      `coordinator ${i}: ${lost.length} nodes lost (of the last 1,000 events), why: ${tally(lost, (ev) => (ev.message ?? '').replace(/^.* lost: /, '').replace(/\d+/g, 'N'))}`,
    );
    for (const ev of lost.slice(-3)) log(`coordinator ${i}:   ${ev.message}`);
  }
}
