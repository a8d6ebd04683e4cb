// `tabmesh coordinator|start --hold-*` (session 38): the membership hold's knobs (coordinator/nodes/hold.ts): nodes
// that miss their deadline together are held, not lost. Checked here, each with a line naming the flag; the
// coordinator checks them again (holdOptions) for embedders.
import type { HoldOptions } from '../coordinator/nodes/hold.js';

export const HOLD_USAGE = `                 [--hold-share F] [--hold-min-nodes N] [--hold-dead-after-ms MS] [--hold-evict-per-sec R]
                 (nodes silent together are held, not lost: no new work, their tasks kept, back when they speak;
                  --hold-share: the share of the nodes silent together that is a mass, in (0, 1] (default 0.1);
                  --hold-min-nodes: fewer silent together are each lost at their deadline as before (default 10);
                  --hold-dead-after-ms: a held node silent this long is lost all the same (default 30000, at least
                  --dead-after-ms); --hold-evict-per-sec: held nodes of a mass lost a second before that, the longest
                  held first (default 0))`;

export const holdFlagOptions = {
  'hold-share': { type: 'string' },
  'hold-min-nodes': { type: 'string' },
  'hold-dead-after-ms': { type: 'string' },
  'hold-evict-per-sec': { type: 'string' },
} as const;

type HoldValues = { [K in keyof typeof holdFlagOptions]?: string };

/** A number of the command line in [min, max] (`integer`: whole), or undefined when the flag is not given. */
function num(
  v: string | undefined,
  name: string,
  min: number,
  max: number,
  integer: boolean,
  usage: (msg: string) => never,
  minExclusive = false,
): number | undefined {
  if (v === undefined) return undefined;
  const n = v.trim() === '' ? Number.NaN : Number(v);
  const low = minExclusive ? n > min : n >= min;
  if (!Number.isFinite(n) || !low || n > max || (integer && !Number.isInteger(n)))
    usage(`--${name} must be ${integer ? 'an integer' : 'a number'} in ${minExclusive ? '(' : '['}${min}, ${max}]`);
  return n;
}

/** The hold's options given on the command line (unset ones keep their defaults); `deadAfterMs`: --dead-after-ms's value. */
export function holdFlags(values: HoldValues, deadAfterMs: number, usage: (msg: string) => never): Partial<HoldOptions> | undefined {
  const o: Partial<HoldOptions> = {};
  const share = num(values['hold-share'], 'hold-share', 0, 1, false, usage, true);
  const minNodes = num(values['hold-min-nodes'], 'hold-min-nodes', 1, 10_000_000, true, usage);
  const bound = num(values['hold-dead-after-ms'], 'hold-dead-after-ms', 1000, 3_600_000, true, usage);
  const evict = num(values['hold-evict-per-sec'], 'hold-evict-per-sec', 0, 1_000_000, false, usage);
  if (bound !== undefined && bound < deadAfterMs) usage(`--hold-dead-after-ms must be at least --dead-after-ms (${deadAfterMs})`);
  if (share !== undefined) o.share = share;
  if (minNodes !== undefined) o.minNodes = minNodes;
  if (bound !== undefined) o.deadAfterMs = bound;
  if (evict !== undefined) o.evictPerSec = evict;
  return Object.keys(o).length > 0 ? o : undefined;
}
