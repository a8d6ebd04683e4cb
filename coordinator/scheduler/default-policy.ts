// Default placement (ARCHITECTURE.md "A task's life", step 3): feasible
// resources first, then the most argument bytes already on the node, then
// the least loaded node. A task whose arguments are large queues on the node
// holding most of them, past its pipelining depth, unless that node is
// saturated (issue 4), or unless it is busy while another node is less so and
// moving the bytes costs less than the wait (issue 17, spillback: Ray prefers
// *available* nodes that hold the arguments, docs "Locality-Aware
// Scheduling"); the event log says which.
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { indexLoad } from './node-index.js';
import { loadOf, type PlacementContext, type PlacementPolicy } from './policy.js';
import { moveMs } from './link-cost.js';

/** Below this, argument bytes do not pull a task to a node: moving them is cheap. */
const LOCALITY_MIN_BYTES = 64 * 1024;
/** A holder with this many tasks per CPU queued or running is saturated: the task goes elsewhere. */
export const SATURATED_TASKS_PER_CPU = 16;
/**
 * A function not measured yet (its wait unknown, perhaps long: Ray's case) leaves a busy holder when moving its
 * bytes takes up to this long at the link's rate (link-cost.ts): 4 MiB between tabs' old 10 MiB/s, 2 MiB over
 * WebRTC at 5, 40 MiB between edge nodes.
 */
export const SPILL_MAX_MS = 400;

export const defaultPolicy: PlacementPolicy = {
  name: 'default',
  pick(task: TaskRecord, ctx: PlacementContext): NodeRecord | null {
    let best: NodeRecord | null = null;
    let bestBytes = 0;
    let bestLoad = Infinity;
    // The node holding most argument bytes, whether or not it has room (for the event log).
    let holder: NodeRecord | null = null;
    let holderBytes = 0;
    let holderLoad = Infinity;
    // Holders come from the object directory (the argument's locations), not from a scan of the nodes.
    const held = hasRefArg(task) ? argBytesByNode(task, ctx) : null;
    if (held) {
      for (const [n, bytes] of held) {
        if (bytes < LOCALITY_MIN_BYTES) continue;
        const load = loadOf(n);
        if ((bytes > holderBytes || (bytes === holderBytes && earlier(n, load, holder, holderLoad, ctx))) && ctx.feasible(n, task)) {
          holder = n;
          holderBytes = bytes;
          holderLoad = load;
        }
        if (!ctx.fits(n, task)) continue;
        if (bytes > bestBytes || (bytes === bestBytes && earlier(n, load, best, bestLoad, ctx))) {
          best = n;
          bestBytes = bytes;
          bestLoad = load;
        }
      }
    }
    // No holder: the least loaded node with room.
    if (!holder) return best ?? ctx.index.leastLoaded(task, (n) => ctx.fits(n, task));
    // Queue on the holder rather than move its bytes, unless it is saturated.
    const pastDepth = bestBytes < holderBytes && !saturated(holder, task, ctx);
    if (pastDepth) {
      best = holder;
      bestBytes = holderBytes;
    }
    // Busy there: the least loaded node with room may take it instead (spillback), when moving the bytes is worth it.
    const ahead = best ? waves(best) : 0;
    const other = !best || ahead > 0 ? ctx.index.leastLoaded(task, (n) => ctx.fits(n, task)) : null;
    if (other && other !== best) {
      if (!best || worthMoving(task, ahead - waves(other), moveMs(best, other, bestBytes - (held?.get(other) ?? 0)), ctx)) {
        if (best) logLocality(task, other, 'busy', best, bestBytes, ctx);
        else logLocality(task, other, 'saturated', holder, holderBytes, ctx);
        return other;
      }
    } else if (pastDepth && !other) {
      // No node has room: rather than queue past the holder's depth, wait here for the first free slot, when the
      // wait it saves on the least loaded node is worth the move (the next pass places it).
      const next = ctx.index.leastLoaded(task, (n) => ctx.feasible(n, task));
      if (next && next !== holder && worthMoving(task, ahead - waves(next), moveMs(holder, next, holderBytes - (held?.get(next) ?? 0)), ctx)) return null;
    }
    if (best) logLocality(task, best, bestBytes >= holderBytes ? 'local' : 'saturated', holder, holderBytes, ctx);
    return best;
  },
};

