// The wire checks of one task's messages (a submit, its done, a share of a
// release and a subscribe): the checkers written out as code per message
// shape, as Node runs them (shared/protocol/check.ts compiledObj), against the
// loop over fields that pages run, in the same process, rounds alternated.
//
//   npm run build && node dist/bench/wire-checks.js
import { setCompiledChecks } from '../shared/protocol/check.js';
import * as compiled from '../shared/protocol/messages.js';
import type { Msg } from '../shared/protocol/messages.js';
import { childTaskId, functionId, newJobId, returnObjectId, rootTaskId } from '../shared/ids.js';
import { emit, log, pairedFigure, runBench } from './harness.js';

const TASKS = 20_000;
const ROUNDS = 9;

/** A batch's messages for `n` tasks, as a driver and a node send them (valid: the bench checks they pass). */
function taskMessages(n: number): Msg[] {
  const job = newJobId();
  const root = rootTaskId(job);
  const fnId = functionId('task', 'function noop() {}');
  const out: Msg[] = [];
  for (let i = 0; i < n; i++) {
    const taskId = childTaskId(root, i);
    const spec = {
      taskId,
      jobId: job,
      parentId: root,
      fnId,
      name: 'noop',
      args: [{ v: new Uint8Array([0xc0]) }],
      nested: [],
      numReturns: 1,
      resources: { cpu: 1 },
      maxRetries: 3,
      attempt: 0,
      timeoutMs: 0,
      scheduling: 'default',
    };
    out.push({ t: 'submit', spec } as unknown as Msg);
    out.push({ t: 'done', taskId, attempt: 0, ms: 0.1, results: [{ v: new Uint8Array([0xc0]), refs: [] }] } as unknown as Msg);
    if (i % 64 === 63) {
      const ids = Array.from({ length: 64 }, (_, k) => returnObjectId(childTaskId(root, i - k), 0));
      out.push({ t: 'release', ids } as unknown as Msg, { t: 'subscribe', ids } as unknown as Msg);
    }
  }
  return out;
}

/** µs of CPU a task for checking `msgs` with `check`. */
function perTask(check: typeof compiled.messageCheck, msgs: Msg[]): number {
  const t0 = process.cpuUsage();
  for (const m of msgs) if (check(m, '') !== null) throw new Error(`a bench message fails its check: ${check(m, '')}`);
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / TASKS;
}

runBench(async () => {
  setCompiledChecks(false);
  // A second instance of the messages module: its checkers made as loops (check.ts is shared, its switch read at make).
  const loop = (await import(new URL('../shared/protocol/messages.js?loop', import.meta.url).href)) as typeof compiled;
  setCompiledChecks(true);
  const msgs = taskMessages(TASKS);
  for (let i = 0; i < 3; i++) {
    perTask(compiled.messageCheck, msgs);
    perTask(loop.messageCheck, msgs);
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    a.push(perTask(compiled.messageCheck, msgs));
    b.push(perTask(loop.messageCheck, msgs));
  }
  log(`checks of a task's messages, µs CPU: written out ${a.map((x) => x.toFixed(2)).join(' ')}; loop ${b.map((x) => x.toFixed(2)).join(' ')}`);
  emit(pairedFigure('wire_checks.per_task', a, b, 'µs'));
});
