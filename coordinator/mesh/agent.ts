// This coordinator as a node of another (issue 15): the peer places tasks of
// its jobs on us as on any node; we run them on our own nodes under a guest
// job (never written to the shared GCS: its rows are the owner's) and report
// as a node does. Objects cross in both directions through the two relays:
// an argument stored on the peer's side is fetched from it on demand, an
// output stored on ours is served to it on demand.
import { Outbox, decodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg, type MsgOf, type TaskResult } from '../../shared/protocol/messages.js';
import { functionIdOf } from '../../shared/env/declare.js';
import { randomHex, returnObjectId, taskOfObject, type JobId, type ObjectId, type TaskId } from '../../shared/ids.js';
import { TERMINAL, type JobRecord, type TaskRecord } from '../gcs/tables.js';
import type { Coordinator } from '../coordinator.js';
import { Session } from '../session.js';
import { BusSocket } from './bus.js';

/** Our side of the link: what our coordinator tells it comes to the agent, not to a socket. */
class AgentSession extends Session {
  constructor(
    readonly agent: PeerAgent,
    peer: string,
  ) {
    super(
      new BusSocket(
        () => {},
        () => {},
      ).asWebSocket(),
      `coordinator ${peer}`,
    );
    this.role = 'driver';
    this.peerless = true; // no peer links to a coordinator: its objects go through the relays
  }

  override send(m: Msg): void {
    if (!this.closed) this.agent.local(m);
  }

  override get label(): string {
    return this.remoteAddress;
  }
}

export class PeerAgent {
  readonly session: AgentSession;
  private readonly outbox: Outbox;
  /** Our node id on the peer, once welcomed. */
  private nodeId: string | null = null;
  private heartbeatMs = 1000;
  private timer: ReturnType<typeof setInterval> | null = null;
  private helloAt = 0;
  private offered = -1;
  /** Guest jobs: the peer's jobs we run tasks of. */
  private readonly jobs = new Set<JobId>();
  /** The attempt the peer placed each task at (reports name it). */
  private readonly attempts = new Map<TaskId, number>();
  closed = false;

  constructor(
    private readonly c: Coordinator,
    readonly peer: string,
    send: (frame: Uint8Array) => void,
    private readonly joinToken: string | undefined,
  ) {
    this.session = new AgentSession(this, peer);
    this.outbox = new Outbox(send);
    this.timer = setInterval(() => this.tick(), 250);
    this.timer.unref();
    this.tick();
  }

  /** CPUs of our own nodes (links to other coordinators are not ours to lend). */
  private ownCpus(): number {
    let n = 0;
    for (const node of this.c.gcs.nodes.values()) if (node.link === undefined) n += node.resources.cpu ?? 0;
    return n;
  }

  private send(m: Msg): void {
    if (!this.closed) this.outbox.push(m);
  }

  private lastBeat = 0;

  private tick(): void {
    const now = Date.now();
    if (!this.nodeId) {
      // Hello until welcomed (the peer may not have been listening yet).
      if (now - this.helloAt < 2000) return;
      this.helloAt = now;
      this.offered = this.ownCpus();
      this.send({
        t: 'hello',
        role: 'node',
        version: PROTOCOL_VERSION,
        token: this.joinToken,
        node: { kind: 'edge', name: `coordinator ${this.c.meshId ?? '?'}`, resources: { cpu: this.offered }, storeBytes: 0 },
        peers: false,
      });
      return;
    }
    const cpus = this.ownCpus();
    if (cpus !== this.offered) {
      this.offered = cpus;
      this.send({ t: 'capacity', cpus, paused: false });
    }
    if (now - this.lastBeat >= this.heartbeatMs) {
      this.lastBeat = now;
      let running = 0;
      for (const id of this.jobs) for (const t of this.c.gcs.jobs.get(id)?.tasks ?? []) if (!TERMINAL.has(t.state)) running++;
      this.send({ t: 'heartbeat', running, queued: 0, storeBytes: 0 });
    }
  }

