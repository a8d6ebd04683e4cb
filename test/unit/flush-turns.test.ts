// A coordinator's end-of-turn frames go out a slice per turn (issue 14,
// coordinator/flush-turns.ts): a turn that gave work to 2,000 nodes must not
// end in 2,000 socket writes at once. Counted per turn, not timed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FLUSH_MS, SessionFlushes } from '../../coordinator/flush-turns.js';
import { LOOP_MS, loopBudget } from '../../coordinator/loop-budget.js';
import { decodeFrame, FRAME_MAX_MSGS, Outbox } from '../../shared/protocol/frame.js';
import type { Msg } from '../../shared/protocol/messages.js';

const turn = () => new Promise<void>((r) => setImmediate(r));

/**
 * `count` outboxes whose frames are recorded as [outbox, messages]; `busy`: each has just sent a frame (not
 * recorded), so that what it is given next waits for the end of the turn (the clock stands still in these tests).
 */
async function outboxes(count: number, turns?: SessionFlushes, busy = true): Promise<{ boxes: Outbox[]; sent: Array<[number, Msg[]]> }> {
  const sent: Array<[number, Msg[]]> = [];
  let warming = busy;
  const boxes = Array.from({ length: count }, (_, i) => new Outbox((f) => warming || sent.push([i, decodeFrame(f)]), undefined, turns));
  if (busy) {
    for (const b of boxes) {
      b.push({ t: 'giveBack', n: 0 });
      b.flush();
    }
    // The flushes those pushes asked for find nothing to send.
    await Promise.resolve();
    while (turns && turns.size > 0) await turn();
    await turn();
    if (turns) turns.maxPerTurn = turns.carried = 0;
  }
  warming = false;
  return { boxes, sent };
}

