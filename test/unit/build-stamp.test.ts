// `npm test` builds only when the build's inputs changed since `npm run build` (scripts/build-stamp.ts, session 32).
import { describe, expect, it } from 'vitest';
import { put, tempRoots } from '../helpers/temp-tree.js';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { OUTPUTS, STAMP, inputFiles, main, staleBecause, writeStamp } from '../../scripts/build-stamp.js';

const newRoot = tempRoots('tabmesh-stamp-');

/** A package folder as a build leaves it: sources, and the build's outputs. */
function built(): string {
  const root = newRoot();
  put(root, 'package.json', '{}');
  put(root, 'edge/node.ts', 'export const a = 1;');
  put(root, 'client-web/volunteer/index.html', '<p>');
  put(root, 'test/x.test.ts', 'test');
  put(root, 'docs/decisions.md', '# d');
  put(root, '.git/HEAD', 'ref');
  for (const f of OUTPUTS) put(root, f, 'built');
  writeStamp(root);
  return root;
}

describe('the build stamp', () => {
  it('takes sources, pages and configs as inputs; not dist/, test/, docs/, dot folders or *.md', () => {
    const root = built();
    put(root, 'README.md', 'r');
    expect(inputFiles(root)).toEqual(['client-web/volunteer/index.html', 'edge/node.ts', 'package.json']);
  });

  it('says up to date after a build, and stale after an edit, a new file, a removed file or a removed output', () => {
    const root = built();
    expect(staleBecause(root)).toBeNull();
    expect(main(['check'], root)).toBe(0);
    // What is not an input changes nothing.
    put(root, 'test/x.test.ts', 'changed');
    put(root, 'docs/decisions.md', 'changed');
    expect(staleBecause(root)).toBeNull();

    put(root, 'edge/node.ts', 'export const a = 2;');
    expect(staleBecause(root)).toMatch(/changed/);
    expect(main(['check'], root)).toBe(1);
    put(root, 'edge/node.ts', 'export const a = 1;');
    expect(staleBecause(root)).toBeNull();

    put(root, 'edge/new.ts', '');
    expect(staleBecause(root)).toMatch(/changed/);
    unlinkSync(join(root, 'edge/new.ts'));
    unlinkSync(join(root, 'client-web/volunteer/index.html'));
    expect(staleBecause(root)).toMatch(/changed/);
    expect(main(['write'], root)).toBe(0);
    expect(staleBecause(root)).toBeNull();

    unlinkSync(join(root, OUTPUTS[1]));
    expect(staleBecause(root)).toMatch(/missing/);
  });

  it('says stale without a stamp (never built by npm run build, or a build that failed after removing it)', () => {
    const root = built();
    unlinkSync(join(root, STAMP));
    expect(staleBecause(root)).toMatch(/no dist/);
    expect(main(['nonsense'], root)).toBe(2);
  });
});
