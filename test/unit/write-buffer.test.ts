// The durable GCS's write buffer (coordinator/gcs/redis-buffer.ts): what a flush hands the storage thread.
import { describe, expect, it } from 'vitest';
import { ARENA_START, COPY_MAX, WriteBuffer } from '../../coordinator/gcs/redis-buffer.js';

const NONE = new Map<string, string>();

/** The batch's rows as key -> first byte and length, read from its bytes by its spans. */
function rowsOf(batch: ReturnType<WriteBuffer['take']>['batch']): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const [, tables] of batch.groups) for (const [, keys, spans] of tables) keys.forEach((k, i) => (out[k] = [batch.bytes[spans[2 * i]], spans[2 * i + 1]]));
  return out;
}

describe('WriteBuffer', () => {
  it("a flush of a few rows hands over a buffer of their size, not the arena; the next flush's rows do not overwrite it", () => {
    const b = new WriteBuffer();
    b.change('g', 'tasks', 'a', b.store(new Uint8Array(300).fill(1)));
    b.change('g', 'tasks', 'b', b.store(new Uint8Array(200).fill(2)));
    const first = b.take(1, NONE);
    // Before (session 30): the whole 64 KiB arena went to the storage thread, where it waited for that thread's GC.
    expect(first.transfer.byteLength).toBe(500);
    expect(first.batch.bytes.buffer).toBe(first.transfer);
    b.change('g', 'tasks', 'c', b.store(new Uint8Array(500).fill(3)));
    const second = b.take(2, NONE);
    expect(second.transfer.byteLength).toBe(500);
    expect(rowsOf(first.batch)).toEqual({ a: [1, 300], b: [2, 200] });
    expect(rowsOf(second.batch)).toEqual({ c: [3, 500] });
  });

  it('a flush of more than COPY_MAX bytes hands over the arena itself (no copy) and starts a new one', () => {
    const b = new WriteBuffer();
    b.change('g', 'objects', 'big', b.store(new Uint8Array(COPY_MAX + 1).fill(4)));
    const { batch, transfer } = b.take(1, NONE);
    expect(transfer.byteLength).toBe(ARENA_START);
    expect(rowsOf(batch)).toEqual({ big: [4, COPY_MAX + 1] });
    b.change('g', 'objects', 'next', b.store(new Uint8Array(10).fill(5)));
    const next = b.take(2, NONE);
    expect(rowsOf(next.batch)).toEqual({ next: [5, 10] });
    expect(rowsOf(batch)).toEqual({ big: [4, COPY_MAX + 1] });
  });

  it('an empty flush hands over an empty buffer', () => {
    const b = new WriteBuffer();
    b.change('g', 'tasks', 'gone', -1);
    const { batch, transfer } = b.take(1, NONE);
    expect(transfer.byteLength).toBe(0);
    expect(batch.groups[0][1][0][3]).toEqual(['gone']);
  });
});
