// A real Coordinator (in-memory GCS) with one function registered, hand-made sessions and plain task specs:
// the fixtures of white-box tests that drive a coordinator's managers directly (let-go-handles, recovery-grace).
import { pack } from 'msgpackr';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { BusSocket } from '../../coordinator/mesh/bus.js';
import { Session } from '../../coordinator/session.js';
import { functionIdOf } from '../../shared/env/declare.js';
import { childTaskId, rootTaskId, type JobId } from '../../shared/ids.js';
import type { Msg, TaskSpec } from '../../shared/protocol/messages.js';

export const fn = { kind: 'function' as const, name: 'anonymous', source: 'async (i) => i * 5 + 2' };
export const fnId = functionIdOf(fn);

/** A coordinator with `fn` registered, pushed on `made` (the test closes them). */
export function coordinatorIn(made: Coordinator[]): Coordinator {
  const co = new Coordinator({ storage: new MemoryStorage() });
  made.push(co);
  co.gcs.addFunction({ ...fn, fnId });
  return co;
}

/** A session on no wire: what the coordinator sends it goes to `sent`. */
export function handSession(label: string, sent: Msg[] = []): Session {
  const s = new Session(
    new BusSocket(
      () => {},
      () => {},
    ).asWebSocket(),
    label,
  );
  s.send = (m: Msg) => void sent.push(m);
  return s;
}

/** The driver of `job`'s `i`-th task of `fn`, argument `i`. */
export function plainSpec(job: JobId, i: number): TaskSpec {
  return {
    taskId: childTaskId(rootTaskId(job), i),
    jobId: job,
    parentId: rootTaskId(job),
    fnId,
    name: 'anonymous',
    args: [{ v: pack(i) }],
    nested: [],
    numReturns: 1,
    resources: { cpu: 1 },
    maxRetries: 3,
    attempt: 0,
    timeoutMs: 0,
    scheduling: undefined,
    actor: undefined,
  };
}
