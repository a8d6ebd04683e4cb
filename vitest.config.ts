import { configDefaults, defineConfig } from 'vitest/config';

// Integration tests start real coordinators, node processes and browsers, and
// most of their time is waiting (heartbeats, leases, links, timeouts): on a
// 2-core machine two files run at once. Files that measure a process's memory
// or move hundreds of megabytes between real peers run afterwards, one at a
// time, so that another file's load does not show in what they measure; so do
// files that restart a coordinator on the port it had (a file running beside
// could take the port meanwhile) and the actor file whose tab case moves
// 300 MiB through the driver.
const alone = [
  'test/fault/restart.test.ts',
  'test/redis/restart.test.ts',
  'test/integration/job-history.test.ts',
  'test/integration/newcomer-errors.test.ts',
  'test/integration/actors.test.ts',
  'test/p2p/spill-serve.test.ts',
  'test/p2p/memory.test.ts',
  'test/p2p/tabs.test.ts',
  'test/p2p/swarm.test.ts',
  'test/p2p/fan-out.test.ts',
  'test/security/fuzz.test.ts',
  'test/soak/**/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'paired',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...alone],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
          typecheck: {
            enabled: true,
            only: false,
            include: ['test/types/**/*.test-d.ts'],
            tsconfig: './tsconfig.json',
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'alone',
          include: alone,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
