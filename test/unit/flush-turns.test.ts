// A coordinator's end-of-turn frames go out a slice per turn (issue 14,
// coordinator/flush-turns.ts): a turn that gave work to 2,000 nodes must not
// end in 2,000 socket writes at once. Counted per turn, not timed.
import { describe, expect, it } from 'vitest';
import { SessionFlushes } from '../../coordinator/flush-turns.js';
import { decodeFrame, Outbox } from '../../shared/protocol/frame.js';
import type { Msg } from '../../shared/protocol/messages.js';

const turn = () => new Promise<void>((r) => setImmediate(r));

/** `count` outboxes whose frames are recorded as [outbox, messages]. */
function outboxes(count: number, turns?: SessionFlushes): { boxes: Outbox[]; sent: Array<[number, Msg[]]> } {
  const sent: Array<[number, Msg[]]> = [];
  const boxes = Array.from({ length: count }, (_, i) => new Outbox((f) => sent.push([i, decodeFrame(f)]), undefined, turns));
  return { boxes, sent };
}

describe('session flushes: a slice of outboxes per turn', () => {
  it('2,000 outboxes with a message each flush at most 256 a turn, oldest first, all of them in 8 turns', async () => {
    const flushes = new SessionFlushes(256);
    const { boxes, sent } = outboxes(2000, flushes);
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
    const { boxes, sent } = outboxes(2000);
    boxes.forEach((b) => b.push({ t: 'giveBack', n: 1 }));
    await turn();
    expect(sent).toHaveLength(2000);
  });

  it('an outbox waiting for its turn keeps collecting: one frame, messages in order, and one flush per wait', async () => {
    const flushes = new SessionFlushes(2);
    const { boxes, sent } = outboxes(5, flushes);
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
    const { boxes, sent } = outboxes(1, flushes);
    for (let i = 0; i < 1024; i++) boxes[0].push({ t: 'giveBack', n: i + 1 });
    expect(sent).toHaveLength(1);
    expect(sent[0][1]).toHaveLength(1024);
    boxes[0].push({ t: 'giveBack', n: 5000 });
    // Still one place in the queue: the turn it had asked for carries the message pushed after the full frame.
    expect(flushes.size).toBe(1);
    await turn();
    expect(sent.map(([, m]) => m.length)).toEqual([1024, 1]);
  });
});