  /** A frame from the peer (what a coordinator sends a node). */
  onFrame(frame: Uint8Array): void {
    if (this.closed) return;
    let msgs: Msg[];
    try {
      msgs = decodeFrame(frame);
    } catch (e) {
      this.c.gcs.event('mesh-bad-frame', `coordinator ${this.peer} sent a bad frame: ${(e as Error).message}`);
      return;
    }
    for (const m of msgs) this.fromPeer(m);
    this.c.scheduler.runPending();
  }

  private fromPeer(m: Msg): void {
    const c = this.c;
    switch (m.t) {
      case 'welcome':
        this.nodeId = m.nodeId ?? null;
        this.heartbeatMs = m.heartbeatMs;
        c.gcs.event('mesh-link', `runs tasks of coordinator ${this.peer} (as its node ${this.nodeId})`);
        return;
      case 'assign':
        return this.assign(m);
      case 'cancelTask':
        if (c.gcs.tasks.has(m.taskId)) c.ends.cancel(returnObjectId(m.taskId, 0), m.force);
        return;
      case 'free':
        for (const id of m.ids) {
          if (this.session.held.has(id)) c.dir.unhold(this.session, id);
          // The peer is done with the task's outputs: it will not be placed here again.
          this.attempts.delete(taskOfObject(id));
          this.reported.delete(taskOfObject(id));
        }
        return;
      case 'serve':
        // The peer wants an output stored on one of our nodes: our relay fetches it, the chunks go back.
        return c.relay.fetch(this.session, { t: 'fetch', id: m.id, x: m.x });
      case 'ready':
        return this.argReady(m);
      case 'chunk':
        void c.relay.chunk(this.session, m);
        return;
      case 'xferFail':
        return c.relay.fail(this.session, m);
      case 'error':
        if (m.code === 'NODE_DEAD' || m.code === 'UNAUTHORIZED') this.nodeId = null; // hello again
        c.gcs.event('mesh-error', `coordinator ${this.peer} said ${m.code}: ${m.message}`);
        return;
      default:
        return; // signal, located, actorInfo, sync: nothing a link asks for
    }
  }

  /** What our coordinator tells the link session: subscriptions, relay traffic, output lines. */
  local(m: Msg): void {
    switch (m.t) {
      case 'ready':
        return this.outputReady(m.id);
      case 'serve':
        // An argument the peer holds: fetch it there on the same transfer number.
        return this.send({ t: 'fetch', id: m.id, x: m.x });
      case 'chunk':
      case 'xferFail':
        return this.send(m); // bytes our relay fetched for the peer
      case 'output':
        return this.send({ t: 'log', taskId: m.taskId, level: m.level, text: m.text });
      default:
        return;
    }
  }

  private guestJob(id: JobId): JobRecord | null {
    const c = this.c;
    const j = c.gcs.jobs.get(id);
    if (j && j.state === 'running') return j.guest === this.peer ? j : null; // ours (taken over), or a third's
    const job: JobRecord = {
      id,
      state: 'running',
      driver: this.session,
      startedAt: Date.now(),
      endedAt: 0,
      tasks: new Set(),
      objects: new Set(),
      counts: { submitted: 0, finished: 0, failed: 0, cancelled: 0 },
      secret: randomHex(24),
      parked: null,
      graceTimer: null,
      guest: this.peer,
    };
    c.gcs.jobs.set(id, job);
    this.jobs.add(id);
    return job;
  }

  private assign(m: MsgOf<'assign'>): void {
    const c = this.c;
    const spec = m.spec;
    if (m.fn && !c.gcs.functions.has(m.fn.fnId)) {
      if (functionIdOf(m.fn) !== m.fn.fnId) return this.refuse(spec.taskId, spec.attempt, `function id ${m.fn.fnId} does not match its source`);
      c.gcs.addFunction({ ...m.fn, ewmaMs: -1, runs: 0 });
    }
    if (!this.guestJob(spec.jobId)) return this.refuse(spec.taskId, spec.attempt, `job ${spec.jobId} is not run for coordinator ${this.peer} here`);
    this.attempts.set(spec.taskId, spec.attempt);
    const existing = c.gcs.tasks.get(spec.taskId);
    if (existing) {
      // Placed on us again (a retry): report what it came to, or let it finish.
      if (TERMINAL.has(existing.state)) this.report(existing);
      return;
    }
    for (const a of m.inline) {
      if (c.dir.get(a.id)) continue;
      const o = c.dir.create(a.id, spec.jobId, 0);
      c.dir.hold(this.session, a.id);
      c.dir.setReady(o, { v: a.v, size: a.v.byteLength, contains: [] });
    }
    // Arguments stored on the peer's side: pending here until it says where they are.
    const remote: ObjectId[] = [];
    for (const id of [...spec.args.flatMap((a) => (a.r === undefined ? [] : [a.r])), ...spec.nested]) {
      if (c.dir.get(id)) continue;
      c.dir.create(id, spec.jobId, 0);
      c.dir.hold(this.session, id);
      remote.push(id);
    }
    if (remote.length) this.send({ t: 'subscribe', ids: remote });
    const err = c.tasks.submit(spec, this.session, null);
    if (err) return this.refuse(spec.taskId, spec.attempt, err);
    c.dir.subscribe(
      this.session,
      Array.from({ length: spec.numReturns }, (_, i) => returnObjectId(spec.taskId, i)),
    );
  }

