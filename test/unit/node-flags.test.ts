// The GC thread flags a coordinator reports in /api/stats, read as Node applies them (cli/node-flags.ts).
import { describe, expect, it } from 'vitest';
import { gcThreadFlags, NODE_DEFAULT_V8_POOL } from '../../cli/node-flags.js';

describe('gcThreadFlags', () => {
  it("no flag: Node's own pool of 4 and V8's parallel GC", () => {
    expect(gcThreadFlags([], '', 2)).toEqual({ v8PoolSize: NODE_DEFAULT_V8_POOL, singleThreadedGc: 0 });
    expect(gcThreadFlags(['--max-old-space-size=4096', '--expose-gc'], '--max-semi-space-size=8', 2)).toEqual({ v8PoolSize: 4, singleThreadedGc: 0 });
  });

  it('a pool size from the command line or NODE_OPTIONS, in both spellings; 0 is the cores less one', () => {
    expect(gcThreadFlags(['--v8-pool-size=1'], '', 8).v8PoolSize).toBe(1);
    expect(gcThreadFlags(['--v8-pool-size', '3'], '', 8).v8PoolSize).toBe(3);
    expect(gcThreadFlags([], '  --v8-pool-size=2  --max-semi-space-size=8', 8).v8PoolSize).toBe(2);
    expect(gcThreadFlags(['--v8_pool_size=6'], '', 8).v8PoolSize).toBe(6);
    expect(gcThreadFlags(['--v8-pool-size=0'], '', 8).v8PoolSize).toBe(7);
    expect(gcThreadFlags(['--v8-pool-size=0'], '', 1).v8PoolSize).toBe(1);
  });

  it('the command line wins over NODE_OPTIONS, and the last one given over the ones before', () => {
    expect(gcThreadFlags(['--v8-pool-size=1'], '--v8-pool-size=3', 8).v8PoolSize).toBe(1);
    expect(gcThreadFlags(['--v8-pool-size=1', '--v8-pool-size=2'], '', 8).v8PoolSize).toBe(2);
    expect(gcThreadFlags(['--single-threaded-gc', '--no-single-threaded-gc'], '', 8).singleThreadedGc).toBe(0);
  });

  it('single-threaded GC from --single-threaded-gc or --single-threaded', () => {
    expect(gcThreadFlags(['--single-threaded-gc'], '', 2).singleThreadedGc).toBe(1);
    expect(gcThreadFlags(['--single_threaded_gc'], '', 2).singleThreadedGc).toBe(1);
    expect(gcThreadFlags(['--single-threaded'], '', 2).singleThreadedGc).toBe(1);
    expect(gcThreadFlags(['--single-threaded-gc-x'], '', 2).singleThreadedGc).toBe(0);
  });

  it('a pool size as Node reads it: its leading digits; below 1 or not a number, the cores less one', () => {
    expect(gcThreadFlags(['--v8-pool-size=2.7'], '', 8).v8PoolSize).toBe(2);
    expect(gcThreadFlags(['--v8-pool-size=-1'], '', 8).v8PoolSize).toBe(7);
    expect(gcThreadFlags(['--v8-pool-size=two'], '', 8).v8PoolSize).toBe(7);
  });
});
