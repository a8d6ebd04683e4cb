// A detached actor of an ended job when several coordinators share one Redis (coordinator/mesh/detached-actors.ts):
// the coordinator that hosts it keeps the ended job's lease; after that coordinator restarts, the one its node
// joins adopts it, and no other coordinator does (the lease), though another one sweeps for orphans after.
import { describe, expect, it } from 'vitest';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.js';
import { connect, startEdgeNode } from '../../edge/index.js';
import { useRedis } from '../helpers/redis.js';
import { until } from '../helpers/poll.js';
import { restartablePort } from '../helpers/processes.js';
import { GRACE_MS, Tally, type Cleanups } from '../helpers/restart-detached.js';

/** A coordinator's adoption of ended jobs' detached actors (white-box): its sweep for orphans. */
interface MeshInside {
  detached: { sweep(): Promise<void> };
}

const cleanups: Cleanups = [];
const redis = useRedis(async () => {
  for (const f of cleanups.splice(0).reverse()) await Promise.resolve(f()).catch(() => {});
});

describe('a detached actor of an ended job, two coordinators on one Redis', () => {
  it('its coordinator restarts: the one its node joins adopts it, the other does not', async () => {
    const prefix = 'detached-mesh';
    const token = 'dm-' + Math.random().toString(36).slice(2);
    const base = { redis: { url: redis.server.url, prefix }, token, httpLimits: false as const, recoveryGraceMs: GRACE_MS, jobGraceMs: GRACE_MS };
    const optsA = { ...base, port: await restartablePort() };
    let a: RunningCoordinator = await startCoordinator(optsA);
    let aClosed = false;
    cleanups.push(() => (aClosed ? undefined : a.close()));
    const b = await startCoordinator({ ...base, port: 0 });
    cleanups.push(() => b.close());
    // B's sweep adopts an ended job whose lease was free for a job grace (2 s): so it does, rightly, when A's restart
    // and its node's rejoin take longer than that (under load 25-35: the actor then died with B's recovery grace, its
    // node being at A). B sweeps only once A is back; the node's rejoin wait is held to 250 ms (its cap is 5 s).
    const bd = (b.coordinator.mesh as unknown as MeshInside).detached;
    const sweep = bd.sweep.bind(bd);
    let hold = true;
    let swept = 0;
    bd.sweep = async () => {
      if (hold) return;
      await sweep();
      swept++;
    };
    const node = await startEdgeNode({ coordinator: a.url, cpus: 2, rejoinMaxMs: 250 });
    cleanups.push(() => node.leave());

    const first = await connect({ url: a.url, token });
    cleanups.push(() => first.close());
    const tally = first.remote(Tally).options({ name: 'tally', lifetime: 'detached' }).remote();
    expect(await first.get(tally.add.remote(5))).toBe(5);
    const job = first.jobId;
    await first.close();
    const lease = async () => (await redis.server.cli('GET', `${prefix}:{${job}}:lease`)).trim();
    const record = async () => (await redis.server.cli('HEXISTS', `${prefix}:{_}:detached`, String(tally.actorId))).trim();
    // Its job ended; its actor lives on at A, which keeps the job's lease; the actor -> job record is in Redis.
    await until(async () => (await record()) === '1', { timeoutMs: 10_000, what: 'the detached record' });
    expect(await lease()).toBe(a.coordinator.meshId);

    aClosed = true;
    await a.close();
    a = await startCoordinator(optsA);
    aClosed = false;
    const adopter = a;
    let holder = '';
    await until(
      async () => {
        holder = await lease();
        return adopter.coordinator.actors.get(tally.actorId as never)?.state === 'alive';
      },
      {
        timeoutMs: 30_000,
        // Where it stood: the node back at A or not, the actor's record there, who holds the ended job's lease.
        what: () =>
          `the actor back on its node at A (A's nodes ${adopter.coordinator.gcs.nodes.size}, the actor there ${adopter.coordinator.actors.get(tally.actorId as never)?.state ?? 'unknown'}, ` +
          `the job's lease held by ${holder === adopter.coordinator.meshId ? 'A' : holder === '' ? 'nobody' : holder === b.coordinator.meshId ? 'B' : `${holder} (the old A)`})`,
      },
    );
    expect(await lease()).toBe(adopter.coordinator.meshId);
    // B sweeps for ended jobs' actors with a free lease (every job grace / 2): over more than a job grace of sweeps
    // it finds none to adopt.
    hold = false;
    const from = Date.now();
    await until(() => swept >= 4 && Date.now() - from > GRACE_MS, { timeoutMs: 30_000, what: () => `B to sweep 4 times (${swept})` });
    expect(b.coordinator.gcs.jobs.has(job as never)).toBe(false);
    expect(b.coordinator.actors.has(tally.actorId as never)).toBe(false);
    // A's: B never held it. A renews it every beat (LEASE_MS 1.5 s): a loop of this process stalled past that under
    // load lets it lapse for a moment until A's next beat takes it again (seen at load 34: '').
    const holders = new Set<string>();
    await until(async () => (holders.add((holder = await lease())), holder === adopter.coordinator.meshId), {
      timeoutMs: 15_000,
      what: () => `the lease back at A (held by ${[...holders].join(', ')})`,
    });
    expect(holders.has(b.coordinator.meshId!)).toBe(false);

    const second = await connect({ url: adopter.url, token });
    cleanups.push(() => second.close());
    const found = await second.getActor<Tally>('tally');
    expect(await second.get(found.add.remote(10), { timeoutMs: 30_000 })).toBe(15);
    // Killed (and its last handle gone), it goes: its record and its job's lease with it.
    second.kill(found);
    await expect(second.get(found.add.remote(1), { timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'ACTOR_DIED' });
    await second.close();
    let seen: string[] = [];
    await until(async () => (seen = [await record(), await lease()]).join() === '0,', {
      timeoutMs: 20_000,
      what: () => `the record and the lease to go: ${seen.join()}`,
    });
  }, 120_000);
});