describe('session flushes: a slice of outboxes per turn', () => {
  beforeEach(() => {
    vi.spyOn(performance, 'now').mockReturnValue(1000);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('idle outboxes send as soon as the pushing code is done, at most 256 a turn; the rest wait for their turn', async () => {
    const flushes = new SessionFlushes(256);
    const { boxes, sent } = await outboxes(300, flushes, false);
    boxes.forEach((b, i) => b.push({ t: 'giveBack', n: i + 1 }));
    expect(sent).toHaveLength(0);
    await Promise.resolve();
    expect(sent).toHaveLength(256);
    expect(flushes.size).toBe(44);
    await turn();
    expect(sent.map(([i]) => i)).toEqual(boxes.map((_, i) => i));
  });

  it("the idle outboxes of one callback flush in one microtask, counted as the loop budget's flush part (not as time between parts)", async () => {
    const flushes = new SessionFlushes(256);
    const { boxes, sent } = await outboxes(100, flushes, false);
    const enter = vi.spyOn(loopBudget, 'enter');
    const done = vi.spyOn(loopBudget, 'done');
    boxes.forEach((b, i) => b.push({ t: 'giveBack', n: i + 1 }));
    await Promise.resolve();
    expect(sent.map(([i]) => i)).toEqual(boxes.map((_, i) => i));
    expect(enter.mock.calls.map(([part]) => part)).toEqual(['flush']);
    expect(done).toHaveBeenCalledTimes(1);
  });

  it('2,000 outboxes with a message each flush at most 256 a turn, oldest first, all of them in 8 turns', async () => {
    const flushes = new SessionFlushes(256);
    const { boxes, sent } = await outboxes(2000, flushes);
    boxes.forEach((b, i) => b.push({ t: 'giveBack', n: i + 1 }));
    expect(sent).toHaveLength(0);
    expect(flushes.size).toBe(2000);
    const perTurn: number[] = [];
    while (sent.length < 2000 && perTurn.length < 20) {
      const before = sent.length;
      await turn();
      perTurn.push(sent.length - before);
    }
    expect(perTurn).toEqual([256, 256, 256, 256, 256, 256, 256, 208]);
    expect(sent.map(([i]) => i)).toEqual(boxes.map((_, i) => i));
    expect(flushes.maxPerTurn).toBe(256);
    expect(flushes.carried).toBe(7);
    expect(flushes.size).toBe(0);
  });

  it('without it, every outbox flushes in the same turn (what a 10,000-node pass did)', async () => {
    const { boxes, sent } = await outboxes(2000);
    boxes.forEach((b) => b.push({ t: 'giveBack', n: 1 }));
    await turn();
    expect(sent).toHaveLength(2000);
  });

  it('an outbox waiting for its turn keeps collecting: one frame, messages in order, and one flush per wait', async () => {
    const flushes = new SessionFlushes(2);
    const { boxes, sent } = await outboxes(5, flushes);
    for (const b of boxes) b.push({ t: 'giveBack', n: 1 });
    // The last outbox waits two turns; what is pushed meanwhile rides in the same frame.
    await turn();
    boxes[4].push({ t: 'giveBack', n: 2 });
    boxes[0].push({ t: 'giveBack', n: 3 });
    await turn();
    await turn();
    await turn();
    expect(sent.filter(([i]) => i === 4).map(([, m]) => m)).toEqual([
      [
        { t: 'giveBack', n: 1 },
        { t: 'giveBack', n: 2 },
      ],
    ]);
    // Outbox 0 was flushed in the first turn: its new message is a new frame, queued behind the others.
    expect(sent.map(([i]) => i)).toEqual([0, 1, 2, 3, 4, 0]);
    expect(flushes.size).toBe(0);
  });

  it('a frame that fills up goes at once, and its turn finds nothing more to send', async () => {
    const flushes = new SessionFlushes(256);
    const { boxes, sent } = await outboxes(1, flushes);
    for (let i = 0; i < FRAME_MAX_MSGS; i++) boxes[0].push({ t: 'giveBack', n: i + 1 });
    expect(sent).toHaveLength(1);
    expect(sent[0][1]).toHaveLength(FRAME_MAX_MSGS);
    boxes[0].push({ t: 'giveBack', n: 5000 });
    // Still one place in the queue: the turn it had asked for carries the message pushed after the full frame.
    expect(flushes.size).toBe(1);
    await turn();
    expect(sent.map(([, m]) => m.length)).toEqual([FRAME_MAX_MSGS, 1]);
  });
});

describe('session flushes: a time budget too', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it(`when each write takes 1 ms, a turn stops after FLUSH_MS (${FLUSH_MS} ms), not at 256 outboxes; all go out, in order`, async () => {
    let now = 1000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const flushes = new SessionFlushes(256);
    const sent: number[] = [];
    let warming = true;
    const boxes = Array.from(
      { length: 600 },
      (_, i) =>
        new Outbox(
          () => {
            if (warming) return;
            now += 1;
            sent.push(i);
          },
          undefined,
          flushes,
        ),
    );
    // Each has just sent a frame: what it is given next waits for its turn.
    for (const b of boxes) {
      b.push({ t: 'giveBack', n: 0 });
      b.flush();
    }
    await Promise.resolve();
    while (flushes.size > 0) await turn();
    await turn();
    warming = false;
    flushes.carried = flushes.timed = 0;
    boxes.forEach((b, i) => b.push({ t: 'giveBack', n: i + 1 }));
    const perTurn: number[] = [];
    while (sent.length < 600 && perTurn.length < 400) {
      const before = sent.length;
      await turn();
      perTurn.push(sent.length - before);
    }
    expect(sent).toEqual(boxes.map((_, i) => i));
    // The clock is read after every flush: the ninth write of 1 ms is the first past the 8 ms budget (read every
    // 16 flushes, 16 went).
    expect(Math.max(...perTurn)).toBe(FLUSH_MS + 1);
    expect(flushes.timed).toBeGreaterThan(0);
    expect(flushes.carried).toBe(0);
  });
});

describe("session flushes: idle outboxes within the loop's budget (issue 14, session 22)", () => {
  /** The loop budget's iteration (a process-wide one) ends at its 0 ms timer: each case starts outside any. */
  beforeEach(async () => {
    await new Promise((r) => setTimeout(r, 2));
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** `count` idle outboxes whose writes each advance the clock `writeMs`; answers them and the indexes sent, in order. */
  function idle(count: number, flushes: SessionFlushes, clock: { now: number }, writeMs: number): { boxes: Outbox[]; sent: number[] } {
    const sent: number[] = [];
    const boxes = Array.from(
      { length: count },
      (_, i) =>
        new Outbox(
          () => {
            clock.now += writeMs;
            sent.push(i);
          },
          undefined,
          flushes,
        ),
    );
    return { boxes, sent };
  }

  it(`when each write takes 1 ms, the idle outboxes' microtask stops after FLUSH_MS (${FLUSH_MS} ms), not at 256; the rest go in later turns`, async () => {
    const clock = { now: 1000 };
    vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
    const flushes = new SessionFlushes(256);
    const { boxes, sent } = idle(300, flushes, clock, 1);
    boxes.forEach((b, i) => b.push({ t: 'giveBack', n: i + 1 }));
    await Promise.resolve();
    // The clock is read after every flush: the first reading past 1,008 ms (9 writes) cuts the microtask (read every
    // 8 flushes, 16 went).
    expect(sent).toEqual(boxes.slice(0, FLUSH_MS + 1).map((_, i) => i));
    expect(flushes.nowTimed).toBe(1);
    expect(flushes.size).toBe(300 - FLUSH_MS - 1);
    for (let i = 0; i < 100 && sent.length < 300; i++) await turn();
    expect([...sent].sort((a, b) => a - b)).toEqual(boxes.map((_, i) => i));
  });

  it("once the loop iteration's budget is spent, an idle outbox waits for its turn (a sliced flush) instead of a microtask", async () => {
    const clock = { now: 1000 };
    vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
    const flushes = new SessionFlushes(256);
    const { boxes, sent } = idle(10, flushes, clock, 0);
    // A part began at 1,000 ms: the iteration's budget ends at 1,000 + LOOP_MS.
    loopBudget.enter('input');
    clock.now = 1000 + LOOP_MS + 5;
    boxes.forEach((b, i) => b.push({ t: 'giveBack', n: i + 1 }));
    await Promise.resolve();
    expect(sent).toEqual([]);
    expect(flushes.deferred).toBe(10);
    loopBudget.done();
    await turn();
    expect(sent).toEqual(boxes.map((_, i) => i));
  });

  it('within the budget, idle outboxes still send at once (a microtask)', async () => {
    const clock = { now: 1000 };
    vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
    const flushes = new SessionFlushes(256);
    const { boxes, sent } = idle(10, flushes, clock, 0);
    loopBudget.enter('input');
    clock.now = 1000 + LOOP_MS - 5;
    boxes.forEach((b, i) => b.push({ t: 'giveBack', n: i + 1 }));
    await Promise.resolve();
    expect(sent).toEqual(boxes.map((_, i) => i));
    expect(flushes.deferred).toBe(0);
    loopBudget.done();
  });
});
