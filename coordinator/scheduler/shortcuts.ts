// Result shortcuts (issue 14, session 14; shared/protocol/shortcut.ts): the
// tag an assign carries when the node may send the task's small result
// straight to its driver. Plain tasks only: a verified task's result counts
// only once its quorum agrees (coordinator/verify), an actor call's order is
// its actor's. Only tasks the driver submitted (a nested task's result is its
// parent's), while the job waits on few tasks (SHORTCUT_MAX_IN_FLIGHT), and
// only between a node and a driver that both said `shortcut`.
import { rootTaskId, toHex } from '../../shared/ids.js';
import { SHORTCUT_MAX_IN_FLIGHT, ShortcutKey } from '../../shared/protocol/shortcut.js';
import type { Gcs } from '../gcs/gcs.js';
import { TERMINAL, type JobRecord, type NodeRecord, type TaskRecord } from '../gcs/tables.js';
import { traffic } from '../traffic.js';

/** Tasks assigned with a tag: their driver may hold their value before the coordinator has their `done`. */
const tagged = new WeakSet<TaskRecord>();

/**
 * How long a driver's goodbye waits for the `done`s of its tagged tasks still running: the driver may already
 * have their values (a shortcut goes node -> driver, the `done` node -> coordinator, on other sockets), and
 * ending the job first would record as cancelled a task whose result its driver got.
 */
export const SHORTCUT_END_GRACE_MS = 2_000;

/** Task `t`'s value may reach its driver without the coordinator (a task sent straight to its node: direct-leases.ts). */
export function markTagged(t: TaskRecord): void {
  tagged.add(t);
}

/** Job `job`'s tagged tasks the coordinator has no end of yet (at most SHORTCUT_MAX_IN_FLIGHT and a few: tags stop past it). */
export function taggedUnended(job: JobRecord): TaskRecord[] {
  const out: TaskRecord[] = [];
  for (const t of job.tasks) if (tagged.has(t) && !TERMINAL.has(t.state)) out.push(t);
  return out;
}

/**
 * Runs `end` (a driver's goodbye ending its job) once the job's tagged tasks have reported their end here, or after
 * SHORTCUT_END_GRACE_MS: a `get` that returned never leaves its task recorded as cancelled. An end after the
 * coordinator stopped does nothing (job-manager.ts end).
 */
export function afterShortcuts(job: JobRecord | undefined, end: () => void): void {
  const waiting = job ? taggedUnended(job) : [];
  if (waiting.length === 0) return end();
  const until = Date.now() + SHORTCUT_END_GRACE_MS;
  const check = (): void => {
    if (Date.now() < until && waiting.some((t) => !TERMINAL.has(t.state))) {
      setTimeout(check, 10).unref();
      return;
    }
    end();
  };
  setTimeout(check, 10).unref();
}

/** Each running job's key, parsed once from its secret (not a field of the job's record: job-manager.ts owns those). */
const keys = new WeakMap<JobRecord, ShortcutKey>();

/** The tag for task `t` assigned to node `n`, or undefined when its result goes through the coordinator only. */
export function shortcutTag(gcs: Gcs, t: TaskRecord, n: NodeRecord): string | undefined {
  if (!n.session.shortcut || t.spec.verify || t.spec.actor || t.replicas) return undefined;
  const job = gcs.jobs.get(t.spec.jobId);
  if (!job || job.guest || !job.driver?.shortcut || job.driver.closed) return undefined;
  const c = job.counts;
  // A batch's assigns stop here, before anything is built.
  if (c.submitted - c.finished - c.failed - c.cancelled > SHORTCUT_MAX_IN_FLIGHT) return undefined;
  // The driver's own tasks: a nested task's result is its parent's, on a node.
  if (t.spec.parentId !== rootTaskId(t.spec.jobId)) return undefined;
  let key = keys.get(job);
  if (!key) keys.set(job, (key = new ShortcutKey(job.secret)));
  if (!key.ok) return undefined;
  traffic.shortcutTags++;
  tagged.add(t);
  return toHex(key.tag(t.spec.taskId, t.spec.attempt, n.id));
}
