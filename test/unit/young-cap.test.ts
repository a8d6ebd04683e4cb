// The coordinator's young generation kept under a ceiling set at run time (cli/young-cap.ts, issue 14): V8
// reads --max-semi-space-size only at start, so the cap steers --semi-space-growth-factor after each GC.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { capYoungGeneration, growthFactorFor } from '../../cli/young-cap.js';

const MB = 2 ** 20;

/**
 * A fresh process (1 MB semi-space) under a burst whose objects survive, allocated a coordinator's turn at a
 * time (~0.4 MB, then the loop turns): the largest semi-space it reached. `capMb`: the cap, from the built
 * code (npm run build) as `tabmesh coordinator --young-mb` runs it; 0: V8's own.
 */
function largestSemiSpace(capMb: number): number {
  const mod = pathToFileURL(join(import.meta.dirname, '../../dist/cli/young-cap.js')).href;
  const script = `import { capYoungGeneration, semiSpaceBytes } from ${JSON.stringify(mod)};
capYoungGeneration(${capMb});
const keep = [];
let largest = semiSpaceBytes();
for (let turn = 0; turn < 1500; turn++) {
  for (let i = 0; i < 4000; i++) keep.push({ a: i, b: [i], c: 'x' + i });
  if (keep.length > 60000) keep.splice(0, 30000);
  largest = Math.max(largest, semiSpaceBytes());
  await new Promise((r) => setImmediate(r));
}
console.log(largest);`;
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }));
}

describe('the young generation cap (issue 14, session 21)', () => {
  it('keeps a burst of survivors at or under the cap, where V8 grows it to its own ceiling', () => {
    const own = largestSemiSpace(0);
    const capped = largestSemiSpace(4);
    expect(own).toBeGreaterThan(8 * MB);
    expect(capped).toBeLessThanOrEqual(4 * MB);
    // It grows to the cap, not less: the cap is not a smaller young generation than asked.
    expect(capped).toBeGreaterThan(2 * MB);
  });

  it('sets the factor that reaches the cap in one growth, 1 once there', () => {
    expect(growthFactorFor(1 * MB, 8 * MB)).toBe(8);
    expect(growthFactorFor(2 * MB, 8 * MB)).toBe(4);
    expect(growthFactorFor(8 * MB, 8 * MB)).toBe(1);
    expect(growthFactorFor(16 * MB, 8 * MB)).toBe(1);
    // Never past the one-step regrowth factor (cli/heap-flags.ts), nor below 1.
    expect(growthFactorFor(0.25 * MB, 64 * MB)).toBe(16);
    expect(growthFactorFor(0, 8 * MB)).toBe(1);
  });

  it('refuses a cap that is not whole MB in 0..64; 0 installs nothing', () => {
    expect(() => capYoungGeneration(-1)).toThrow(RangeError);
    expect(() => capYoungGeneration(65)).toThrow(RangeError);
    expect(() => capYoungGeneration(2.5)).toThrow(RangeError);
    expect(capYoungGeneration(0).factor()).toBe(0);
  });
});
