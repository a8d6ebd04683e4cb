// How bench:scale's processes share the machine's cores (bench/scale-cluster.ts starts them): the simulated nodes'
// niceness, and the coordinators' session and niceness.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * The node processes' niceness (SCALE_NODES_NICE; 0, the default: as the coordinator). On 2 cores the simulated
 * nodes compete with the coordinator, and its loop delay then counts their turns on the CPU; at nice 10 the kernel
 * runs the coordinator first when both want a core (weight 1024 against 110). For a quiet machine only, with
 * baseline and large N alike: where other processes load the machine (load 18, session 12), niced nodes got so
 * little CPU that 658 of 10,000 missed their heartbeats and were declared dead in a 20,000-task job.
 */
export const NODES_NICE = Number(process.env.SCALE_NODES_NICE ?? 0);
/**
 * SCALE_COORDINATOR_SESSION=1: the coordinators start in a session of their own (setsid). Linux (with autogroups,
 * the default of most distributions) shares the cores between sessions first, then between a session's threads: in
 * the bench's session a coordinator gets a share among the simulated nodes' and the driver's threads; in its own it
 * gets its session's share whole, as a coordinator on a host of its own would (against other sessions' work too).
 */
export const COORDINATOR_SESSION = process.env.SCALE_COORDINATOR_SESSION === '1';
/**
 * The coordinator processes' niceness (SCALE_COORDINATOR_NICE; 0, the default), set on every thread of theirs (Linux
 * niceness is a thread's: its loop, V8's platform threads, libuv's pool; threads made later inherit their maker's),
 * and on their session's group when they have one of their own (SCALE_COORDINATOR_SESSION=1): a thread's niceness
 * counts only against its own session's threads. Below 0 needs CAP_SYS_NICE. Its tasks/s is not the nice-0 run's:
 * read those from a run without it.
 */
export const COORDINATOR_NICE = Number(process.env.SCALE_COORDINATOR_NICE ?? 0);

/**
 * Sets every thread of process `pid` to niceness `nice` (Linux: /proc/<pid>/task), and its session's scheduling
 * group too when it has a session of its own (`session`): with autogroups on (/proc/sys/kernel/sched_autogroup_enabled)
 * the kernel shares the cores between sessions first and a thread's niceness counts only inside its own session.
 */
export function reniceAll(pid: number, nice: number, session: boolean): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), nice);
  if (session && existsSync(`/proc/${pid}/autogroup`)) writeFileSync(`/proc/${pid}/autogroup`, String(nice));
}
