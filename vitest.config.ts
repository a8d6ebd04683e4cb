import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real coordinators, node processes and browsers:
    // on a 2-core machine they run one file at a time.
    fileParallelism: false,
    pool: 'forks',
    typecheck: {
      enabled: true,
      only: false,
      include: ['test/types/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
  },
});
