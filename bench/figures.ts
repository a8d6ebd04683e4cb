// Benchmarks' output and arithmetic: one JSON line per figure on stdout (all
// else on stderr), percentiles, timing, interleaved rounds, and runBench.
// ---------------------------------------------------------------- output

export interface Figure {
  bench: string;
  value: number;
  unit: string;
  baseline: number | null;
  ratio: number | null;
}

/** Diagnostics: stderr only, so stdout stays one JSON line per figure. */
export function log(...parts: unknown[]): void {
  process.stderr.write(`[bench] ${parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ')}\n`);
}

/** Rounds to `digits` significant-ish decimals without turning big numbers into strings. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Makes a figure; ratio = value / baseline when there is a (non-zero) baseline. */
export function figure(bench: string, value: number, unit: string, baseline: number | null = null): Figure {
  const ratio = baseline === null || baseline === 0 ? null : value / baseline;
  return { bench, value: round(value), unit, baseline: baseline === null ? null : round(baseline), ratio: ratio === null ? null : round(ratio, 4) };
}

/** Prints one figure as one JSON line on stdout. */
export function emit(f: Figure): void {
  process.stdout.write(JSON.stringify(f) + '\n');
}

// ---------------------------------------------------------------- statistics

/** The p-th percentile (0..100) of `xs`, nearest-rank on a sorted copy. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/**
 * A figure from paired rounds (round i of the contender ran next to round i of
 * its baseline): the medians of each, and the median of the per-round ratios,
 * which a load that changes between rounds moves less than a ratio of bests.
 */
export function pairedFigure(bench: string, values: readonly number[], baselines: readonly number[], unit: string): Figure {
  const ratios = values.map((v, i) => v / baselines[i]).filter(Number.isFinite);
  return { ...figure(bench, median(values), unit, median(baselines)), ratio: ratios.length ? round(median(ratios), 4) : null };
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** High-resolution now in ms. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `fn` and returns how long it took in ms. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = nowMs();
  await fn();
  return nowMs() - t0;
}

/**
 * Runs each contender `rounds` times, interleaved (A B A B ...; with
 * `alternate`, A B B A A B ...: neither always runs first after a cleanup), and
 * returns every contender's durations in ms, by round.
 */
export async function interleaved<K extends string>(
  rounds: number,
  contenders: Record<K, () => Promise<unknown>>,
  opts: {
    /** Called after each timed run, untimed: cleanup, waiting for a quiet system... */
    after?: (name: K, round: number, ms: number) => Promise<void> | void;
    alternate?: boolean;
  } = {},
): Promise<Record<K, number[]>> {
  const names = Object.keys(contenders) as K[];
  const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < rounds; r++) {
    for (const n of opts.alternate && r % 2 === 1 ? [...names].reverse() : names) {
      const ms = await timeMs(contenders[n]);
      out[n].push(ms);
      await opts.after?.(n, r, ms);
    }
  }
  return out;
}

export const MB = 2 ** 20;

/** Node's own RSS of this process in MB, for context in diagnostics. */
export function selfRssMb(): number {
  return process.memoryUsage().rss / MB;
}

/** Runs a benchmark's main: exit 0 when it finishes, 1 (with the stack on stderr) when it fails. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      log(`FAILED: ${(e as Error).stack ?? e}`);
      process.exit(1);
    },
  );
}
