import { configDefaults, defineConfig } from 'vitest/config';
import DurationSequencer from './test/helpers/duration-sequencer.js';

// Integration tests start real coordinators, node processes and browsers, and
// most of their time is waiting (heartbeats, leases, links, timeouts): on a
// 2-core machine two files run at once. Files that measure a process's memory
// or move hundreds of megabytes between real peers run afterwards, one at a
// time, so that another file's load does not show in what they measure (the
// actor file left them in session 33: its parameter server's weights are an
// eighth of what had moved 300 MiB through the driver in its tab case). Files
// that restart a coordinator on the port it had run two at a time: the port
// comes from below the ephemeral range (test/helpers/processes.ts
// restartablePort), so a file running beside cannot be handed it meanwhile.
// So do the soak files (their coordinator starts on port 0 each time; they
// measure no memory). Session 34: p2p/tabs (it measures no memory, ~100 MiB
// between tabs) and security/fuzz (its memory bound is its own fork's RSS,
// which a file beside in another fork does not touch) left for `paired`; what
// stays measures a process under the load beside it: spill-serve the holder's
// peak RSS (when V8 collects), memory the tabs' heaps, swarm and fan-out the
// origin's share of copies (the readers' relative pace).
const alone = ['test/p2p/spill-serve.test.ts', 'test/p2p/memory.test.ts', 'test/p2p/swarm.test.ts', 'test/p2p/fan-out.test.ts'];

// Unit files (test/unit: one box each, fakes, no processes) run first, sharing their worker's modules (`isolate:
// false`): a fresh fork importing the coordinator, codecs and Fastify again cost ~1 CPU-second a file, more than most
// unit files' own work (session 30, 128 files under CI's load: 55 s and 61 CPU-seconds against 153 s and 138). A
// unit file that needs a module's state as it is before another file's import changes it, or measures its process,
// runs isolated, in `paired`.
const pristine = [
  // shared/hash.ts's portable hasher (a tab's): edge/node-hash.ts installs Node's at import.
  'test/unit/put-order.test.ts',
  // The same: it checks the portable hasher before it installs Node's (failed shared in the longest-first order, s37).
  'test/unit/hash.test.ts',
  // They measure the process (its RSS, its heap, V8's collections): other files' garbage in it would show.
  'test/unit/eval-pool.test.ts',
  'test/unit/heap-compact.test.ts',
  'test/unit/heap-compact-v8.test.ts',
  'test/unit/bench-scale-gc.test.ts',
  'test/unit/task-record-bytes.test.ts',
  // Its page faults count the process's memory history (glibc's mmap threshold after earlier files' large frees): 13.5
  // of 24 MiB faulted once after other files in a shuffled order, at load 22 (session 38).
  'test/unit/bytes.test.ts',
];

// The integration files share their worker's modules as well (project `shared`): a fork of its own for each
// imported vitest, the coordinator, Fastify and the codecs again, ~2.2 CPU-seconds a file (sessions 30 and 32), the
// largest item of the vitest phase's CPU outside the tests' own work. A file here cleans up what it starts (servers,
// processes, browsers, timers, process listeners, env vars it sets) in its hooks, so the next file in the worker sees
// a process as it was; one that cannot runs isolated in `paired`, listed in `isolated` with its reason. The other
// folders are to follow once they pass shared twice. test/fault joined in session 33 (its failures shared at load
// 35-50 in session 32 were the helpers' 20 s waits for a process to start, failing isolated alike: now 60 s). test/soak
// not yet: its soak file failed its second shared run at load 48, `tabmesh submit` timing out on its coordinator.
// test/sim joined in session 34: in-process simulations on fake timers (each file's afterEach puts the real ones
// back), no processes; green shared twice at load 24-39, once beside four integration files. test/ray joined in
// session 35: each file starts its clusters (and Chromium) in beforeAll and stops them in afterAll; the folder
// shared took 152 CPU-seconds against 184 isolated (summed import 80 s against 291; load 30-47). Session 36: the
// setup file (test/helpers/shared-leaks.ts) fails a file that leaves a child process, a listening server or fake
// timers behind, and logs what each file held (nothing was left in 45 files; the sims' CPU is the same isolated).
// test/redis joined in session 36: each file stops its redis-server, processes and in-process coordinators in its
// hooks; 10 files took 58.8 CPU-seconds shared against 78.0 isolated (load 23-35). test/env, test/security and
// test/soak joined in session 37: each file stops its cluster, coordinators and `tabmesh start` in its hooks and puts
// TABMESH_PEERS back; the 13 files green shared twice (load 9-17; soak's `tabmesh submit` too), 51 CPU-s against 59.
const sharedFolders = ['integration', 'fault', 'sim', 'ray', 'redis', 'env', 'security', 'soak'];
const isolated = [
  // It reads what a process starts once (edge/node-hash.ts's hash pool, edge/node-warm.ts's warmer, their counters)
  // before and after its in-process node starts: an earlier file's node or driver had started them (failed shared).
  'test/integration/node-threads.test.ts',
  // It measures the process's RSS and ArrayBuffers, and turns V8's memory reducer off while it does.
  'test/integration/sqlite-writer-gc.test.ts',
  // It reads the process's RSS fall as an executor thread collects: another file's leftovers freed meanwhile would show.
  'test/integration/executor-idle-gc.test.ts',
  // It measures the process's ArrayBuffers as the Redis storage thread lets its batches go, as sqlite-writer-gc does.
  'test/redis/redis-writer-gc.test.ts',
  // Its counts (node turns, frames each way for a burst of 3,000 tasks to 300 in-process nodes) follow the pace of
  // its process's loop, coordinator and nodes alike: alone 103-105 node turns and 273-399 frames in (4 runs, two CPU
  // burners beside); in a shared worker after other files, 435-437 and 866 (CI and a helper's run, session 37).
  'test/integration/packing.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One Chromium for the run, launched at the first browser file's ask; each file takes a context of it (session 36).
    globalSetup: ['test/helpers/browser-server.ts'],
    // Each project's files longest first, from the measured durations in test/file-durations.json (session 37).
    sequence: { sequencer: DurationSequencer },
    // TABMESH_TEST_REPORT=<file>: a JSON report there as well, which refreshes that table (scripts/file-durations.ts).
    ...(process.env.TABMESH_TEST_REPORT ? { reporters: ['default', 'json'], outputFile: { json: process.env.TABMESH_TEST_REPORT } } : {}),
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
          include: [`test/!(${['unit', ...sharedFolders].join('|')})/**/*.test.ts`, ...pristine, ...isolated],
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
          // Sorted after `paired` in their group (by name): both run on the group's two workers.
          name: 'shared',
          include: sharedFolders.map((f) => `test/${f}/**/*.test.ts`),
          exclude: [...configDefaults.exclude, ...alone, ...isolated],
          isolate: false,
          setupFiles: ['test/helpers/shared-leaks.ts'],
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
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
