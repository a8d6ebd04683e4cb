// The coordinator's traffic counters (coordinator/traffic.ts, issue 14): counts
// by message kind in a slot per kind; /api/stats names the kinds seen.
import { describe, expect, it } from 'vitest';
import { Traffic } from '../../coordinator/traffic.js';
import { messages, type MessageKind } from '../../shared/protocol/messages.js';

describe('Traffic', () => {
  it('counts messages by kind in and out, and lists only the kinds seen', () => {
    const t = new Traffic();
    for (let i = 0; i < 3; i++) t.msgIn('done');
    t.msgIn('submit');
    t.msgOut('assign');
    t.msgOut('assign');
    t.frameIn(true, false);
    t.frameIn(true, true);
    t.frameOut(false);
    const j = t.json();
    expect(j['traffic.in.done']).toBe(3);
    expect(j['traffic.in.submit']).toBe(1);
    expect(j['traffic.out.assign']).toBe(2);
    expect(j).not.toHaveProperty('traffic.in.assign');
    expect(j).not.toHaveProperty('traffic.out.done');
    expect([j['traffic.nodeFramesIn'], j['traffic.keepalivesIn'], j['traffic.framesOut']]).toEqual([1, 1, 1]);
  });

  it('every kind of the protocol has a count of its own', () => {
    const t = new Traffic();
    const kinds = Object.keys(messages) as MessageKind[];
    kinds.forEach((k, i) => {
      for (let n = 0; n <= i; n++) t.msgIn(k);
      t.msgOut(k);
    });
    const j = t.json();
    kinds.forEach((k, i) => {
      expect(j[`traffic.in.${k}`]).toBe(i + 1);
      expect(j[`traffic.out.${k}`]).toBe(1);
    });
  });
});