/** Tasks ahead of a new one on `n`, in runs of its free CPUs: 0 when a CPU is free now. */
function waves(n: NodeRecord): number {
  return Math.floor(indexLoad(n));
}

/**
 * Whether running `task` `fewer` waves sooner elsewhere is worth moving its missing argument bytes there, which
 * takes `ms` over the link between the two nodes: when its function's measured run time over those waves exceeds
 * that; for a function not measured yet, when the move is short (SPILL_MAX_MS).
 */
function worthMoving(task: TaskRecord, fewer: number, ms: number, ctx: PlacementContext): boolean {
  if (fewer <= 0) return false;
  const f = ctx.gcs.functions.get(task.spec.fnId);
  if (f && f.runs >= 3) return fewer * f.ewmaMs > ms;
  return ms <= SPILL_MAX_MS;
}

/** Less loaded, or as loaded and joined first. */
function earlier(n: NodeRecord, load: number, than: NodeRecord | null, thanLoad: number, ctx: PlacementContext): boolean {
  if (!than) return true;
  return load < thanLoad || (load === thanLoad && ctx.index.seqOf(n) < ctx.index.seqOf(than));
}

/**
 * The event log says where a task with large arguments went and why (issues 4 and 17): on `from`, which holds
 * `bytes` of them, or away from it because it is saturated, or because it is busy and another node less so.
 */
function logLocality(task: TaskRecord, chosen: NodeRecord, why: 'local' | 'saturated' | 'busy', from: NodeRecord, bytes: number, ctx: PlacementContext): void {
  const t = task.spec.taskId;
  const refs = { task: t, node: chosen.id, job: task.spec.jobId };
  const what = `task ${task.spec.name} ${t.slice(0, 12)} placed on node ${chosen.id}`;
  const holds = `node ${from.id}, which holds ${bytes} bytes of its arguments`;
  const tasks = (n: NodeRecord) => `${n.inflightTasks} tasks on ${n.resources.cpu ?? 0} cpu`;
  if (why === 'local') ctx.gcs.event('placed-local', `${what}, which holds ${bytes} bytes of its arguments`, refs);
  else if (why === 'saturated') ctx.gcs.event('placed-remote', `${what}: ${holds}, is saturated (${tasks(from)})`, refs);
  else ctx.gcs.event('placed-remote', `${what} (${tasks(chosen)}): ${holds}, is busy (${tasks(from)}); moving them costs less than the wait`, refs);
}

/**
 * Whether `n` can take no more of `task` even to save moving its arguments:
 * its queue is SATURATED_TASKS_PER_CPU deep, or a resource other than CPU is taken.
 */
function saturated(n: NodeRecord, task: TaskRecord, ctx: PlacementContext): boolean {
  const req = task.spec.resources;
  for (const r in req) if (r !== 'cpu' && req[r] > 0) return !ctx.fits(n, task);
  return n.inflightTasks >= Math.max(1, n.resources.cpu ?? 0) * SATURATED_TASKS_PER_CPU;
}

/** Whether the task has a ref argument; by index: most tasks' args are the shared frozen empty list, which V8's `some` and `for...of` walk slowly (lineage.ts depsOf). */
export function hasRefArg(task: TaskRecord): boolean {
  const args = task.spec.args;
  for (let i = 0; i < args.length; i++) if (args[i].r !== undefined) return true;
  return false;
}

/** Bytes of the task's ref arguments each node holds, from the objects' locations. */
export function argBytesByNode(task: TaskRecord, ctx: PlacementContext): Map<NodeRecord, number> {
  const out = new Map<NodeRecord, number>();
  const args = task.spec.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.r === undefined) continue;
    const o = ctx.gcs.objects.get(a.r);
    if (!o || o.size === 0) continue;
    for (const s of o.locations) {
      const n = ctx.index.nodeOf(s);
      if (n) out.set(n, (out.get(n) ?? 0) + o.size);
    }
  }
  return out;
}
