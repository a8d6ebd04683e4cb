// The coordinator's counters for /api/stats (issue 14: read often, by the
// dashboard and bench:scale): O(1) in nodes and sessions; jobs are walked, not
// copied (ended ones are capped at MAX_ENDED_JOBS).
import type { Inbox } from './inbox.js';
import type { Managers } from './managers.js';
import type { LoopWatch } from './nodes/loop-watch.js';
import type { SessionFlushes } from './flush-turns.js';
import { memoryUsage } from './limits/open-files.js';
import { traffic } from './traffic.js';

/** What the counters are read from: the managers, and the loop's and flushes' watches (not the Coordinator: no import circle). */
export type StatsSources = Managers & { readonly loop: LoopWatch; readonly flushes: SessionFlushes };

export function coordinatorStats(c: StatsSources, inbox: Inbox, more: readonly (() => Record<string, number>)[]): Record<string, number> {
  const mem = memoryUsage();
  let jobs = 0;
  for (const j of c.gcs.jobs.values()) if (j.state === 'running') jobs++;
  const links = c.membership.links;
  return {
    ...c.gcs.stats,
    objects: c.gcs.objects.size,
    tasks: c.gcs.tasks.size,
    tasksQueued: c.scheduler.queuedCount,
    // Other coordinators of the mesh are nodes of this one (coordinator/mesh), not counted as nodes.
    nodes: c.gcs.nodes.size - links,
    meshLinks: links,
    ...c.signalling.bridge?.counters,
    drivers: c.jobs.drivers.size,
    jobs,
    functions: c.gcs.functions.size,
    actorsAlive: c.actors.alive,
    ...c.verifier.stats,
    // Console lines passed on after their task's end, past its bound, and refused (task-logs.ts).
    ...c.taskLogs.counts,
    limitBreaches: Object.values(c.limits.breaches).reduce((a, b) => a + b, 0),
    // By code too (CONNECTING_TOO_FAST, COORDINATOR_FULL, ...): what a storm of joins met.
    ...Object.fromEntries(Object.entries(c.limits.breaches).map(([code, n]) => [`limit_${code}`, n])),
    // COORDINATOR_FULL refusals that named another coordinator of the mesh with room.
    fullSentOn: c.limits.sentOn,
    ...c.membership.counts,
    // The hold's options as running (CLI --hold-*, coordinator/nodes/hold.ts), and leases told their node is held or back.
    holdShare: c.membership.hold.o.share,
    holdMinNodes: c.membership.hold.o.minNodes,
    holdDeadAfterMs: c.membership.hold.o.deadAfterMs,
    holdEvictPerSec: c.membership.hold.o.evictPerSec,
    leasesSuspended: c.leases.suspended,
    leasesResumed: c.leases.resumed,
    actorsDead: c.actors.dead,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    // Buffers and ArrayBuffers (objects in a local node's store, relay chunks) live outside the JS heap.
    externalBytes: mem.external,
    arrayBuffersBytes: mem.arrayBuffers,
    loopDelayMaxMs: c.loop.maxMs(),
    schedulerSlicedPasses: c.scheduler.slicedPasses,
    schedulerPacked: c.scheduler.packed,
    schedulerFilled: c.scheduler.packing.filled,
    flushMaxPerTurn: c.flushes.maxPerTurn,
    flushTurnsCarried: c.flushes.carried,
    flushTurnsTimed: c.flushes.timed,
    flushIdleDeferred: c.flushes.deferred,
    flushIdleTimed: c.flushes.nowTimed,
    framesDeferred: inbox.deferred,
    // A leased node's messages held for a direct task's record; parked after the wait was given up; of those, given up as spoiled (re-run).
    recordWaits: inbox.waits.counts.held,
    recordWaitsOver: inbox.waits.parked.counts.parked,
    recordParkSpoiled: inbox.waits.parked.counts.spoiled,
    rebalanceRounds: c.scheduler.rebalancer.stats.rounds,
    rebalanceAsked: c.scheduler.rebalancer.stats.asked,
    rebalanceAskedLinks: c.scheduler.rebalancer.stats.askedLinks,
    gcsFlushes: c.gcs.storage.stats?.flushes ?? 0,
    gcsRowsWritten: c.gcs.storage.stats?.rowsWritten ?? 0,
    // The backend refuses writes: rows kept to write later, and 1 while new tasks are refused for them (issue 14).
    gcsKeptRows: c.gcs.storage.keptRows ?? 0,
    gcsBacklog: c.gcs.storage.backlog?.() !== undefined ? 1 : 0,
    // Task groups (coordinator/groups): groups on record and their members by state; 0 with groups off.
    groups: 0,
    ...c.groups?.counts(),
    ...traffic.json(),
    ...more.reduce<Record<string, number>>((all, f) => Object.assign(all, f()), {}),
  };
}
