// Which seeds a simulated run uses: SIM_SEED replays one, SIM_RUNS sets how many.
export function seedsToRun(defaultRuns: number): number[] {
  const one = process.env.SIM_SEED;
  if (one !== undefined && one !== '') return [Number(one)];
  const n = Number(process.env.SIM_RUNS ?? defaultRuns);
  return Array.from({ length: Number.isInteger(n) && n > 0 ? n : defaultRuns }, (_, i) => i + 1);
}

/**
 * The fixed networks a comparison test (the same object read in two to four modes, asserted mode against mode)
 * runs on: the first alone by default, every one with SIM_FIGURES=all (the longer run: README "Simulations").
 * The others hold the same assertions on other random networks; CI's run keeps one of each comparison.
 */
export function figureSeeds(seeds: readonly number[]): number[] {
  return process.env.SIM_FIGURES === 'all' ? [...seeds] : seeds.slice(0, 1);
}
