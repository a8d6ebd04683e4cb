// What the durable GCS costs per task, without the rest of the mesh (issue 14):
// the GCS's own writes for bench:tasks' pattern (a batch of tasks submitted,
// their outputs ready, then all freed) through the Gcs, on the SQLite storage
// against the in-memory one in the same process, rounds alternated. Prints the
// coordinator loop's busy time per task (what the GCS calls cost the event
// loop: its thread's CPU) and the process CPU per task (the writer thread's too).
//
//   npm run build && node dist/bench/gcs-writes.js
import { loadavg, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Gcs } from '../coordinator/gcs/gcs.js';
import { MemoryStorage } from '../coordinator/gcs/memory-storage.js';
import { SqliteStorage } from '../coordinator/gcs/sqlite-storage.js';
import type { GcsStorage } from '../coordinator/gcs/storage.js';
import type { JobRecord, ObjectRecord, TaskRecord } from '../coordinator/gcs/tables.js';
import { newTask } from '../coordinator/scheduler/task-states.js';
import { JobMembers } from '../coordinator/jobs/job-members.js';
import { childTaskId, functionId, newJobId, returnObjectId, rootTaskId, type ObjectId } from '../shared/ids.js';
import { noopSpec } from './bench-nodes.js';
import { emit, log, median, nowMs, pairedFigure, round, runBench } from './harness.js';

const TASKS = 20_000;
const ROUNDS = Number(process.env.GCS_WRITES_ROUNDS ?? 6);
/** Calls between yields to the event loop (the storage's flush timer runs there, as in the coordinator). */
const SLICE = 500;

/** This thread's CPU ms (Linux: /proc, clock ticks of 10 ms); the writer thread's is the process's minus this. */
function mainThreadCpuMs(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const turn = () => new Promise<void>((r) => setImmediate(r));

/** One round: TASKS tasks submitted, their outputs ready, then all freed; returns the loop's busy ms and the process CPU ms. */
async function round1(gcs: Gcs, r: number): Promise<{ busy: number; main: number; cpu: number }> {
  const jobId = newJobId();
  const job = {
    id: jobId,
    state: 'running',
    tasks: new JobMembers(),
    objects: new JobMembers(),
    counts: { submitted: 0, finished: 0, failed: 0, cancelled: 0 },
    secret: 's',
    startedAt: Date.now(),
    endedAt: 0,
    driver: null,
    parked: null,
    graceTimer: null,
  } as unknown as JobRecord;
  gcs.jobs.set(jobId, job);
  gcs.persistJob(job);
  const fnId = functionId('function', `function noop${r}() {}`);
  const root = rootTaskId(jobId);
  const tasks: TaskRecord[] = [];
  const objects: ObjectRecord[] = [];
  let busy = 0;
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const slice = async (n: number, fn: (i: number) => void) => {
    for (let i = 0; i < n; i += SLICE) {
      const t = nowMs();
      for (let j = i; j < Math.min(n, i + SLICE); j++) fn(j);
      busy += nowMs() - t;
      await turn();
    }
  };
  await slice(TASKS, (i) => {
    const spec = noopSpec(childTaskId(root, i), jobId, root, fnId);
    const t = newTask(spec, { state: 'waiting-args', liveOutputs: 1, holdsArgs: true });
    gcs.taskTable.add(spec.taskId, t);
    gcs.persistTask(t);
    tasks.push(t);
  });
  await slice(TASKS, (i) => {
    const id: ObjectId = returnObjectId(tasks[i].spec.taskId, 0);
    const o = {
      id,
      job: jobId,
      state: 'ready',
      size: 1,
      hash: '',
      v: new Uint8Array([0xc0]),
      failure: null,
      locations: null,
      refs: 1,
      contains: [],
      dependents: null,
      creator: null,
      subscribers: null,
    } as unknown as ObjectRecord;
    gcs.objects.set(id, o);
    gcs.persistObject(o);
    objects.push(o);
  });
  await slice(TASKS, (i) => {
    gcs.dropObject(objects[i], job);
    gcs.dropTask(tasks[i].spec.taskId, job);
  });
  gcs.jobs.delete(jobId);
  gcs.storage.delete('jobs', jobId, jobId);
  gcs.storage.flush(); // the writer's share lands in this round
  const c = process.cpuUsage(cpu0);
  return { busy, main: mainThreadCpuMs() - main0, cpu: (c.user + c.system) / 1000 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tabmesh-gcs-writes-'));
  const stores: Record<'memory' | 'durable', GcsStorage> = { memory: new MemoryStorage(), durable: await SqliteStorage.open(join(dir, 'gcs.sqlite')) };
  const gcs = { memory: new Gcs(stores.memory), durable: new Gcs(stores.durable) };
  const out = { memory: { main: [] as number[], cpu: [] as number[] }, durable: { main: [] as number[], cpu: [] as number[] } };
  try {
    for (let r = -2; r < ROUNDS; r++) {
      for (const k of r % 2 === 0 ? (['memory', 'durable'] as const) : (['durable', 'memory'] as const)) {
        const x = await round1(gcs[k], r + 10);
        log(
          `round ${r + 1}${r < 0 ? ' (warm-up)' : ''} ${k}: loop busy ${round(x.busy, 1)} ms (wall), loop thread CPU ${round(x.main, 1)} ms, process CPU ${round(x.cpu, 1)} ms (load ${loadavg()[0].toFixed(1)})`,
        );
        if (r >= 0) {
          out[k].main.push(x.main);
          out[k].cpu.push(x.cpu);
        }
      }
    }
    const us = (ms: number[]) => ms.map((x) => (x / TASKS) * 1000);
    emit(pairedFigure('gcs_writes.loop_cpu_us_per_task', us(out.durable.main), us(out.memory.main), 'µs'));
    emit(pairedFigure('gcs_writes.cpu_us_per_task', us(out.durable.cpu), us(out.memory.cpu), 'µs'));
    log(
      `durable minus memory, medians: loop thread CPU ${round(median(us(out.durable.main)) - median(us(out.memory.main)), 2)} µs/task, CPU ${round(median(us(out.durable.cpu)) - median(us(out.memory.cpu)), 2)} µs/task; storage ${JSON.stringify(stores.durable.stats)}`,
    );
  } finally {
    stores.durable.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
