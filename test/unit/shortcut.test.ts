// Result shortcuts' tags, link message and the driver's checks (issue 14, session 14).
import { describe, expect, it, vi } from 'vitest';
import { childTaskId, randomHex, returnObjectId, putObjectId, type NodeId, type ObjectId, type TaskId } from '../../shared/ids.js';
import { ShortcutKey, TAG_BYTES } from '../../shared/protocol/shortcut.js';
import { readMessage, writeShortcut } from '../../shared/transfer/wire.js';
import { ObjectClient } from '../../shared/api/object-client.js';
import { DriverShortcuts } from '../../shared/api/driver-shortcuts.js';
import type { Msg } from '../../shared/protocol/messages.js';

const secret = randomHex(24);
const task = randomHex(16) as TaskId;
const node = randomHex(8) as NodeId;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('shortcut tags', () => {
  it('a tag names one task, attempt and node under one job secret', () => {
    const k = new ShortcutKey(secret);
    const tag = k.tag(task, 0, node).slice();
    expect(tag.byteLength).toBe(TAG_BYTES);
    expect(k.matches(tag, task, 0, node)).toBe(true);
    expect(k.matches(tag, task, 1, node)).toBe(false);
    expect(k.matches(tag, task, 0, randomHex(8) as NodeId)).toBe(false);
    expect(k.matches(tag, randomHex(16) as TaskId, 0, node)).toBe(false);
    expect(new ShortcutKey(randomHex(24)).matches(tag, task, 0, node)).toBe(false);
    expect(new ShortcutKey('not a secret').matches(tag, task, 0, node)).toBe(false);
  });

  it('the link message carries id, attempt, tag and value', () => {
    const id = returnObjectId(task, 0);
    const tag = hex(new ShortcutKey(secret).tag(task, 3, node));
    const m = readMessage(writeShortcut(id, 3, tag, new Uint8Array([1, 2, 3])));
    expect(m.result?.id).toBe(id);
    expect(m.result?.attempt).toBe(3);
    expect(hex(m.result!.tag)).toBe(tag);
    expect([...m.result!.v]).toEqual([1, 2, 3]);
    expect(() => readMessage(new Uint8Array([5, 0, 0]))).toThrow(/short result/);
  });
});

describe("a driver's shortcuts", () => {
  function driver() {
    const sent: Msg[] = [];
    const objects = new ObjectClient(
      (m) => sent.push(m),
      () => 0,
    );
    const sc = new DriverShortcuts(
      objects,
      () => 64,
      (m) => sent.push(m),
    );
    sc.welcomed(secret);
    return { sent, objects, sc };
  }
  const id = returnObjectId(task, 0);
  const tagOf = (t: TaskId, attempt: number, n: NodeId) => new ShortcutKey(secret).tag(t, attempt, n).slice();

  it('a good tag from the assigned node resolves the wait; the same result again is late', async () => {
    const { objects, sc } = driver();
    const waiting = objects.whenReady(id);
    sc.onResult(node, { id, attempt: 0, tag: tagOf(task, 0, node), v: new Uint8Array([7]) });
    expect([...(await waiting).v!]).toEqual([7]);
    sc.onResult(node, { id, attempt: 0, tag: tagOf(task, 0, node), v: new Uint8Array([7]) });
    expect(sc.counts).toEqual({ taken: 1, late: 1, refused: 0 });
  });

  it('another node, another attempt, a put id or a value over the inline size are refused, and the object asked of the coordinator again', () => {
    const { sent, objects, sc } = driver();
    void objects.whenReady(id);
    const subscribes = () => sent.filter((m) => m.t === 'subscribe').length;
    expect(subscribes()).toBe(1);
    const other = randomHex(8) as NodeId;
    sc.onResult(other, { id, attempt: 0, tag: tagOf(task, 0, node), v: new Uint8Array([1]) });
    sc.onResult(node, { id, attempt: 1, tag: tagOf(task, 0, node), v: new Uint8Array([1]) });
    sc.onResult(node, { id: putObjectId(task, 0) as ObjectId, attempt: 0, tag: tagOf(task, 0, node), v: new Uint8Array([1]) });
    sc.onResult(node, { id, attempt: 0, tag: tagOf(task, 0, node), v: new Uint8Array(65) });
    expect(sc.counts).toEqual({ taken: 0, late: 0, refused: 4 });
    expect(objects.known(id)).toBeUndefined();
    expect(subscribes()).toBe(4); // asked again for the held id (not for the put nobody waits on)
  });

  it('a taken result is said `took` on the next frame (once), or alone when no frame goes within TOOK_ALONE_MS; refused and late ones are not', () => {
    vi.useFakeTimers();
    try {
      const { sent, objects, sc } = driver();
      const task2 = childTaskId(task, 1);
      const id2 = returnObjectId(task2, 0);
      void objects.whenReady(id);
      void objects.whenReady(id2);
      expect(sc.riding()).toBeNull();
      sc.onResult(node, { id, attempt: 0, tag: tagOf(task, 0, node), v: new Uint8Array([7]) });
      sc.onResult(node, { id, attempt: 0, tag: tagOf(task, 0, node), v: new Uint8Array([7]) }); // late
      sc.onResult(node, { id: id2, attempt: 0, tag: tagOf(task, 1, node), v: new Uint8Array([7]) }); // refused: another attempt
      expect(sc.riding()).toEqual({ t: 'took', ids: [id] });
      expect(sc.riding()).toBeNull();
      sc.onResult(node, { id: id2, attempt: 0, tag: tagOf(task2, 0, node), v: new Uint8Array([8]) });
      expect(sent.filter((m) => m.t === 'took')).toEqual([]);
      vi.advanceTimersByTime(1000);
      expect(sent.filter((m) => m.t === 'took')).toEqual([{ t: 'took', ids: [id2] }]);
      expect(sc.riding()).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });
});
