// CPU time of processes (Linux /proc), to say what a figure costs each process
// of a mesh: a run on a shared machine is starvation as often as cost.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const TICKS_PER_S = 100;

/** User + system CPU ms of a process so far (all its threads), or NaN when /proc cannot tell; `sysOnly`: system CPU alone. */
export function cpuMsOf(pid: number | undefined, file = `/proc/${pid}/stat`, sysOnly = false): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(file, 'latin1');
    // Fields after the command name (which may hold spaces) in parentheses: utime and stime are the 14th and 15th.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (((sysOnly ? 0 : Number(rest[11])) + Number(rest[12])) * 1000) / TICKS_PER_S;
  } catch {
    return NaN;
  }
}

/**
 * Starts counting: the returned function gives the CPU ms each named process
 * spent since, and `driver`, this process's (process.cpuUsage, its worker threads included).
 */
export function cpuSince(pids: Record<string, number | undefined>): () => Record<string, number> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMsOf(p)]));
  const self0 = process.cpuUsage();
  return () => {
    const self = process.cpuUsage(self0);
    const out: Record<string, number> = { driver: (self.user + self.system) / 1000 };
    for (const [k, p] of Object.entries(pids)) out[k] = cpuMsOf(p) - before[k];
    return out;
  };
}

/** CPU ms each named process spends while `run` runs; `driver` is this process (process.cpuUsage). */
export async function cpuDuring(pids: Record<string, number | undefined>, run: () => Promise<void>): Promise<Record<string, number>> {
  const spent = cpuSince(pids);
  await run();
  return spent();
}

/**
 * User + system CPU ms of a process's main thread and of its other threads (worker threads, libuv, V8's helpers),
 * or NaN; `mainSys`: the main thread's system CPU alone (a socket's copies, the kernel's page faults).
 */
export function threadCpuMs(pid: number): { main: number; others: number; mainSys: number } {
  const { main, others } = splitThreads(pid, (tid) => cpuMsOf(Number(tid), `/proc/${pid}/task/${tid}/stat`));
  return { main, others, mainSys: Number.isNaN(main) ? NaN : cpuMsOf(pid, `/proc/${pid}/task/${pid}/stat`, true) };
}

/**
 * `read` of each thread of `pid`: the main thread's, and the others' summed (a thread that ended meanwhile, whose
 * read throws or gives NaN, is not counted); NaN for both when /proc cannot list the threads.
 */
function splitThreads(pid: number, read: (tid: string) => number): { main: number; others: number } {
  let main = NaN;
  let others = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let v = NaN;
      try {
        v = read(tid);
      } catch {
        // a thread that ended meanwhile
      }
      if (Number(tid) === pid) main = v;
      else if (!Number.isNaN(v)) others += v;
    }
  } catch {
    return { main: NaN, others: NaN };
  }
  return { main, others };
}

/**
 * Voluntary context switches so far of every thread of `pid`, or NaN: each is a thread that went to sleep (in
 * epoll, a futex) and was woken again. Per task on a sequential path they count its thread hops and wake-ups,
 * which a machine's load does not change as it changes latencies.
 */
export function sleepsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  let n = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const m = /\nvoluntary_ctxt_switches:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1'));
        if (m) n += Number(m[1]);
      } catch {
        // a thread that ended meanwhile
      }
    }
  } catch {
    return NaN;
  }
  return n;
}

/**
 * Time on CPU so far of `pid`'s main thread and of all its other threads together (ms, from each thread's
 * schedstat in ns: exact where stat's utime and stime count 10 ms ticks), or NaN when /proc cannot tell. Over a
 * sequential task the other threads are a node's executor and every process's V8 helpers (concurrent marking,
 * compilation), whose share after a batch is the batch's aftermath, not the path's (issue 14, session 24).
 */
export function runMsSplit(pid: number | undefined): { main: number; others: number } {
  if (pid === undefined) return { main: NaN, others: NaN };
  return splitThreads(pid, (tid) => Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]) / 1e6);
}

/** CPU ms so far of each thread of `pid`, by tid ('main' for the main thread): Node names its threads alike. */
export function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ms = cpuMsOf(Number(tid), `/proc/${pid}/task/${tid}/stat`);
      if (!Number.isNaN(ms)) out.set(Number(tid) === pid ? 'main' : tid, ms);
    }
  } catch {
    // gone meanwhile
  }
  return out;
}

