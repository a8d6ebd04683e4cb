// A job's row in the live document: a driver session (its GCS record) or a
// submitted job (the job runner's record), whichever is known, else the last view.
import type { JobView } from '../../shared/dashboard.js';
import type { JobRecord } from '../gcs/tables.js';
import type { SubmittedJob } from '../jobs/runner.js';

const RESULT_PREVIEW_CHARS = 2000;

/**
 * `count`: a running job's running tasks are counted again (a walk of its tasks), else the last view's count is kept.
 * `members`: its task groups' members an executor runs (GroupManager.runningOf, as the state API's progress.running).
 */
export function jobView(
  j: JobRecord | undefined,
  s: SubmittedJob | undefined,
  prev: JobView | undefined,
  count = true,
  members?: (j: JobRecord) => number,
): JobView {
  let running = prev?.running ?? 0;
  if (j && j.state === 'running') {
    if (count || prev === undefined) {
      running = 0;
      if (j.tasks.size <= 50_000) for (const t of j.tasks) if (t.state === 'running') running++; // as the state API's progress.running
      if (members) running += members(j);
    }
  } else running = 0;
  const counts = j?.counts ??
    s?.counts ?? { submitted: prev?.submitted ?? 0, finished: prev?.finished ?? 0, failed: prev?.failed ?? 0, cancelled: prev?.cancelled ?? 0 };
  const result = s && s.status === 'succeeded' ? JSON.stringify(s.result) : '';
  return {
    name: s?.name ?? prev?.name ?? 'driver',
    kind: s ? 'submitted' : 'driver',
    status: s ? s.status : (j?.state ?? prev?.status ?? 'finished'),
    submitted: counts.submitted,
    finished: counts.finished,
    failed: counts.failed,
    cancelled: counts.cancelled,
    running,
    startedAt: s?.submittedAt ?? j?.startedAt ?? prev?.startedAt ?? 0,
    endedAt: s ? s.endedAt : (j?.endedAt ?? prev?.endedAt ?? 0),
    // A submitted job's error, else a driver session's first failed task (its program runs elsewhere).
    error: s?.error ? `${s.error.name}: ${s.error.message}` : j?.firstError ? firstTaskErrorText(j.firstError) : (prev?.error ?? ''),
    ended: s ? '' : (j?.endReason ?? prev?.ended ?? ''),
    result: result.length > RESULT_PREVIEW_CHARS ? result.slice(0, RESULT_PREVIEW_CHARS) + '…' : result,
  };
}

/** How the dashboard shows a driver session's first failed task. */
function firstTaskErrorText(e: { name: string; message: string; functionName: string }): string {
  return `first failed task ${e.functionName}: ${e.name}: ${e.message}`;
}
