// Which seeds a simulated run uses: SIM_SEED replays one, SIM_RUNS sets how many.
export function seedsToRun(defaultRuns: number): number[] {
  const one = process.env.SIM_SEED;
  if (one !== undefined && one !== '') return [Number(one)];
  const n = Number(process.env.SIM_RUNS ?? defaultRuns);
  return Array.from({ length: Number.isInteger(n) && n > 0 ? n : defaultRuns }, (_, i) => i + 1);
}
