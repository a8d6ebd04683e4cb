// vitest's queue longest file first, from a committed table of measured durations (scripts/file-durations.ts,
// test/helpers/duration-sequencer.ts, session 37).
import { describe, expect, it } from 'vitest';
import { put, tempRoots } from '../helpers/temp-tree.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TABLE, formatDurations, main, parseDurations, readDurations, reportDurations } from '../../scripts/file-durations.js';
import { format, resolveConfig } from 'prettier';
import { orderFiles, reorder, type Queued } from '../helpers/duration-sequencer.js';

const newRoot = tempRoots('tabmesh-durations-');

function pkg(): string {
  const root = newRoot();
  return root;
}

const file = (path: string, bytes: number, project = 'shared', groupOrder = 1): Queued => ({ path, bytes, project, groupOrder });

/** When the last file of `order` ends, two workers taking the next file from the queue as each gets free. */
function makespan(order: Queued[], seconds: Record<string, number>): number {
  const free = [0, 0];
  for (const f of order) {
    const w = free[0] <= free[1] ? 0 : 1;
    free[w] += seconds[f.path];
  }
  return Math.max(...free);
}

describe('the order of the test files', () => {
  it('puts a long file of small size first, so the group does not end with it running alone', () => {
    const seconds = { 'test/a.test.ts': 10, 'test/b.test.ts': 10, 'test/c.test.ts': 10, 'test/d.test.ts': 10, 'test/long.test.ts': 40 };
    // By size (vitest's order without a results cache) the long file is last.
    const bySize = [
      file('test/a.test.ts', 900),
      file('test/b.test.ts', 800),
      file('test/c.test.ts', 700),
      file('test/d.test.ts', 600),
      file('test/long.test.ts', 100),
    ];
    const { order, unknown } = orderFiles(bySize, seconds);
    expect(order.map((f) => f.path)[0]).toBe('test/long.test.ts');
    expect(unknown).toEqual([]);
    expect(makespan(bySize, seconds)).toBe(60);
    expect(makespan(order, seconds)).toBe(40);
  });

  it('keeps projects contiguous in vitest order (group, then name), and runs files the table lacks first, largest first', () => {
    const seconds = { 'test/unit/u.test.ts': 1, 'test/p2p/p.test.ts': 5, 'test/ray/r.test.ts': 2, 'test/ray/s.test.ts': 9 };
    const files = [
      file('test/ray/r.test.ts', 10),
      file('test/ray/new-small.test.ts', 5),
      file('test/ray/s.test.ts', 10),
      file('test/p2p/p.test.ts', 10, 'paired'),
      file('test/ray/new-big.test.ts', 50),
      file('test/p2p/spill.test.ts', 10, 'alone', 2),
      file('test/unit/u.test.ts', 10, 'unit', 0),
    ];
    const { order, unknown } = orderFiles(files, seconds);
    expect(order.map((f) => f.path)).toEqual([
      'test/unit/u.test.ts',
      'test/p2p/p.test.ts',
      'test/ray/new-big.test.ts',
      'test/ray/new-small.test.ts',
      'test/ray/s.test.ts',
      'test/ray/r.test.ts',
      'test/p2p/spill.test.ts',
    ]);
    expect(unknown.map((f) => f.path).sort()).toEqual(['test/p2p/spill.test.ts', 'test/ray/new-big.test.ts', 'test/ray/new-small.test.ts']);
  });

  it('leaves a project named to keep vitest order by size, largest first, without calling its files unknown', () => {
    const seconds = { 'test/unit/a.test.ts': 1, 'test/unit/b.test.ts': 9 };
    const files = [file('test/unit/b.test.ts', 10, 'unit', 0), file('test/unit/c.test.ts', 5, 'unit', 0), file('test/unit/a.test.ts', 50, 'unit', 0)];
    const { order, unknown } = orderFiles(files, seconds, new Set(['unit']));
    expect(order.map((f) => f.path)).toEqual(['test/unit/a.test.ts', 'test/unit/b.test.ts', 'test/unit/c.test.ts']);
    expect(unknown).toEqual([]);
  });
});

