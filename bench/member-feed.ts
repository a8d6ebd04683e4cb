// The coordinator's CPU for a task group member's end on the dashboard's side (issue 14, session 28), in one
// process: what GroupTable.ends costs a member. Baseline: the task history alone (the sink before session 28);
// against it, the history and the ended tasks (recent.ts memberEnded: the member staged as a task that left). For
// scale, a plain task that leaves (EndedTasks.addTask, what an ended task costs the dashboard). Rounds alternate
// the modes; each round ends 200,000 members of one job (as bench:tasks' 180,000 a run) and then reads the list once
// (a read files the newest 5,000). Prints one JSON line per mode and the ratio to the baseline. CPU is the
// process's (process.cpuUsage: GC helper threads included): on a loaded machine the rounds vary 3x; the medians
// and the lows of the rounds say more than one figure.
//   node dist/bench/member-feed.js   (MEMBER_FEED_N=200000, MEMBER_FEED_ROUNDS=9)
import { newJobId, type JobId } from '../shared/ids.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { Gcs } from '../coordinator/gcs/gcs.js';
import type { JobRecord, NodeRecord, TaskRecord } from '../coordinator/gcs/tables.js';
import { GroupRecord } from '../coordinator/groups/group-record.js';
import { EndedRecords, KEEP_MS } from '../coordinator/dashboard/recent.js';
import { TaskHistory } from '../coordinator/dashboard/task-history.js';
import { newTask } from '../coordinator/scheduler/task-states.js';
import { childTaskId, functionId, rootTaskId } from '../shared/ids.js';
import type { TaskSpec } from '../shared/protocol/messages.js';

const N = Number(process.env.MEMBER_FEED_N ?? 200_000);
const ROUNDS = Number(process.env.MEMBER_FEED_ROUNDS ?? 9);
const GROUP = 1024;

const spec = (job: JobId, i: number): TaskSpec =>
  ({
    taskId: childTaskId(rootTaskId(job), i),
    jobId: job,
    parentId: rootTaskId(job),
    fnId: functionId('function', 'x => x'),
    name: 'sq',
    args: [],
    nested: [],
    numReturns: 1,
    resources: { cpu: 1 },
    maxRetries: 0,
    attempt: 0,
    timeoutMs: 0,
  }) as unknown as TaskSpec;

const node = { id: 'aaaaaaaaaaaaaaaa' } as NodeRecord;
const one = [new Uint8Array([1])];

type Mode = 'history' | 'history+feed' | 'task';

/** CPU ms for N ends in `mode`, then one read of the list. */
function round(mode: Mode): number {
  const job = newJobId();
  const jobRec = { id: job } as JobRecord;
  const history = new TaskHistory({} as Gcs);
  const ended = new EndedRecords({} as Coordinator, KEEP_MS, history);
  // The groups (and plain task records) are made before the clock starts: only the ends are timed.
  const groups: GroupRecord[] = [];
  const tasks: TaskRecord[] = [];
  for (let first = 0; first < N; first += GROUP) {
    if (mode === 'task') for (let i = first; i < Math.min(N, first + GROUP); i++) tasks.push(newTask(spec(job, i), { state: 'finished', liveOutputs: 0 }));
    else {
      const grp = new GroupRecord(
        spec(job, first),
        first,
        Array.from({ length: Math.min(GROUP, N - first) }, () => one),
        jobRec,
      );
      grp.seq0 = first + 1;
      groups.push(grp);
    }
  }
  const at = Date.now();
  const t0 = process.cpuUsage();
  if (mode === 'task') for (let i = 0; i < tasks.length; i++) ended.tasks.addTask(tasks[i], i + 1, at);
  else {
    const sink = mode === 'history' ? history.memberEnded : ended.memberEnded;
    for (const grp of groups) for (let i = 0; i < grp.n; i++) sink(grp, i, 'finished', node, i & 1, 0.01, at);
  }
  if (ended.tasks.list(at).length > 5000) throw new Error('the list passed its bound');
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

const modes: Mode[] = ['history', 'history+feed', 'task'];
const ms = new Map<Mode, number[]>(modes.map((m) => [m, []]));
for (const m of modes) round(m); // warm-up
for (let r = 0; r < ROUNDS; r++) for (const m of r % 2 ? [...modes].reverse() : modes) ms.get(m)!.push(round(m));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const base = median(ms.get('history')!);
for (const m of modes) {
  const v = median(ms.get(m)!);
  const perEnd = (v * 1e6) / N;
  console.error(
    `[bench] ${m}: CPU ms a round ${ms
      .get(m)!
      .map((x) => x.toFixed(1))
      .join(', ')}; median ${perEnd.toFixed(0)} ns an end`,
  );
  console.log(
    JSON.stringify({
      bench: `member-feed.${m}`,
      value: Math.round(perEnd),
      unit: 'ns/end',
      baseline: Math.round((base * 1e6) / N),
      ratio: Math.round((v / base) * 100) / 100,
    }),
  );
}
