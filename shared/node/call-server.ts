// What executors ask of their node: task ends, blocking, logs, actor
// checkpoints, and the calls of a running task (register a function, submit a
// child task, put, get, wait, cancel, kill or look up an actor), each answered
// on the executor's port when it has an answer.
import type { Fetched } from '../api/core.js';
import { allUntilFailure, waitFor, withTimeout } from '../api/gather.js';
import { forPosting, type Lender } from '../bytes.js';
import { GetTimeoutError, type TabmeshError } from '../errors.js';
import type { Call, FromExecutor } from '../executor/protocol.js';
import { resultsOf } from '../executor/columns.js';
import { contentHash } from '../hash.js';
import { returnObjectId, type TaskId } from '../ids.js';
import type { Executor, LocalTask } from './executors.js';
import type { CallServerContext } from './node-context.js';

export class CallServer {
  constructor(private readonly n: CallServerContext) {}

  onExecutor(ex: Executor, m: FromExecutor): void {
    const n = this.n;
    switch (m.k) {
      case 'done':
      case 'dones':
        for (const r of m.k === 'done' ? m.results : resultsOf(m.c)) {
          const t = n.tasks.get(r.taskId);
          if (!t || t.executor !== ex || (t.spec.attempt !== r.attempt && t.runAttempt !== r.attempt)) continue;
          n.local.recordRun(t.spec.fnId, r.ms);
          if (r.ok) n.tasks.end(t, { returns: r.returns, ms: r.ms });
          else n.tasks.end(t, { failure: r.failure, ms: r.ms });
        }
        n.local.pump();
        return;
      case 'block': {
        const t = n.tasks.get(m.taskId);
        // An actor holds its slot whatever its methods wait for.
        if (!t || t.executor !== ex || n.actors.isHost(t)) return;
        n.local.setBlocked(t, m.blocked);
        n.starts.reportNow(t); // `started` before `blocked`, as the task's history reads
        n.send({ t: 'blocked', taskId: t.spec.taskId, attempt: t.spec.attempt, blocked: m.blocked });
        return;
      }
      case 'log':
        n.send({ t: 'log', taskId: m.taskId, level: m.level, text: m.text });
        return;
      case 'checkpoint':
        if (n.actors.executorOf(m.actorId) === ex) n.send({ t: 'actorCheckpoint', id: m.actorId, after: m.after, state: m.state });
        return;
      case 'call': {
        const t = n.tasks.get(m.taskId);
        if (!t || t.executor !== ex) return;
        this.onCall(ex, t, m.id, m.call);
        return;
      }
    }
  }

  private reply(ex: Executor, id: number, p: Promise<unknown>): void {
    p.then(
      (value) => {
        const transfer: ArrayBuffer[] = [];
        const v = postable(value, transfer, ex.leases);
        ex.handle.post({ k: 'reply', id, ok: true, value: v, lent: ex.leases.take() }, transfer);
      },
      (e: Error) => ex.handle.post({ k: 'reply', id, ok: false, error: { code: (e as TabmeshError).code ?? 'ERROR', message: e.message } }),
    );
  }

  private onCall(ex: Executor, t: LocalTask, id: number, c: Call): void {
    const n = this.n;
    if (c.op !== 'fn') t.calledOut = true;
    switch (c.op) {
      case 'fn':
        n.fns.set(c.f.fnId, c.f);
        if (!n.fnsAnnounced.has(c.f.fnId)) {
          n.fnsAnnounced.add(c.f.fnId);
          n.send({ t: 'fn', f: c.f });
        }
        return;
      case 'submit': {
        const spec = c.spec;
        for (let i = 0; i < spec.numReturns; i++) t.holds.push(returnObjectId(spec.taskId, i));
        // Bottom-up: run it here when a slot is free and its arguments are here.
        const local =
          n.local.hasFreeSlot() &&
          spec.scheduling === undefined &&
          spec.actor === undefined && // actors are placed and their calls ordered by the coordinator
          Object.keys(spec.resources).every((r) => r === 'cpu' && spec.resources.cpu <= 1) &&
          spec.args.every((a) => a.v !== undefined || n.store.has(a.r));
        n.send({ t: 'submit', spec, local });
        if (local) n.tasks.admit(spec);
        return;
      }
      case 'put': {
        t.holds.push(c.id);
        const size = c.bytes.byteLength;
        if (size <= n.inlineMax) {
          n.inlineBytes.out += size;
          n.send({ t: 'put', id: c.id, v: c.bytes, size, refs: c.refs });
        } else {
          const hash = contentHash(c.bytes);
          n.store.put(c.id, c.bytes, { hash, primary: true });
          n.send({ t: 'put', id: c.id, size, hash, refs: c.refs });
        }
        return;
      }
      case 'get': {
        const all = allUntilFailure(c.ids.map((oid) => n.access.resolve(oid)));
        const tm = c.timeoutMs;
        this.reply(ex, id, tm === undefined ? all : withTimeout(all, tm, () => new GetTimeoutError(tm, c.ids.length)));
        return;
      }
      case 'wait': {
        const p = waitFor(
          c.ids,
          c.numReturns,
          c.timeoutMs,
          (oid) => (n.store.has(oid) ? Promise.resolve() : n.objects.whenReady(oid).then(() => {})),
          () => n.objects.sync(),
        ).then((s) => [...s]);
        this.reply(ex, id, p);
        return;
      }
      case 'cancel':
        n.send({ t: 'cancel', id: c.id, force: c.force });
        return;
      case 'killActor':
        n.send({ t: 'killActor', id: c.id as TaskId });
        return;
      case 'getActor':
        this.reply(ex, id, n.actors.lookup(c.name, c.ns, t));
        return;
      case 'ask':
        this.reply(ex, id, n.actors.ask(c, t));
        return;
    }
  }
}

/** A call's reply as posted to the executor: fetched bytes shared or copied alone (see forPosting), copies moved. */
function postable(value: unknown, transfer: ArrayBuffer[], lender: Lender): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((f: unknown) =>
    f && typeof f === 'object' && (f as Fetched).bytes instanceof Uint8Array
      ? { ...(f as Fetched), bytes: forPosting((f as Fetched).bytes!, transfer, lender) }
      : f,
  );
}
