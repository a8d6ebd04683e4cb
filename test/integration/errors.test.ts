// Failures: thrown errors, their propagation, closure variables, cancellation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { TaskCancelledError, TaskError } from '../../shared/index.js';

declare const mesh: Mesh; // inside tasks

describe('errors and cancellation', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    m = await cl.driver();
  });
  afterAll(() => cl.stop());

  it('a task that throws makes get throw TaskError with the remote name, message, stack, function and task id', async () => {
    const explode = m.remote(function explode(x: number): number {
      if (x > 0) throw new RangeError(`too big: ${x}`);
      return x;
    });
    const ref = explode.remote(5);
    const err = await m.get(ref).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    const te = err as TaskError;
    expect(te.code).toBe('TASK_ERROR');
    expect(te.remoteName).toBe('RangeError');
    expect(te.remoteMessage).toBe('too big: 5');
    expect(te.remoteStack).toContain('explode');
    expect(te.functionName).toBe('explode');
    expect(te.taskId).toBe(ref.id.slice(0, 32));
  });

  it('tasks depending on a failed task fail with the same cause, through a chain, without hanging', async () => {
    const fail = m.remote(function fail(): number {
      throw new Error('root cause');
    });
    const inc = m.remote((x: number) => x + 1);
    const a = fail.remote();
    const b = inc.remote(a);
    const c = inc.remote(b);
    for (const r of [a, b, c]) {
      const e = (await m.get(r).catch((x: unknown) => x)) as TaskError;
      expect(e).toBeInstanceOf(TaskError);
      expect(e.remoteMessage).toBe('root cause');
      expect(e.functionName).toBe('fail');
    }
  });

  it('a function that reads a variable of its enclosing scope fails with an error that says so and names it', async () => {
    const factor = 3;
    const scale = m.remote(function scale(x: number) {
      return x * factor;
    });
    const e = (await m.get(scale.remote(2)).catch((x: unknown) => x)) as TaskError;
    expect(e).toBeInstanceOf(TaskError);
    expect(e.remoteName).toBe('ClosureVariableError');
    expect(e.remoteMessage).toContain("'factor'");
    expect(e.remoteMessage).toContain('scale');
    expect(e.remoteMessage).toContain('enclosing scope');
  });

  it('a queued task that is cancelled never runs', async () => {
    // Fill both executors (and the node's queue) so that the last task stays queued.
    const block = m
      .remote(async (ms: number) => {
        await new Promise((r) => setTimeout(r, ms));
        return 'slept';
      })
      .options({ numCpus: 2 });
    const blockers = [block.remote(800), block.remote(800)];
    const marker = m.remote((key: string) => key).options({ numCpus: 2 });
    const queued = marker.remote('ran');
    m.cancel(queued);
    await expect(m.get(queued)).rejects.toBeInstanceOf(TaskCancelledError);
    expect(await m.get(blockers)).toEqual(['slept', 'slept']);
    const rec = cl.c.coordinator.gcs.tasks.get(queued.id.slice(0, 32) as never);
    expect(rec?.state).toBe('cancelled');
    expect(rec?.ranOn).toBeNull(); // never assigned to a node
    const stats = cl.c.coordinator.gcs.stats;
    expect(stats.tasksCancelled).toBeGreaterThanOrEqual(1);
  });

  it('a running task is stopped by cancel: softly when it awaits, by force when it spins', async () => {
    const waiter = m.remote(async function waiter() {
      const never = mesh.remote(async () => new Promise(() => {}));
      return await mesh.get(never.remote());
    });
    const w = waiter.remote();
    await new Promise((r) => setTimeout(r, 300));
    m.cancel(w);
    await expect(m.get(w, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(TaskCancelledError);

    const spin = m.remote(function spin() {
      for (;;) {
        /* never yields */
      }
    });
    const s = spin.remote();
    await cl.until(() => [...cl.c.coordinator.gcs.tasks.values()].some((t) => t.spec.name === 'spin' && t.state === 'running'));
    m.cancel(s, { force: true });
    await expect(m.get(s, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(TaskCancelledError);
    // The node goes on working with a fresh executor.
    const ok = m.remote((x: number) => x * 2);
    expect(await m.get([ok.remote(1), ok.remote(2), ok.remote(3)])).toEqual([2, 4, 6]);
  });

  it('a task past its timeoutMs is stopped and fails with TaskTimeoutError', async () => {
    const spin = m
      .remote(function spinForever() {
        for (;;) {
          /* spin */
        }
      })
      .options({ timeoutMs: 300 });
    const e = await m.get(spin.remote(), { timeoutMs: 10_000 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'TASK_TIMEOUT' });
    const ok = m.remote(() => 'alive');
    expect(await m.get(ok.remote())).toBe('alive');
  });

  it('rejects a native function and a value that cannot be sent with clear errors', () => {
    expect(() => m.remote(Math.max)).toThrow(/native/);
    const id = m.remote((x: unknown) => x);
    expect(() => id.remote({ f: () => 1 })).toThrow(/cannot send a function \(at \.f\)/);
  });
});
