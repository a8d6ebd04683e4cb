// The machine's own pauses (issue 14, session 31): what no code on this VM can
// avoid. A loop that does nothing but read the clock should see no gap; each
// gap it does see is time its thread did not run, and Linux's schedstat says
// where the guest thinks it went: in the run queue (other threads of this VM
// had the cores: load), on a core, or nowhere. A gap charged as on-core time is
// the VM's vCPU taken off the host's core while the guest believed it ran (this
// Firecracker guest reports no steal time: /proc/stat's steal column stays 0);
// a gap charged nowhere (neither on a core nor waiting: a loop that never
// sleeps cannot be off a core) is the whole VM stopped, its scheduler's clock
// standing still. bench:scale's slow-turn reports call the first "work" and
// the second "off cpu"; this bench shows how often the machine makes them.
//
//   npm run bench:pauses                      # 60 s
//   PAUSES_SECONDS=300 npm run bench:pauses
//
// The loop holds one core for its whole run: run it alone, or beside what it
// is meant to explain and read both.
import { openSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { emit, figure, log, round, runBench } from './harness.js';

/** Gaps shorter than this are not looked at (ms). */
const GAP_MS = 20;
/** The gap the target is about (no event-loop stall over 50 ms). */
const STALL_MS = 50;
/** A gap is the VM's when at least this share of it was charged as on-core time. */
const ON_CORE_SHARE = 0.7;

interface Gap {
  ms: number;
  onCoreMs: number;
  runQueueMs: number;
}

/** vcpu: the vCPU taken (charged on-core); stopped: the VM stopped (charged nowhere); run queue: this VM's own load. */
type Kind = 'vcpu' | 'stopped' | 'run queue';
const KINDS: Record<Kind, string> = {
  vcpu: 'the vCPU taken by the host (charged as on-core)',
  stopped: 'the VM stopped (charged nowhere)',
  'run queue': "this VM's run queue (its own load)",
};

function kindOf(g: Gap): Kind {
  if (g.onCoreMs >= ON_CORE_SHARE * g.ms) return 'vcpu';
  return g.runQueueMs >= g.ms - g.onCoreMs - g.runQueueMs ? 'run queue' : 'stopped';
}

function probe(seconds: number): Gap[] {
  const tid = readlinkSync('/proc/thread-self').split('/').pop();
  // One descriptor, one buffer, two slots, read again in place (parsed here, not by scale-slow-turns.ts's
  // parseSchedstat, which answers a new object): the loop allocates nothing, so no GC (whose waits for
  // its helper threads would be time off a core) falls in it.
  const fd = openSync(`/proc/self/task/${tid}/schedstat`, 'r');
  const buf = new Uint8Array(128);
  const read = (into: Float64Array): void => {
    const n = readSync(fd, buf, 0, buf.length, 0);
    into[0] = 0;
    into[1] = 0;
    for (let i = 0, field = 0; i < n && field < 2; i++) {
      const c = buf[i];
      if (c >= 48 && c <= 57) into[field] = into[field] * 10 + (c - 48);
      else field++;
    }
  };
  const gaps: Gap[] = [];
  const end = performance.now() + seconds * 1000;
  let last = performance.now();
  const before = new Float64Array(2);
  const t = new Float64Array(2);
  read(before);
  let n = 0;
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    if (now - last > GAP_MS) {
      read(t);
      gaps.push({ ms: now - last, onCoreMs: (t[0] - before[0]) / 1e6, runQueueMs: (t[1] - before[1]) / 1e6 });
      before.set(t);
    } else if (++n % 64 === 0) read(before); // the gap's times are the gap's, give or take 64 clock reads
    last = now;
  }
  return gaps;
}

runBench(async () => {
  const seconds = Number(process.env.PAUSES_SECONDS ?? 60);
  if (!(seconds > 0 && seconds <= 3600)) throw new Error('PAUSES_SECONDS: 1-3600');
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  log(`[pauses] a do-nothing loop for ${seconds} s (load ${load})`);
  const gaps = probe(seconds);
  const minutes = seconds / 60;
  for (const kind of ['vcpu', 'stopped', 'run queue'] as const) {
    const of = gaps.filter((g) => kindOf(g) === kind);
    const over = of.filter((g) => g.ms > STALL_MS);
    const longest = of.reduce((a, g) => Math.max(a, g.ms), 0);
    const onCore = over.map((g) => round(g.onCoreMs, 0)).sort((a, b) => a - b);
    log(
      `[pauses] ${KINDS[kind]}: ${of.length} gaps over ${GAP_MS} ms, ${over.length} over ${STALL_MS} ms (${round(over.length / minutes, 1)} a minute), longest ${round(longest, 1)} ms` +
        (kind === 'vcpu' && onCore.length ? `; on-core time charged in those: ${onCore.slice(0, 12).join(', ')} ms` : ''),
    );
    const key = kind.replace(' ', '_');
    emit(figure(`pauses.${key}.over_${STALL_MS}ms_per_minute`, round(over.length / minutes, 2), 'gaps'));
    emit(figure(`pauses.${key}.longest`, round(longest, 1), 'ms'));
  }
  log(`[pauses] load after: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
});
