// /api/tasks by cursor (issue 14): live tasks from the task table's submit
// order (per job when the job is asked for), ended ones from the ended
// records by the same submit sequence, merged as one list. A page costs a
// binary search in each plus what it looks at, at most SCAN_BUDGET entries
// of each: a filter that matches little returns a short page and a cursor
// that goes on from where the walk stopped, never a walk of every task.
import type { JobId } from '../../shared/ids.js';
import type { EndedTasks } from '../dashboard/ended-tasks.js';
import { endedView, memberId, type MemberScan } from '../dashboard/member-views.js';
import { viewOf, type TaskView } from '../dashboard/task-history.js';
import type { TaskTableView } from '../gcs/task-table.js';
import type { TaskRecord } from '../gcs/tables.js';
import type { Query } from './schemas.js';

/** Entries each of the two lists looks at for one page, at most. */
export const SCAN_BUDGET = 10_000;

export interface TaskPage {
  rows: TaskView[];
  /** The `after` of the next page; null at the end. */
  next: number | null;
  /** How many match, when the indexes know without a walk (no state, node or name filter); else null. */
  total: number | null;
}

type Matcher = { state?: string; node?: string; name?: string };

const liveState = (t: Readonly<TaskRecord>): string => (t.state === 'queued' && t.infeasible ? 'infeasible' : t.state);

/** `members`: task groups' members (numbered as tasks, kept in their groups and the task history), merged in. */
export function taskPage(tasks: TaskTableView, ended: EndedTasks, q: Query, limit: number, budget = SCAN_BUDGET, members?: MemberScan): TaskPage {
  const after = Number(q.after);
  const job = q.job as JobId | undefined;
  const m: Matcher = { state: q.state, node: q.node, name: q.name };
  const filtered = m.state !== undefined || m.node !== undefined || m.name !== undefined;
  const live = tasks.scan(
    after,
    limit,
    (t) => (!m.state || liveState(t) === m.state) && (!m.node || t.ranOn === m.node) && (!m.name || t.spec.name.includes(m.name)),
    budget,
    job,
  );
  const done = ended.scan(
    after,
    limit,
    // A task dropped and submitted again (a re-run parent) is listed where it is live. A job's ended group members
    // come from the task history (`members`), which keeps the job's; across jobs from here, as tasks that left.
    (v, member) =>
      (!job || (v.job === job && !(member && members))) &&
      (!m.state || v.state === m.state) &&
      (!m.node || v.node === m.node) &&
      (!m.name || v.name.includes(m.name)) &&
      !tasks.has(v.id),
    budget,
  );
  const grouped = members?.(
    after,
    limit,
    (e) => (!m.state || e.state === m.state) && (!m.node || e.node === m.node) && (!m.name || e.o.name.includes(m.name)),
    budget,
    job,
  ) ?? { page: [], through: null, total: 0 };
  // No list has been looked at past `bound`: the merged page stops there.
  const bound = Math.min(live.through ?? Infinity, done.through ?? Infinity, grouped.through ?? Infinity);
  const rows: TaskView[] = [];
  let last = after;
  let i = 0;
  let j = 0;
  let k = 0;
  while (rows.length < limit) {
    const a = live.page[i];
    const b = done.page[j];
    const c = grouped.page[k];
    let next: { seq: number } | undefined = a;
    if (b && (!next || b.seq < next.seq)) next = b;
    if (c && (!next || c.seq < next.seq)) next = c;
    if (!next || next.seq > bound) break;
    if (next === a) {
      rows.push(viewOf(a.t as TaskRecord));
      i++;
    } else if (next === b) {
      rows.push(b.v);
      j++;
    } else {
      // A member made an ordinary task since is listed as that task (under its own number).
      const id = memberId(c.e.o, c.e.i);
      if (!tasks.has(id) && !ended.has(id, false)) rows.push(endedView(c.e, id));
      k++;
    }
    last = next.seq;
  }
  const more = i < live.page.length || j < done.page.length || k < grouped.page.length || bound !== Infinity;
  const total = filtered ? null : (job ? tasks.jobSize(job) + ended.jobSize(job) : tasks.size + ended.size) + grouped.total;
  // A short page (budget spent on entries that do not match) goes on from where the walk stopped.
  return { rows, next: !more ? null : rows.length === limit ? last : Math.max(last, bound), total };
}
