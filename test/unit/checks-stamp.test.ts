// npm test skips its checks only when they passed on this exact tree, recorded by CI's run of them beside
// better-sqlite3's compile (scripts/checks-stamp.ts, scripts/checks.sh --write-stamp, session 37).
import { describe, expect, it } from 'vitest';
import { put, tempRoots } from '../helpers/temp-tree.js';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { STAMP, checkedDigest, checkedFiles, main, uncheckedBecause } from '../../scripts/checks-stamp.js';

const newRoot = tempRoots('tabmesh-checks-');

/** A package after `npm ci` and a build. */
function tree(): string {
  const root = newRoot();
  put(root, 'package.json', '{}');
  put(root, 'edge/node.ts', 'export const a = 1;');
  put(root, 'test/unit/x.test.ts', 'test');
  put(root, 'docs/decisions.md', '# d');
  put(root, '.prettierrc.json', '{}');
  put(root, '.ci/run', '#!/bin/sh');
  put(root, '.git/HEAD', 'ref');
  put(root, 'dist/edge/node.js', 'built');
  put(root, 'tmp/scratch.ts', 'x');
  put(root, 'test/run.log', 'log');
  put(root, 'node_modules/.package-lock.json', '{"packages": {}}');
  put(root, 'node_modules/typescript/lib/typescript.js', 'tsc');
  return root;
}

/** What CI does: the digest before the checks, written after they passed. */
function passed(root: string): void {
  const digest = checkedDigest(root);
  expect(main(['write', digest], root)).toBe(0);
}

describe('the checks stamp', () => {
  it('covers sources, tests, docs and dot configs, and what is installed; not builds, .git, scratch or logs', () => {
    expect(checkedFiles(tree())).toEqual([
      '.ci/run',
      '.prettierrc.json',
      'docs/decisions.md',
      'edge/node.ts',
      'node_modules/.package-lock.json',
      'package.json',
      'test/unit/x.test.ts',
    ]);
  });

  it('lets npm test skip the checks on the tree they passed on, and not after any change to what they read', () => {
    const root = tree();
    expect(uncheckedBecause(root)).toBe(`no ${STAMP}`);
    passed(root);
    expect(main(['check'], root)).toBe(0);
    put(root, 'dist/edge/node.js', 'built again');
    put(root, 'test/other.log', 'more log');
    expect(uncheckedBecause(root)).toBeNull();
    const edits: [string, (r: string) => void][] = [
      ['a source edited', (r) => put(r, 'edge/node.ts', 'export const a = 2;')],
      ['a test added', (r) => put(r, 'test/unit/y.test.ts', 'test')],
      ['a config removed', (r) => unlinkSync(join(r, '.prettierrc.json'))],
      ['a package installed', (r) => put(r, 'node_modules/.package-lock.json', '{"packages": {"x": {}}}')],
    ];
    for (const [what, edit] of edits) {
      const r = tree();
      passed(r);
      edit(r);
      expect(uncheckedBecause(r), what).toBe('the tree changed since they passed');
      expect(main(['check'], r), what).toBe(1);
    }
  });

  it('does not vouch for an edit made while the checks ran: the digest is the one taken before them', () => {
    const root = tree();
    const before = checkedDigest(root);
    put(root, 'edge/node.ts', 'export const a: number = "not checked";');
    expect(main(['write', before], root)).toBe(0);
    expect(uncheckedBecause(root)).toBe('the tree changed since they passed');
  });

  it('refuses to write anything but a digest', () => {
    const root = tree();
    expect(main(['write'], root)).toBe(2);
    expect(main(['write', 'passed'], root)).toBe(2);
    expect(main(['write', 'A'.repeat(64)], root)).toBe(2);
    expect(uncheckedBecause(root)).toBe(`no ${STAMP}`);
  });
});
