// Queues and logs that stay cheap at 10,000+ entries (shared/fifo.ts): an
// actor's caller queue keeps its order through pushes, retries put back in
// front and compaction; a job's log keeps its newest lines, bounded.
import { afterEach, describe, expect, it } from 'vitest';
import { Fifo, keepTail } from '../../shared/fifo.js';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { JobRunner } from '../../coordinator/jobs/runner.js';
import type { SubmittedJob } from '../../coordinator/jobs/types.js';

describe('Fifo', () => {
  it('hands 30,000 entries back in order while taking some back in front, across compactions', () => {
    const q = new Fifo<number>();
    const out: number[] = [];
    for (let i = 0; i < 30_000; i++) {
      q.push(i);
      if (i % 3 === 2) {
        const a = q.shift()!;
        const b = q.shift()!;
        // b "failed" and is retried: it goes back first, before everything still queued.
        q.unshift(b);
        out.push(a);
      }
    }
    expect(q.length).toBe(30_000 - out.length);
    expect(q.peek()).toBe(out.length);
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    expect(out).toEqual(Array.from({ length: 30_000 }, (_, i) => i));
    expect(q.length).toBe(0);
    expect(q.peek()).toBeUndefined();
    expect(q.shift()).toBeUndefined();
  });

  it('iterates what is queued, head first; an empty queue takes an unshift', () => {
    const q = new Fifo<string>();
    q.unshift('b');
    q.unshift('a');
    q.push('c');
    expect(q.shift()).toBe('a');
    expect([...q]).toEqual(['b', 'c']);
  });
});

describe('keepTail', () => {
  it('keeps between cap and 1.25 × cap of the newest entries, in order', () => {
    const log: number[] = [];
    let cuts = 0;
    for (let i = 0; i < 10_000; i++) {
      log.push(i);
      const before = log.length;
      keepTail(log, 1000);
      if (log.length < before) cuts++;
      expect(log.length).toBeLessThanOrEqual(1250);
    }
    expect(log.length).toBeGreaterThanOrEqual(1000);
    expect(log.every((x, k) => x === 10_000 - log.length + k)).toBe(true);
    // Cut in steps, not once per entry past the cap.
    expect(cuts).toBeLessThanOrEqual(36);
  });
});

describe("a submitted job's log", () => {
  let c: Coordinator | null = null;
  afterEach(() => {
    c?.close();
    c = null;
  });

  it('keeps its newest lines past maxLogLines, numbered without gaps', () => {
    c = new Coordinator({ storage: new MemoryStorage() });
    const runner = new JobRunner(c, { maxLogLines: 100 });
    const job = { id: 'job', status: 'succeeded', log: [], logSeq: 0 } as unknown as SubmittedJob;
    for (let i = 0; i < 1000; i++) runner.log(job, 'log', `line ${i}`);
    expect(job.log.length).toBeGreaterThanOrEqual(100);
    expect(job.log.length).toBeLessThanOrEqual(125);
    expect(job.log.at(-1)).toMatchObject({ seq: 1000, text: 'line 999' });
    expect(job.log.every((l, k) => l.seq === job.log[0].seq + k)).toBe(true);
  });
});