/** Every process's parent (/proc), and those whose command line holds `marker`. */
function processParents(marker?: string): { parent: Map<number, number>; marked: Set<number> } {
  const parent = new Map<number, number>();
  const marked = new Set<number>();
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (marker && readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(marker)) marked.add(pid);
    } catch {
      // gone meanwhile
    }
  }
  return { parent, marked };
}

/** Whether `p` is `root` or one of its descendants. */
function under(parent: ReadonlyMap<number, number>, root: number, p: number | undefined): boolean {
  for (; p !== undefined && p > 1; p = parent.get(p)) if (p === root) return true;
  return false;
}

/**
 * Chromium processes of this bench (a descendant of a browser started with one
 * of our profiles, and of this process); `profile`: of the browser started
 * with that profile folder only (one bare tab's processes).
 */
export function chromiumPids(profile = 'tabmesh-bench-chromium-'): number[] {
  const { parent, marked: ours } = processParents(profile);
  const isOurs = (p: number | undefined): boolean => p !== undefined && p > 1 && (ours.has(p) || isOurs(parent.get(p)));
  // Only this process's own: other runs on the machine (other engineers' benches) use the same profile prefix.
  return [...parent.keys()].filter((p) => isOurs(p) && under(parent, process.pid, p));
}

/** `root` and its descendants (/proc), by pid. */
export function treePids(root: number): number[] {
  const { parent } = processParents();
  return [...parent.keys()].filter((p) => under(parent, root, p));
}

/** CPU ms so far of each process in the tree under `root` (itself included), by pid: Ray's driver, its GCS, raylet and workers. */
export function treeCpuMs(root: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of treePids(root)) {
    const ms = cpuMsOf(p);
    if (!Number.isNaN(ms)) out.set(p, ms);
  }
  return out;
}

/** CPU ms the tree under `root` spent between two `treeCpuMs` readings (a process that started meanwhile from 0; one that ended is lost). */
export function treeCpuSpent(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let ms = 0;
  for (const [p, v] of after) ms += v - (before.get(p) ?? 0);
  return ms;
}

/** CPU ms of `pids` so far (processes gone meanwhile count 0). */
export const chromiumCpuMs = (pids: number[]): number => pids.reduce((a, p) => a + (cpuMsOf(p) || 0), 0);

/**
 * CPU ms so far of every thread of `pids`, keyed "process type/thread name"
 * ("renderer/WebRTC_Network"; numbered threads of one kind summed as "…N"): where
 * a transfer's CPU goes in Chromium.
 */
export function threadsCpu(pids: number[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of pids) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      let kind = /--type=([a-z-]+)/.exec(cmdline)?.[1] ?? 'browser';
      if (kind === 'utility') kind = /--utility-sub-type=([\w.]+)/.exec(cmdline)?.[1] ?? kind;
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim().replace(/\d+$/, 'N');
        const ms = cpuMsOf(Number(tid), `/proc/${pid}/task/${tid}/stat`);
        const k = `${kind}/${name}`;
        if (!Number.isNaN(ms)) out.set(k, (out.get(k) ?? 0) + ms);
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * CPU ms so far of the threads of `pids`, summed by the kind of process (Chromium's `--type=`, `browser` without
 * one) and the thread's name (/proc/<pid>/task/<tid>/comm, digits dropped: `DedicatedWorker thread`,
 * `WebRTC_Network`): where a broadcast's Chromium CPU goes (issue 17, session 16).
 */
export function threadCpuByName(pids: number[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of pids) {
    let kind = 'browser';
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      kind = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
      if (kind === 'utility') kind = /--utility-sub-type=([\w.]+)/.exec(cmd)?.[1]?.split('.')[0] ?? kind;
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const ms = cpuMsOf(Number(tid), `/proc/${pid}/task/${tid}/stat`);
        if (Number.isNaN(ms)) continue;
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim().replace(/\d+/g, '');
        const k = `${kind}/${name}`;
        out.set(k, (out.get(k) ?? 0) + ms);
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The `top` largest differences `after - before` (by key), largest first. */
export function topSpent(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, top: number): [string, number][] {
  return [...after]
    .map(([k, v]): [string, number] => [k, v - (before.get(k) ?? 0)])
    .sort((a, b) => b[1] - a[1])
    .slice(0, top);
}
