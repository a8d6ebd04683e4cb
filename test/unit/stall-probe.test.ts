// The probe of the coordinator's long synchronous sections (issue 14,
// coordinator/stall-probe.ts): a callback of the loop is one section with its
// microtasks, named by what ran, with the messages it handled; the turn of
// most CPU lists it. Causes and counts, no timings: the busy callback spins
// until the thread's own CPU clock has moved, so it is the longest whatever the load.
import { afterEach, describe, expect, it } from 'vitest';
import { StallProbe, threadCpuMs } from '../../coordinator/stall-probe.js';
import { traffic } from '../../coordinator/traffic.js';

const spin = (ms: number): void => {
  const end = threadCpuMs() + ms;
  while (threadCpuMs() < end);
};

let probe: StallProbe | null = null;
afterEach(() => {
  probe?.stop();
  probe = null;
});

describe('stall probe', () => {
  it('names the longest callback, counts what it and its microtasks handled, and lists it in the worst turn', async () => {
    probe = new StallProbe();
    probe.start();
    probe.report(true);
    await new Promise<void>((resolve) => {
      setTimeout(function busyTimer() {
        traffic.msgIn('submit');
        traffic.msgIn('submit');
        // A continuation of the callback: the same section, not one of its own.
        void Promise.resolve().then(() => {
          traffic.msgIn('done');
          spin(40);
          setTimeout(resolve, 5);
        });
      }, 1);
    });
    const r = probe.report(false);
    const top = r.top[0];
    expect(top.what).toBe('callback busyTimer');
    expect(top.kinds).toEqual({ submit: 2, done: 1 });
    expect(top.counts.msgsIn).toBe(3);
    expect(top.cpuMs).toBeGreaterThanOrEqual(40);
    expect(r.worstTurn?.by[0].what).toBe('callback busyTimer');
    expect(r.turns).toBeGreaterThan(0);
    // A reset starts over.
    probe.report(true);
    expect(probe.report(false).top).toEqual([]);
  });

  it('stops: no section is counted once it is off', async () => {
    probe = new StallProbe();
    probe.start();
    probe.stop();
    await new Promise((r) => setTimeout(r, 5));
    expect(probe.report(false).sections).toBe(0);
  });
});
