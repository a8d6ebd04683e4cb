// A node's side of result shortcuts (issue 14, session 14; shared/protocol/shortcut.ts).
import { returnObjectId } from '../ids.js';
import type { TaskResult } from '../protocol/messages.js';
import { writeShortcut } from '../transfer/wire.js';
import type { LocalTask } from './executors.js';
import type { AdmissionContext } from './node-context.js';

/**
 * A tagged task's single small result, with no refs inside, goes straight to
 * its driver ahead of the `done` when a TCP link to the driver is open; else
 * one starts opening for the next. True: it went (the `done` says so, and the
 * coordinator sends the driver no `ready`).
 */
export function sendShortcut(n: AdmissionContext, t: LocalTask, results: TaskResult[]): boolean {
  const r = results.length === 1 ? results[0] : undefined;
  if (t.sc === undefined || !r?.v || r.refs.length !== 0 || !n.links || n.closed) return false;
  const s = t.spec;
  const v = r.v;
  const tag = t.sc;
  if (!n.links.sendShortcut(s.jobId, () => writeShortcut(returnObjectId(s.taskId, 0), s.attempt, tag, v))) {
    n.shortcuts.missed++;
    return false;
  }
  n.shortcuts.sent++;
  return true;
}
