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
import { asyncHashFrom, contentHash, contentHashAsync } from '../hash.js';
import { returnObjectId, type TaskId } from '../ids.js';
import type { Executor, LocalTask } from './executors.js';
import type { CallServerContext } from './node-context.js';
import { ArgWrites } from './arg-writes.js';

export class CallServer {
  /**
   * Issue 17, session 12: a large put is hashed off this thread (asyncHashFrom:
   * any size in a tab, whose synchronous hasher is JavaScript; 8 MiB on Node),
   * and what its task says next (calls, its end) waits behind it, so the
   * coordinator hears of the put before any use of it. By actor for actors'
   * calls, whose ends are reported in order; by task otherwise.
   */
  private readonly gates = new Map<string, Promise<void>>();

  /** Tasks that wrote into arguments lent in place. */
  readonly argWrites: ArgWrites;

  constructor(private readonly n: CallServerContext) {
    this.argWrites = new ArgWrites(n);
  }

  /** Holds the task's later steps until `p` settles. */
  private hold(t: LocalTask, p: Promise<void>): void {
    const key = t.spec.actor?.id ?? t.spec.taskId;
    const next = p.catch(() => {});
    this.gates.set(key, next);
    void next.then(() => {
      if (this.gates.get(key) === next) this.gates.delete(key);
    });
  }

  /** Runs `step` once what the task's gate holds is done; false (nothing done) when it holds nothing. */
  private afterGate(t: LocalTask, step: () => Promise<void> | void): boolean {
    if (this.gates.size === 0) return false;
    const gate = this.gates.get(t.spec.actor?.id ?? t.spec.taskId);
    if (!gate) return false;
    this.hold(
      t,
      gate.then(() => step()),
    );
    return true;
  }

  /** A run's end as its executor told it; nothing if the task is not that run's any more. */
  private endRun(ex: Executor, t: LocalTask, r: ReturnType<typeof resultsOf>[number]): void {
    const n = this.n;
    if (n.tasks.get(r.taskId) !== t || t.executor !== ex || t.state === 'ended' || (t.spec.attempt !== r.attempt && t.runAttempt !== r.attempt)) return;
    n.local.recordRun(t.spec.fnId, r.ms);
    // Before its end lets the next task (or a peer's read) at the same object.
    this.argWrites.check(t, ex.leases);
    if (r.ok) n.tasks.end(t, { returns: r.returns, ms: r.ms });
    else n.tasks.end(t, { failure: r.failure, ms: r.ms });
  }

  /** A task's call, unless the task ended or left `ex` meanwhile. */
  private callOf(ex: Executor, t: LocalTask, m: Extract<FromExecutor, { k: 'call' }>): Promise<void> | undefined {
    if (this.n.closed || this.n.tasks.get(m.taskId) !== t || t.executor !== ex || t.state === 'ended') return undefined;
    return this.onCall(ex, t, m.id, m.call);
  }

  onExecutor(ex: Executor, m: FromExecutor): void {
    const n = this.n;
    switch (m.k) {
      case 'done':
      case 'dones':
        for (const r of m.k === 'done' ? m.results : resultsOf(m.c)) {
          const t = n.tasks.get(r.taskId);
          if (!t || t.executor !== ex || (t.spec.attempt !== r.attempt && t.runAttempt !== r.attempt)) continue;
          const later = this.afterGate(t, () => {
            if (n.closed) return;
            this.endRun(ex, t, r);
            n.local.pump();
          });
          if (!later) this.endRun(ex, t, r);
        }
        n.local.pump();
        return;
      case 'block': {
        const t = n.tasks.get(m.taskId);
        // An actor holds its slot whatever its methods wait for.
        if (!t || t.executor !== ex || n.actors.isHost(t)) return;
        n.local.setBlocked(t, m.blocked);
        // A member that never called out frees its slot here only (no started/blocked per member); one that did is an
        // ordinary task at the coordinator (groupCallOut), whose CPU its children need there (groups-nested.test.ts).
        if (t.member && !t.member.out) return;
        n.starts.reportNow(t); // `started` before `blocked`, as the task's history reads
        n.send({ t: 'blocked', taskId: t.spec.taskId, attempt: t.spec.attempt, blocked: m.blocked });
        return;
      }
      case 'log': {
        // A group's member is not on record at the coordinator: its group and index say whose log it is.
        const mem = n.tasks.get(m.taskId)?.member;
        if (mem) mem.logged = true;
        n.send({ t: 'log', taskId: m.taskId, level: m.level, text: m.text, ...(mem && { g: mem.slice.g, i: mem.i }) });
        return;
      }
      case 'checkpoint':
        if (n.actors.executorOf(m.actorId) === ex) n.send({ t: 'actorCheckpoint', id: m.actorId, after: m.after, state: m.state });
        return;
      case 'call': {
        const t = n.tasks.get(m.taskId);
        if (!t || t.executor !== ex) return;
        if (this.afterGate(t, () => this.callOf(ex, t, m))) return;
        const p = this.onCall(ex, t, m.id, m.call);
        if (p) this.hold(t, p);
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

  /** A put's bytes held here as a primary copy, and the coordinator told; not once its task ended (killed while hashing: its end released the put). */
  private stored(t: LocalTask, c: Extract<Call, { op: 'put' }>, hash: string): void {
    const n = this.n;
    if (n.closed || t.state === 'ended') return;
    n.store.put(c.id, c.bytes, { hash, primary: true });
    n.send({ t: 'put', id: c.id, size: c.bytes.byteLength, hash, refs: c.refs });
  }

  /** A task's call; a promise when what the task says next must wait for it (a put being hashed). */
  private onCall(ex: Executor, t: LocalTask, id: number, c: Call): Promise<void> | undefined {
    const n = this.n;
    if (c.op !== 'fn') {
      t.calledOut = true;
      if (t.member) n.groups.callOut(t); // before the call's own message: it names the member as a task on record
    }
    switch (c.op) {
      case 'fn':
        n.fns.set(c.f.fnId, c.f);
        // Once per job that names it, the job said: the function is that job's before its submits come (announced-functions.ts).
        if (n.fnsAnnounced.first(c.f.fnId, t.spec.jobId)) n.send({ t: 'fn', f: c.f, job: t.spec.jobId });
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
          spec.args.every((a) => a.v !== undefined || n.store.has(a.r)) &&
          n.fns.has(spec.fnId); // its source here (a `forget` may have taken it): else the coordinator places it, with it
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
        } else if (size >= asyncHashFrom()) {
          return contentHashAsync(c.bytes).then(
            (h) => this.stored(t, c, h.hash),
            () => this.stored(t, c, contentHash(c.bytes)),
          );
        } else this.stored(t, c, contentHash(c.bytes));
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
