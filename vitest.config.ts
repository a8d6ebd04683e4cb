import { configDefaults, defineConfig } from 'vitest/config';

// Integration tests start real coordinators, node processes and browsers, and
// most of their time is waiting (heartbeats, leases, links, timeouts): on a
// 2-core machine two files run at once. Files that measure a process's memory
// or move hundreds of megabytes between real peers run afterwards, one at a
// time, so that another file's load does not show in what they measure; so
// does the actor file whose tab case moves 300 MiB through the driver. Files
// that restart a coordinator on the port it had run paired: the port comes
// from below the ephemeral range (test/helpers/processes.ts restartablePort),
// so a file running beside cannot be handed it meanwhile. So do the soak files
// (their coordinator starts on port 0 each time; they measure no memory).
const alone = [
  'test/integration/actors.test.ts',
  'test/p2p/spill-serve.test.ts',
  'test/p2p/memory.test.ts',
  'test/p2p/tabs.test.ts',
  'test/p2p/swarm.test.ts',
  'test/p2p/fan-out.test.ts',
  'test/security/fuzz.test.ts',
];

// Unit files (test/unit: one box each, fakes, no processes) run first, sharing their worker's modules (`isolate:
// false`): a fresh fork importing the coordinator, codecs and Fastify again cost ~1 CPU-second a file, more than most
// unit files' own work (session 30, 128 files under CI's load: 55 s and 61 CPU-seconds against 153 s and 138). A
// unit file that needs a module's state as it is before another file's import changes it, or measures its process,
// runs isolated, in `paired`.
const pristine = [
  // shared/hash.ts's portable hasher (a tab's): edge/node-hash.ts installs Node's at import.
  'test/unit/put-order.test.ts',
  // They measure the process (its RSS, its heap, V8's collections): other files' garbage in it would show.
  'test/unit/eval-pool.test.ts',
  'test/unit/heap-compact.test.ts',
  'test/unit/heap-compact-v8.test.ts',
  'test/unit/bench-scale-gc.test.ts',
  'test/unit/task-record-bytes.test.ts',
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
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...pristine],
          isolate: false,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'paired',
          include: ['test/!(unit)/**/*.test.ts', ...pristine],
          exclude: [...configDefaults.exclude, ...alone],
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          typecheck: {
            // `npm test` ran `npm run typecheck` (tsc over test/ too, which fails on a wrong expectTypeOf) just before
            // vitest: checking the same files again here cost ~26 s of CPU beside the paired files (session 20).
            enabled: process.env.npm_lifecycle_event !== 'test',
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
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
