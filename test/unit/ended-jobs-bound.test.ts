// Ended jobs are kept up to a bound (MAX_ENDED_JOBS, history), the oldest
// rows going first; a job that hosts a live detached actor keeps its row past
// the bound: a restart reads the actor back under it (coordinator/gcs/recovery-detached.ts).
// White-box: a real Coordinator on a durable in-memory GCS, hand-made driver sessions, no node.
import { afterEach, describe, expect, it } from 'vitest';
import { pack } from 'msgpackr';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import type { GcsStorage } from '../../coordinator/gcs/storage.js';
import { MAX_ENDED_JOBS } from '../../coordinator/gcs/tables.js';
import { BusSocket } from '../../coordinator/mesh/bus.js';
import { Session } from '../../coordinator/session.js';
import { functionIdOf } from '../../shared/env/declare.js';
import { childTaskId, rootTaskId, type JobId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';

const made: Coordinator[] = [];
afterEach(() => {
  for (const co of made.splice(0)) co.close();
});

const cls = { kind: 'class' as const, name: 'Tally', source: 'class Tally { n = 0; add(k) { return (this.n += k); } }' };
const fnId = functionIdOf(cls);

function driver(): Session {
  const s = new Session(
    new BusSocket(
      () => {},
      () => {},
    ).asWebSocket(),
    'driver',
  );
  s.send = () => {};
  return s;
}

function creation(job: JobId, detached: boolean): TaskSpec {
  const taskId = childTaskId(rootTaskId(job), 0);
  return {
    taskId,
    jobId: job,
    parentId: rootTaskId(job),
    fnId,
    name: 'Tally',
    args: [{ v: pack(0) }],
    nested: [],
    numReturns: 1,
    resources: { cpu: 1 },
    maxRetries: 0,
    attempt: 0,
    timeoutMs: 0,
    scheduling: undefined,
    actor: { kind: 'create', id: taskId, name: detached ? 'kept' : 'gone', detached: detached || undefined },
  };
}

describe('the bound on ended jobs', () => {
  it("the oldest ended job's row goes past the bound, but not one whose detached actor lives on", () => {
    // Durable as SQLite is, in memory: ended jobs' rows are written and deleted.
    const storage = Object.assign(new MemoryStorage(), { durable: true }) as unknown as GcsStorage;
    const co = new Coordinator({ storage });
    made.push(co);
    co.gcs.addFunction({ ...cls, fnId });
    const run = (detached: boolean | null): JobId => {
      const s = driver();
      co.sessions.add(s);
      const job = co.jobs.start(s, undefined, undefined, undefined);
      if ('code' in job) throw new Error(job.message);
      if (detached !== null) expect(co.tasks.submit(creation(job.id, detached), s, null)).toBeNull();
      co.jobs.end(job.id);
      return job.id;
    };
    const hosting = run(true);
    const plain = run(false);
    for (let i = 0; i < MAX_ENDED_JOBS; i++) run(null);
    const rows = new Set([...storage.load('jobs')].map(([key]) => key));
    expect(rows.has(plain)).toBe(false);
    expect(rows.has(hosting)).toBe(true);
    expect(co.gcs.jobs.has(hosting)).toBe(true);
    expect(co.actors.lookup('kept', '')?.state).not.toBe('dead');
  });
});
