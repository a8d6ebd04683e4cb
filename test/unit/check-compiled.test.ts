// The wire checkers written out as code on Node (shared/protocol/check.ts
// compiledObj, issue 14) must answer exactly as the loop they stand in for,
// which pages still run: the same verdict and the same message naming the same
// path, for valid input and for every kind of bad input (a field missing, of
// the wrong type, unknown, the whole value of the wrong kind), nested too.
import { describe, expect, it } from 'vitest';
import { arr, bool, dict, id, int, lit, obj, objCheckers, opt, str, type Check } from '../../shared/protocol/check.js';
import { seeded as rng } from '../sim/net.js';

const inner = { node: id(16), soft: bool, spill: opt(bool) };
const shape: Record<string, Check<unknown>> = {
  taskId: id(16),
  name: str(64),
  args: arr(obj({ r: id(20) }), 8),
  numReturns: int(0, 100),
  resources: dict(int(0, 64), 4),
  scheduling: opt(obj(inner)),
  kind: lit('a', 'b'),
  verify: opt(bool),
};
const valid = () => ({
  taskId: 'ab'.repeat(16),
  name: 'noop',
  args: [{ r: 'cd'.repeat(20) }],
  numReturns: 1,
  resources: { cpu: 1 },
  scheduling: { node: 'ef'.repeat(16), soft: true },
  kind: 'a',
  verify: undefined,
});
const WRONG: unknown[] = [undefined, null, 0, -1, 1.5, 2 ** 60, '', 'x'.repeat(100), 'AB'.repeat(16), true, [], [1], {}, { r: 1 }, new Uint8Array(2), NaN];

/** A valid value with one random change (or a few, nested). */
function mutate(r: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const v: Record<string, unknown> = valid();
  const kind = r();
  if (kind < 0.05) return pick([null, [], 'str', 7, new Uint8Array(1)]);
  const key = pick(Object.keys(v));
  if (kind < 0.2) delete v[key];
  else if (kind < 0.3) v[pick(['extra', '__x', 'taskid'])] = 1;
  else if (kind < 0.4) v.scheduling = { ...(v.scheduling as object), [pick(['node', 'soft', 'spill', 'other'])]: pick(WRONG) };
  else if (kind < 0.5) v.args = [{ r: pick(WRONG) }];
  else v[key] = pick(WRONG);
  return v;
}

describe('an object checker written out as code (Node) against the loop (pages)', () => {
  const { compiled, loop } = objCheckers(shape);

  it('is made on Node, and both take a valid value', () => {
    expect(compiled).not.toBeNull();
    expect(loop(valid(), '')).toBeNull();
    expect(compiled!(valid(), '')).toBeNull();
  });

  it('gives the same answer as the loop for 5,000 values with random faults, nested ones too', () => {
    const r = rng(11);
    const differ: string[] = [];
    let refused = 0;
    for (let i = 0; i < 5000; i++) {
      const v = mutate(r);
      const a = loop(v, 'spec');
      const b = compiled!(v, 'spec');
      if (a !== b) differ.push(`${JSON.stringify(v)}: loop ${a}, compiled ${b}`);
      if (a !== null) refused++;
    }
    expect(differ.slice(0, 5)).toEqual([]);
    expect(refused).toBeGreaterThan(3000); // the faults are faults: most values are refused
  });

  it('names the path of a fault as the loop does: a field of a nested object, an unknown field', () => {
    const bad = { ...valid(), scheduling: { node: 'ef'.repeat(16), soft: 'yes' } };
    expect(compiled!(bad, 'm.spec')).toBe('m.spec.scheduling.soft: expected a boolean');
    expect(loop(bad, 'm.spec')).toBe('m.spec.scheduling.soft: expected a boolean');
    expect(compiled!({ ...valid(), 'it"s': 1 }, '')).toBe(loop({ ...valid(), 'it"s': 1 }, ''));
    expect(obj(shape)({ ...valid(), more: 1 }, 'x')).toBe("x: unknown field 'more'");
  });

  it('a field name that is not a plain identifier is read as that name', () => {
    const odd = objCheckers({ 'a-b': int(0, 1), 'c"d\\': opt(str(4)), '\u2028': opt(bool) });
    expect(odd.compiled!({ 'a-b': 1, 'c"d\\': 'x' }, '')).toBeNull();
    expect(odd.compiled!({ 'a-b': 2 }, '')).toBe(odd.loop({ 'a-b': 2 }, ''));
    expect(odd.compiled!({ 'a-b': 0, 'c"d\\': 5 }, '')).toBe(odd.loop({ 'a-b': 0, 'c"d\\': 5 }, ''));
    expect(odd.compiled!({ 'a-b': 0, '\u2028': 1 }, '')).toBe('.\u2028: expected a boolean');
  });
});
