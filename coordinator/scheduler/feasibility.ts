// Why queued work waits (issue 11). A task no node could ever run (it needs
// `gpu: 1`, or 8 CPUs on a mesh of 2-CPU nodes) stays pending, as in Ray, and
// shows as `infeasible` in the state API; its job's driver is told once per
// kind of task what it needs and what the mesh has. A task that waits only
// because live actors hold every CPU it could use is explained the same way.
// The scheduler calls `stuck` with the head of a queue no node took in a
// pass; a check costs one walk over the nodes, at most once a second a queue.
import type { JobId } from '../../shared/ids.js';
import type { ErrorCode } from '../../shared/error-codes.js';
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { markInfeasible } from './task-states.js';

const RECHECK_MS = 1000;
/** The dashboard's event of each warning. */
const EVENTS: Partial<Record<ErrorCode, string>> = { INFEASIBLE: 'task-infeasible', NO_NODES: 'task-no-nodes', PINNED_NODE_AWAY: 'task-pin-waiting' };
const MAX_TRACKED = 10_000;

export type Warn = (job: JobId, code: ErrorCode, message: string, t: TaskRecord) => void;

export class FeasibilityWatch {
  private readonly checkedAt = new Map<string, number>();
  /** Queues whose tasks carry `infeasible` flags now. */
  private readonly flagged = new Set<string>();
  /** Per job, the queues it was warned about (one warning each). */
  private readonly warned = new Map<JobId, Set<string>>();

  constructor(
    private readonly gcs: Gcs,
    private readonly warn: Warn,
    /** Class names of the live actors on a node (for "held by actor Counter"). */
    private readonly actorsOn: (n: NodeRecord) => string[] = () => [],
  ) {}

  /** The head `t` of queue `key` found no node; `queued` lists the queue's tasks (walked only when flags change). */
  stuck(key: string, t: TaskRecord, nodesNow: () => readonly NodeRecord[], queued: () => Iterable<TaskRecord>): void {
    const now = Date.now();
    if (now - (this.checkedAt.get(key) ?? -Infinity) < RECHECK_MS) return;
    if (this.checkedAt.size >= MAX_TRACKED) this.checkedAt.clear();
    this.checkedAt.set(key, now);
    if (t.replicas) return; // replicas wait for distinct nodes, a different story
    const nodes = nodesNow();
    const want = wanted(t);
    const able = nodes.filter((n) => hasAll(n, want));
    if (able.length === 0) {
      this.flag(key, queued, nodes.length === 0 ? 'no node has joined the mesh' : `no node has ${shape(want)}`);
      if (nodes.length === 0) {
        this.once(
          t,
          'no-nodes',
          'NO_NODES',
          `${label(t)} waits: no node has joined the mesh yet; start one with \`tabmesh node --coordinator URL\` (\`npm start\` starts one), or open the coordinator's page in a browser`,
        );
      } else {
        this.once(
          t,
          key,
          'INFEASIBLE',
          `${label(t)} needs ${shape(want)}, which no node in the mesh has (${meshOf(nodes)}); it stays pending until such a node joins: cancel it, or ask for less (numCpus, resources)`,
        );
      }
      return;
    }
    this.unflag(key, queued);
    const cpu = want.cpu ?? 0;
    if (cpu > 0 && able.every((n) => (n.resources.cpu ?? 0) - n.actorCpu < cpu)) {
      const holders = able.slice(0, 3).map((n) => {
        const names = [...new Set(this.actorsOn(n))].slice(0, 3).join(', ') || 'actors';
        return `node ${n.name} (${n.resources.cpu ?? 0} cpu, held by ${names})`;
      });
      this.once(
        t,
        `${key}|actors`,
        'BLOCKED_BY_ACTOR',
        `${label(t)} waits: every CPU that could run it is held by a live actor (${holders.join('; ')}); an actor created with numCpus keeps them for its life (a default actor holds none once placed): create it without numCpus or with numCpus: 0, mesh.kill it when done, or add a node`,
      );
    }
  }

  /** The head `t` of a queue is hard-pinned to a node away (a live coordinator's link that is down): the driver is told once, past `warnMs`. */
  pinAway(t: TaskRecord): void {
    const s = t.spec.scheduling;
    if (typeof s !== 'object' || s === null) return;
    const away = this.gcs.nodeAway(s.node);
    if (!away || away.ms < away.warnMs) return;
    this.once(
      t,
      `pin|${s.node}`,
      'PINNED_NODE_AWAY',
      `${label(t)} is pinned (node affinity, not soft) to node ${s.node}, another coordinator's link, down for ${Math.round(away.ms / 1000)} s while that coordinator lives (${away.why}): it waits for the link up to ${away.boundMs / 1000} s, then fails with NodeLostError; pin it with soft: true to let it run elsewhere`,
    );
  }

  private once(t: TaskRecord, what: string, code: ErrorCode, message: string): void {
    const job = t.spec.jobId;
    let seen = this.warned.get(job);
    if (!seen) {
      if (this.warned.size >= MAX_TRACKED) this.prune();
      this.warned.set(job, (seen = new Set()));
    }
    if (seen.has(what)) return;
    seen.add(what);
    this.gcs.event(EVENTS[code] ?? 'task-blocked-by-actor', message, {
      task: t.spec.taskId,
      job,
    });
    this.warn(job, code, message, t);
  }

  private flag(key: string, queued: () => Iterable<TaskRecord>, why: string): void {
    this.flagged.add(key);
    for (const q of queued()) markInfeasible(q, why);
  }

  private unflag(key: string, queued: () => Iterable<TaskRecord>): void {
    if (!this.flagged.delete(key)) return;
    for (const q of queued()) markInfeasible(q, undefined);
  }

  /** Forgets the warnings of jobs that ended. */
  private prune(): void {
    for (const id of this.warned.keys()) if (this.gcs.jobs.get(id)?.state !== 'running') this.warned.delete(id);
  }
}

function wanted(t: TaskRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r in t.spec.resources) if (t.spec.resources[r] > 0) out[r] = t.spec.resources[r];
  return out;
}

function hasAll(n: NodeRecord, want: Record<string, number>): boolean {
  for (const r in want) if (want[r] > (n.resources[r] ?? 0)) return false;
  return true;
}

/** `{cpu: 8, gpu: 1}` */
export function shape(r: Record<string, number>): string {
  const parts = Object.keys(r)
    .sort()
    .map((k) => `${k}: ${r[k]}`);
  return `{${parts.join(', ')}}`;
}

/** "2 nodes with {cpu: 2}, 1 node with {cpu: 4, gpu: 1}" (at most 4 shapes). */
function meshOf(nodes: readonly NodeRecord[]): string {
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const s = shape(n.resources);
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  const parts = [...counts].slice(0, 4).map(([s, k]) => `${k} node${k === 1 ? '' : 's'} with ${s}`);
  return `the mesh has ${parts.join(', ')}${counts.size > 4 ? ', …' : ''}`;
}

function label(t: TaskRecord): string {
  return `${t.spec.actor?.kind === 'create' ? 'actor' : 'task'} ${t.spec.name} (${t.spec.taskId.slice(0, 12)})`;
}
