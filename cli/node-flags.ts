// The node flags that size a coordinator's GC threads, as the process was started with them (issue 14, session 26;
// docs/decisions.md "The coordinator's GC threads stay V8's own; node's flags reach it on its command line"). The
// CLI runs in the process node started (no re-exec: a second process costs ~42 MB, session 21), so these are set
// on node's command line (`node --single-threaded-gc bin/tabmesh.js coordinator`) or, for those Node accepts
// there, in NODE_OPTIONS (`NODE_OPTIONS=--v8-pool-size=1`); V8 reads them when the process starts, and
// `--single-threaded-gc` set at run time aborts Node 20 at the next GC (session 25). /api/stats shows what the
// coordinator got.
import os from 'node:os';

/** Node's V8 platform pool when no --v8-pool-size is given: 4 worker threads, whatever the cores (Node 20-24). */
export const NODE_DEFAULT_V8_POOL = 4;

/** What /api/stats reports. */
export interface GcThreadFlags {
  /** V8's platform worker threads (its GC helpers, concurrent marking and compiling): --v8-pool-size, 0 = cores - 1. */
  v8PoolSize: number;
  /** 1 when V8 runs every GC on the loop thread alone (`--single-threaded-gc`, or `--single-threaded`). */
  singleThreadedGc: number;
}

/** NODE_OPTIONS as words (Node also reads double-quoted words; no value of these flags needs one). */
const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);
/** Node and V8 take `_` for `-` in a flag's name. */
const norm = (flag: string): string => flag.replace(/_/g, '-');

/**
 * The GC thread flags from NODE_OPTIONS and node's command line (process.execArgv): the command line after
 * NODE_OPTIONS, the last given winning, as Node applies them. A pool size is read as Node reads it (checked on
 * Node 20 by its threads): its leading digits, and below 1 (0, negative, not a number) the cores less one.
 */
export function gcThreadFlags(execArgv: readonly string[], nodeOptions = '', cores = os.availableParallelism()): GcThreadFlags {
  const args = [...words(nodeOptions), ...execArgv];
  let pool = NODE_DEFAULT_V8_POOL;
  let single = 0;
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = norm(args[i]).split('=', 2) as [string, string | undefined];
    if (name === '--v8-pool-size') {
      const n = Number.parseInt(inline ?? args[++i] ?? '', 10);
      pool = n >= 1 ? n : Math.max(1, cores - 1);
    } else if (name === '--single-threaded-gc' || name === '--single-threaded') single = 1;
    else if (name === '--no-single-threaded-gc' || name === '--nosingle-threaded-gc') single = 0;
  }
  return { v8PoolSize: pool, singleThreadedGc: single };
}
