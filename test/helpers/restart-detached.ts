// A named detached actor across a coordinator restart on a durable GCS
// (SQLite or Redis): it outlives the restart, then its creating driver's end,
// and answers a new driver with its state until it is killed. Shared by
// test/fault/restart-detached.test.ts and test/redis/restart-detached.test.ts.
import { expect } from 'vitest';
import { startCoordinator, type RunningCoordinator, type ServerOptions } from '../../coordinator/server.js';
import { connect, startEdgeNode } from '../../edge/index.js';
import { until } from './poll.js';
import { restartablePort } from './processes.js';

type Storage = Pick<ServerOptions, 'dataDir' | 'redis'>;

/** Cleanups of what the scenarios started, newest first (the caller runs them after each test). */
export type Cleanups = (() => unknown)[];

/** The detached actor the scenarios keep: a running sum. */
export class Tally {
  n = 0;
  add(k: number): number {
    this.n += k;
    return this.n;
  }
}

/** The recovery and job graces test/redis/detached-mesh gives its coordinators. */
export const GRACE_MS = 2_000;

/**
 * Those detachedAcrossRestart gives its coordinators: 2 s failed at load 42-50 (sessions 31, 32 and 33: "no live
 * actor named 'tally'", a call that never came back), its node's rejoin or its driver's resume in this one busy
 * process later than the grace. A test waits for what the grace lets go of (the job's end, the holds' timer), not
 * twice the grace, so a wider one costs a run a second or so.
 */
export const RESTART_GRACE_MS = 5_000;

/**
 * `order`: 'restart-then-end' (the driver resumes after the restart, then ends) or 'end-then-restart'; `restarts`:
 * how many restarts after the end (the actor back on its node before each next one).
 */
export async function detachedAcrossRestart(storage: Storage, cleanups: Cleanups, order: 'restart-then-end' | 'end-then-restart', restarts = 1): Promise<void> {
  const token = 'detached-' + Math.random().toString(36).slice(2);
  // Short graces: the recovery holds lapse and the creating job's end is handled within the test.
  const opts = {
    ...storage,
    port: await restartablePort(),
    token,
    httpLimits: false as const,
    recoveryGraceMs: RESTART_GRACE_MS,
    jobGraceMs: RESTART_GRACE_MS,
  };
  // The short graces must cover the spread of the node's rejoin and the driver's resume after the restart: each draws
  // its wait up to BACKOFF's cap (5 s). A node coming back more than a grace after the driver's takeover: "its node
  // did not join again within 2000 ms" (ACTOR_DIED); a driver more than a grace after its node: the node's claim
  // lapsed and the call timed out (session 29: 3 of 6 runs under load 23-35; the timeout in the one run with the
  // driver's wait held at 4.5 s and the node's at 0). Their caps are held to 250 ms (the node's rejoinMaxMs, the
  // driver's reconnectMaxMs).
  const capMs = 250;
  let c: RunningCoordinator = await startCoordinator(opts);
  let closed = false;
  cleanups.push(() => (closed ? undefined : c.close()));
  const node = await startEdgeNode({ coordinator: c.url, cpus: 2, rejoinMaxMs: capMs });
  cleanups.push(() => node.leave());
  // A namespace of its own: the name lives there, and is looked up there after the restart.
  const namespace = 'tallies';
  const first = await connect({ url: c.url, token, namespace, reconnectTimeoutMs: 60_000, reconnectMaxMs: capMs });
  cleanups.push(() => first.close());
  const tally = first.remote(Tally).options({ name: 'tally', lifetime: 'detached' }).remote();
  expect(await first.get(tally.add.remote(5))).toBe(5);
  const restart = async () => {
    closed = true;
    await c.close();
    c = await startCoordinator(opts);
    closed = false;
  };
  if (order === 'restart-then-end') {
    await restart();
    expect(await first.get(tally.add.remote(1), { timeoutMs: 30_000 })).toBe(6); // the driver resumed; the actor is back
    await first.close();
  } else {
    await first.close();
    expect(c.coordinator.actors.get(tally.actorId as never)?.state).toBe('alive'); // its job ended; it lives on
    for (let i = 0; i < restarts; i++) {
      if (i > 0)
        await until(() => c.coordinator.actors.get(tally.actorId as never)?.state === 'alive', { timeoutMs: 20_000, what: 'the actor back on its node' });
      await restart();
    }
  }
  const after = c;
  // The creating job is over, and the recovery holds lapsed: nothing but its name holds the actor now. It slept twice
  // the grace (4 s a case); it waits for the job's end and the actor back, then until the timer that releases the
  // holds has fired: recoverRows (coordinator/gcs/recovery.ts; on Redis at the takeover or the adoption) sets it, for
  // the grace, just before it logs coordinator-recovered. A timer of this event loop due later fires after it.
  await until(
    () => {
      const job = after.coordinator.gcs.jobs.get(first.jobId as never);
      return (job === undefined || job.state === 'finished') && after.coordinator.actors.get(tally.actorId as never)?.state === 'alive';
    },
    { timeoutMs: 30_000, what: 'the creating job to end, the actor alive' },
  );
  const recovered = after.coordinator.gcs.events.filter((e) => e.kind === 'coordinator-recovered').at(-1);
  if (recovered) await new Promise((r) => setTimeout(r, Math.max(0, recovered.ts + RESTART_GRACE_MS + 50 - Date.now())));

  const second = await connect({ url: after.url, token, namespace });
  cleanups.push(() => second.close());
  const found = await second.getActor<Tally>('tally');
  expect(await second.get(found.add.remote(10), { timeoutMs: 30_000 })).toBe(order === 'restart-then-end' ? 16 : 15);
  await second.close();
  const third = await connect({ url: after.url, token, namespace });
  cleanups.push(() => third.close());
  const again = await third.getActor<Tally>('tally');
  expect(await third.get(again.add.remote(100), { timeoutMs: 30_000 })).toBe(order === 'restart-then-end' ? 116 : 115);

  // Killed, it goes: its calls fail, its name is free, and the coordinator keeps nothing of it.
  third.kill(again);
  await expect(third.get(again.add.remote(1), { timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'ACTOR_DIED' });
  await expect(third.getActor('tally')).rejects.toMatchObject({ code: 'ACTOR_DIED' });
  await third.close();
  await until(
    () => {
      const s = after.coordinator.statsJson();
      return s.objects === 0 && s.tasks === 0 && after.coordinator.actors.alive === 0;
    },
    { timeoutMs: 20_000, what: () => `the coordinator to keep nothing of the killed actor: ${JSON.stringify(after.coordinator.statsJson())}` },
  );
}