  /** An argument the peer holds is ready there: here it is ready too, held by this link. */
  private argReady(m: MsgOf<'ready'>): void {
    const o = this.c.dir.get(m.id);
    if (!o || o.state !== 'pending') return;
    if (m.failure) this.c.dir.setFailed(o, m.failure);
    else if (m.v) this.c.dir.setReady(o, { v: m.v, size: m.size, contains: [] });
    else this.c.dir.setReady(o, { size: m.size, hash: m.hash, location: this.session, contains: [] });
  }

  /** One output of a guest task settled: once all have, the peer hears the task's end. */
  private outputReady(id: ObjectId): void {
    const t = this.c.gcs.tasks.get(taskOfObject(id));
    if (t && this.jobs.has(t.spec.jobId) && TERMINAL.has(t.state)) this.report(t);
  }

  private readonly reported = new Map<TaskId, number>();

  private report(t: TaskRecord): void {
    const spec = t.spec;
    const attempt = this.attempts.get(spec.taskId) ?? spec.attempt;
    if (this.reported.get(spec.taskId) === attempt) return;
    const outs = Array.from({ length: spec.numReturns }, (_, i) => this.c.dir.get(returnObjectId(spec.taskId, i)));
    if (outs.some((o) => o?.state === 'pending')) return;
    this.reported.set(spec.taskId, attempt);
    const failure = outs.find((o) => o?.state === 'failed')?.failure;
    if (t.state !== 'finished' || failure || outs.some((o) => !o)) {
      const f = failure ?? {
        code: 'OBJECT_LOST' as const,
        name: 'ObjectLostError',
        message: `task ${spec.name} ${t.state}`,
        stack: '',
        functionName: spec.name,
        taskId: spec.taskId,
      };
      this.send({ t: 'failed', taskId: spec.taskId, attempt, failure: f });
      return;
    }
    const results: TaskResult[] = outs.map((o) => (o!.v ? { v: o!.v, refs: o!.contains } : { size: o!.size, hash: o!.hash, refs: o!.contains }));
    this.send({ t: 'done', taskId: spec.taskId, attempt, ms: Math.max(0, t.endedAt - t.startedAt), results });
  }

  private refuse(taskId: TaskId, attempt: number, why: string): void {
    this.send({
      t: 'failed',
      taskId,
      attempt,
      failure: { code: 'NODE_LOST', name: 'NodeLostError', message: `coordinator ${this.c.meshId} cannot run it: ${why}`, stack: '', functionName: '', taskId },
    });
  }

  /** Guest job `id` ends here (its owner is gone, or we took it over): its tasks stop, its records go. */
  dropJob(id: JobId): void {
    if (!this.jobs.delete(id)) return;
    const j = this.c.gcs.jobs.get(id);
    if (!j?.guest) return;
    this.c.endJob(id);
    this.c.gcs.jobs.delete(id);
  }

  /** The peer is gone (or we stop): guest jobs end; the link session closes. */
  close(): void {
    if (this.closed) return;
    for (const id of [...this.jobs]) this.dropJob(id);
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.c.relay.dropSession(this.session);
    for (const id of [...this.session.held.keys()]) this.c.dir.unhold(this.session, id);
    this.session.closed = true;
  }
}