describe('an order to hunt files that pass only after another (TABMESH_FILE_ORDER)', () => {
  const files = [
    ...['u1', 'u2', 'u3', 'u4', 'u5', 'u6'].map((n) => file(`test/unit/${n}.test.ts`, 1, 'unit', 0)),
    ...['s1', 's2', 's3'].map((n) => file(`test/s/${n}.test.ts`, 1, 'shared', 1)),
  ];
  const paths = (xs: Queued[]) => xs.map((f) => f.path);
  const projects = (xs: Queued[]) => xs.map((f) => f.project);

  it('reverses or shuffles within each project, projects contiguous; a seed gives its order again', () => {
    expect(paths(reorder(files, undefined))).toEqual(paths(files));
    const rev = reorder(files, 'reverse');
    expect(paths(rev)).toEqual([...paths(files.slice(0, 6)).reverse(), ...paths(files.slice(6)).reverse()]);
    const a = reorder(files, 'shuffle:7');
    expect(projects(a)).toEqual(projects(files));
    expect(new Set(paths(a))).toEqual(new Set(paths(files)));
    expect(paths(reorder(files, 'shuffle:7'))).toEqual(paths(a));
    // Seeds differ in what they give (6! orders of the unit files: two seeds alike would be a broken generator).
    const orders = new Set([1, 2, 3, 4, 5].map((s) => paths(reorder(files, `shuffle:${s}`)).join()));
    expect(orders.size).toBeGreaterThan(1);
  });

  it('refuses a value it does not know, rather than running in an order nobody asked for', () => {
    for (const bad of ['random', 'shuffle:', 'shuffle:-1', 'shuffle:1234567890', 'reverse ']) expect(() => reorder(files, bad)).toThrow(/TABMESH_FILE_ORDER/);
  });
});

describe('the table of durations', () => {
  it('is refreshed from a vitest JSON report: tests spans in seconds, type-level files skipped, gone files dropped', () => {
    const root = pkg();
    put(root, 'test/a.test.ts', 'a');
    put(root, 'test/b.test.ts', 'b');
    put(root, TABLE, formatDurations({ 'test/a.test.ts': 3, 'test/b.test.ts': 4, 'test/gone.test.ts': 5 }));
    const report = {
      testResults: [
        { name: join(root, 'test/a.test.ts'), startTime: 1_000, endTime: 13_340 },
        { name: join(root, 'test/types/t.test-d.ts'), startTime: 0, endTime: 1 },
      ],
    };
    put(root, 'run.json', JSON.stringify(report));
    expect(main([join(root, 'run.json')], root)).toBe(0);
    expect(readDurations(root)).toEqual({ 'test/a.test.ts': 12.3, 'test/b.test.ts': 4 });
    expect(readFileSync(join(root, TABLE), 'utf8')).toBe(formatDurations({ 'test/b.test.ts': 4, 'test/a.test.ts': 12.3 }));
  });

  it('refuses a table or a report it cannot trust, rather than ordering the run by it', () => {
    expect(() => parseDurations('[]')).toThrow(/expected/);
    expect(() => parseDurations('{"files": {"test/a.test.ts": -1}}')).toThrow(/not a duration/);
    expect(() => parseDurations('{"files": {"test/a.test.ts": "9"}}')).toThrow(/not a duration/);
    expect(() => parseDurations('{"files": {"../etc/a.test.ts": 1}}')).toThrow(/not a test file/);
    expect(() => parseDurations('{"files": {"test/../../a.test.ts": 1}}')).toThrow(/not a test file/);
    expect(() => reportDurations({ testResults: [{ name: 'test/a.test.ts' }] }, '/')).toThrow(/startTime/);
    expect(() => reportDurations({ numTotalTests: 1 }, '/')).toThrow(/testResults/);
    expect(() => reportDurations({ testResults: [{ name: '/r/test/a.test.ts', startTime: 5, endTime: 1 }] }, '/r')).toThrow(/ends before/);
  });

  it('is written as prettier formats it, so that a refresh passes the format check', async () => {
    const text = formatDurations({ 'test/unit/b.test.ts': 4, 'test/ray/a.test.ts': 61.5 });
    const options = await resolveConfig(join(import.meta.dirname, '../..', TABLE));
    expect(await format(text, { ...options, parser: 'json' })).toBe(text);
  });

  it('reads as empty where there is none: every file is then ordered by size', () => {
    expect(readDurations(pkg())).toEqual({});
  });

  it('the committed table parses', () => {
    expect(Object.keys(readDurations(join(import.meta.dirname, '../..'))).length).toBeGreaterThan(0);
  });
});
