// A coordinator taken for gone mid-job with task groups on (session 31): two coordinators A and B on one Redis, a
// driver's batch on A (groups: A's node takes slices, B takes members made ordinary tasks over its link). Mid-job A
// takes B for gone (B's beats held past DEAD_MS, or B's process stopped: a stall, a partition), drops what B ran
// for it and closes B's link; B's agent says hello again. Or B is killed. The job ends with exact results, each
// task counted once, no member left queued, and no frame B's agent sent on the closed link taken for the first
// message of a new one (BAD_MESSAGE: B's hello queued behind it was dropped with it).
import { describe, expect, it } from 'vitest';
import type { RunningCoordinator } from '../../coordinator/server.js';
import type { EdgeNode } from '../../edge/node.js';
import { useRedis } from '../helpers/redis.js';
import { linkedInProcess, closeInProcess } from '../helpers/mesh.js';
import { edgeNodes, getJson, kill, printCoordinators, redisCoordinator, stats, statsWhen, type Coord } from '../helpers/processes.js';
import { sleep, until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

let mesh: Mesh | undefined;
const inProcess: (RunningCoordinator | EdgeNode)[] = [];
const stopped: Coord[] = [];
const redis = useRedis(async () => {
  for (const c of stopped.splice(0)) c.proc.kill('SIGCONT');
  await mesh?.close().catch(() => {});
  mesh = undefined;
  await closeInProcess(inProcess);
});

type Stats = Record<string, number>;
type Events = { kind: string; message: string }[];

/** The batch: `n` calls of ~`ms` each in one synchronous turn (task groups), and what they return. */
function batch(m: Mesh, n: number, ms: number) {
  const work = m.remote(async (i: number, wait: number) => {
    await new Promise((r) => setTimeout(r, wait));
    return i * 5 + 3;
  });
  const refs = Array.from({ length: n }, (_, i) => work.remote(i, ms));
  return { refs, want: Array.from({ length: n }, (_, i) => i * 5 + 3) };
}

/** The refusals of a link session whose first message was not a hello, from a coordinator's events. */
const badHellos = (ev: Events) => ev.filter((e) => e.kind === 'mesh-error' && e.message.includes('BAD_MESSAGE'));

/** A's counters once it counted `n` more tasks finished than `before`: each once, no member queued or on a slice. */
function countedOnce(s: Stats, before: Stats, n: number): void {
  expect(s.tasksFinished - (before.tasksFinished ?? 0)).toBe(n);
  expect(s.tasksFailed).toBe(before.tasksFailed ?? 0);
  expect(s.groupsSubmitted - (before.groupsSubmitted ?? 0)).toBeGreaterThan(0);
  expect(s.groupMembersQueued).toBe(0);
  expect(s.groupMembersRunning).toBe(0);
}

describe('a coordinator taken for gone mid-job, task groups on', () => {
  it("B's beats stop past DEAD_MS and come back, B's agent sending on its closed link and saying hello twice: no link while B is taken for gone, the job ends exact, no BAD_MESSAGE", async () => {
    const { a, b, token } = await linkedInProcess(redis.server.url, 'lostback', inProcess);
    const st = (c: RunningCoordinator) => c.coordinator.statsJson() as unknown as Stats;
    const inside = (c: RunningCoordinator) =>
      c.coordinator.mesh as unknown as {
        registry: { tick(self: unknown): Promise<unknown> };
        bus: { send(to: string, kind: string, frame: Uint8Array, tag?: number): void };
      };
    mesh = await connect({ url: a.url, token });
    const { refs, want } = batch(mesh, 600, 15);
    const all = mesh.get(refs, { timeoutMs: 60_000 });
    all.catch(() => {}); // a failure before it is awaited (B's beats still held) is the test's, not an unhandled one
    await until(() => st(b).tasksFinished >= 20, { timeoutMs: 30_000, what: 'B to run tasks of the job' });
    // B's beats wait (its record in Redis ages: A takes it for gone); B's loop runs on, its agent for A too.
    const reg = inside(b).registry;
    const tick = reg.tick.bind(reg);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    reg.tick = async (self) => (await held, tick(self));
    // From now on what A's link sessions send B's agent reaches it 2.5 s late (a slow Redis, a subscription coming
    // back, B's loop behind), in order: B's agent goes on sending on a link A closed, its tasks' ends among it, and
    // says hello again before A's welcome reached it (its hello interval is 2 s).
    const bus = inside(a).bus;
    const send = bus.send.bind(bus);
    let late = 0;
    bus.send = (to, kind, frame, tag) => {
      if (kind !== 'toAgent' && kind !== 'agentEnd') return send(to, kind, frame, tag);
      late++;
      setTimeout(() => (late--, send(to, kind, frame, tag)), 2500);
    };
    await until(() => a.coordinator.gcs.events.some((e) => e.kind === 'coordinator-lost'), { timeoutMs: 20_000, what: 'A to take B for gone' });
    const lostAt = a.coordinator.gcs.events.length;
    // B's agent hears that A closed its link, and says hello while A takes B for gone.
    await until(() => b.coordinator.gcs.events.some((e) => e.kind === 'mesh-link-lost'), { timeoutMs: 20_000, what: "B's agent to hear A closed its link" });
    await sleep(1000);
    const bId = b.coordinator.meshId!;
    const joinedWhileGone = a.coordinator.gcs.events.slice(lostAt).filter((e) => e.kind === 'node-joined' && e.message.includes(`coordinator ${bId}`));
    reg.tick = tick;
    release();
    const got = await all.catch((e: unknown) => {
      for (const [name, c] of [
        ['A', a],
        ['B', b],
      ] as const)
        console.log(
          name,
          JSON.stringify(c.coordinator.gcs.events.filter((x) => !/^task-(started|finished)$/.test(x.kind)).map((x) => [x.kind, x.message])).slice(-6000),
          JSON.stringify(st(c)),
        );
      throw e;
    });
    expect(got).toEqual(want);
    // A opened B no session while it took B for gone (each one it closed at its next beat, B's tasks there run again).
    expect(joinedWhileGone.map((e) => e.message)).toEqual([]);
    await until(() => st(a).tasksFinished >= 600, { timeoutMs: 10_000, what: 'A to count every task' }).catch(() => {});
    countedOnce(st(a), {}, 600);
    // B's agent welcomed again, and what A sent it up to then arrived (an answer to a second hello among it).
    const kinds = () => b.coordinator.gcs.events.map((e) => e.kind);
    await until(() => kinds().lastIndexOf('mesh-link') > kinds().lastIndexOf('mesh-link-lost'), { timeoutMs: 20_000, what: "B's agent to be welcomed again" });
    await until(() => late === 0, {
      timeoutMs: 20_000,
      what: () => `A's frames to B's agent to arrive (${late} on the way; B refused ${badHellos(b.coordinator.gcs.events).length} time(s): the link flaps)`,
    });
    expect(badHellos(a.coordinator.gcs.events).concat(badHellos(b.coordinator.gcs.events))).toEqual([]);
    // The windows were hit: frames of B's agent came on the closed link (none opened a session), and hellos again.
    expect(st(a).meshLinkFramesVoid).toBeGreaterThan(0);
    await until(() => a.coordinator.membership.links === 1 && b.coordinator.membership.links === 1, { timeoutMs: 15_000, what: 'both linked again' });
  }, 120_000);

  it("B's process stops past DEAD_MS twice and goes on, then B is killed: each job ends exact, each task counted once, no BAD_MESSAGE", async () => {
    const token = 'stop-' + Math.random().toString(36).slice(2);
    const [a, b] = await Promise.all([redisCoordinator(redis.server.url, 'stop', token), redisCoordinator(redis.server.url, 'stop', token)]);
    await Promise.all([edgeNodes(a, token, 1), edgeNodes(b, token, 1)]);
    for (const c of [a, b])
      await until(async () => ((await stats(c.url, token))?.meshLinks ?? 0) === 1, { timeoutMs: 15_000, what: `${c.url} to link to the other` });
    const events = async (c: Coord) => (await getJson<Events>(c.url, '/api/events?limit=2000', token)) ?? [];
    mesh = await connect({ url: a.url, token });
    const m = mesh;
    /** A job of `n` calls; `hit` once B has run `atLeast` more tasks than before it. */
    const job = async (n: number, hit: () => Promise<void>) => {
      const [a0, b0] = [(await stats(a.url, token))!, (await stats(b.url, token))!];
      const { refs, want } = batch(m, n, 15);
      const all = m.get(refs, { timeoutMs: 90_000 });
      await until(async () => ((await stats(b.url, token))?.tasksFinished ?? 0) >= b0.tasksFinished + 20, {
        timeoutMs: 30_000,
        what: 'B to run tasks of the job',
      });
      await hit();
      const got = await all.catch(async (e: unknown) => {
        await printCoordinators(
          [a, b].filter((c) => c.proc.exitCode === null && c.proc.signalCode === null),
          token,
        );
        throw e;
      });
      expect(got).toEqual(want);
      countedOnce(await statsWhen(a.url, token, 'tasksFinished', a0.tasksFinished + n), a0, n);
    };
    await job(1500, async () => {
      for (const ms of [3000, 3500]) {
        const lost = (await events(a)).filter((e) => e.kind === 'coordinator-lost').length;
        b.proc.kill('SIGSTOP');
        stopped.push(b);
        await until(async () => (await events(a)).filter((e) => e.kind === 'coordinator-lost').length > lost, {
          timeoutMs: 20_000,
          what: 'A to take B for gone',
        });
        await sleep(ms - 2000);
        b.proc.kill('SIGCONT');
        stopped.splice(0);
        await until(async () => ((await stats(a.url, token))?.meshLinks ?? 0) === 1, { timeoutMs: 20_000, what: 'A to link B again' });
      }
    });
    expect(badHellos(await events(a)).concat(badHellos(await events(b)))).toEqual([]);
    // B is gone for good mid-job: what it ran for A runs on A's node.
    await job(400, () => kill(b));
    await until(async () => ((await stats(a.url, token))?.meshLinks ?? 1) === 0, { timeoutMs: 30_000, what: "A to drop B's link" });
  }, 240_000);
});
