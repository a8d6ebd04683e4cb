// Sessions' frames: decoded, checked against the session's role and limits,
// and handed to the message handlers in order. A frame's messages are handled
// for at most MESSAGE_SLICE_MS per turn (issue 14: a driver's frame of
// thousands of submits must not stall heartbeats and HTTP); the rest waits
// for later turns, before anything newer from that session. The first
// message of a session is its hello: a driver starts or resumes a job, a node joins.
import type { JobId } from '../shared/ids.js';
import type { ErrorCode } from '../shared/errors.js';
import { ProtocolError } from '../shared/errors.js';
import { decodeFrame } from '../shared/protocol/frame.js';
import { DRIVER_SENDS, NODE_SENDS, PROTOCOL_VERSION, type Msg, type MsgOf } from '../shared/protocol/messages.js';
import { handlers, type Handler } from './handlers.js';
import type { Managers } from './managers.js';
import { MESSAGE_SLICE_MS, splitHeavy } from './message-slices.js';
import type { Session } from './session.js';

export class Inbox {
  constructor(
    private readonly c: Managers,
    private readonly stopped: () => boolean,
    /** Processes a close that waited for the session's frames (the coordinator's onClose). */
    private readonly closed: (s: Session, code: number) => void,
  ) {}

  /**
   * A session is closing: what it sent before counts. With frames still
   * waiting, they go on being handled a slice per turn (issue 14: a driver's
   * last frames can free 100,000 objects) and the close is processed after
   * them (returns true: not now).
   */
  closing(s: Session, code: number): boolean {
    const q = this.backlog.get(s);
    if (!q) return false;
    q.closeCode = code;
    return true;
  }

  /** A frame arrived on a session. Bad frames close that session only. */
  frame(s: Session, data: Uint8Array): void {
    if (s.closed || this.stopped()) return;
    if (data.byteLength === 0) return this.keepalive(s);
    s.bytesIn += data.byteLength;
    let msgs: Msg[];
    try {
      msgs = decodeFrame(data, this.c.maxFrameBytes);
    } catch (e) {
      const err = e as ProtocolError;
      s.fail(err.code ?? 'BAD_FRAME', err.message);
      return;
    }
    const over = this.c.limits.frame(s, msgs.length);
    if (over) return s.fail(over.code, over.message);
    msgs = splitHeavy(msgs);
    if (s.nodeId) {
      // Any frame is a sign of life (nodes skip unchanged heartbeats, issue 14).
      const n = this.c.gcs.nodes.get(s.nodeId);
      if (n) this.c.membership.seen(n);
    }
    const first = msgs[0];
    if (this.c.jobs.mesh && s.role === 'pending' && first?.t === 'hello' && first.resume && !this.backlog.has(s)) {
      const job = this.c.gcs.jobs.get(first.resume.jobId);
      if (!job || job.guest) {
        // A driver of a job this coordinator does not own (its coordinator died): take it over first.
        this.backlog.set(s, { frames: [msgs], at: 0 });
        void this.c.jobs.mesh
          .takeOver(first.resume.jobId)
          .catch((e: Error) => this.c.gcs.event('job-takeover-failed', `job ${first.resume!.jobId}: ${e.message}`))
          .finally(() => this.drainBacklog(s, true));
        return;
      }
    }
    const waiting = this.backlog.get(s);
    if (waiting) {
      // Messages of a session are handled in order: behind what is still waiting.
      waiting.frames.push(msgs);
      return;
    }
    const stop = this.handleMessages(s, msgs, 0, performance.now() + MESSAGE_SLICE_MS);
    if (stop < msgs.length) {
      this.backlog.set(s, { frames: [msgs], at: stop });
      setImmediate(() => this.drainBacklog(s));
    }
    this.c.scheduler.runPending();
  }

  /** An empty frame: a node's keepalive (shared/node/heartbeat.ts), nothing to decode; it counts as a message for the rate limit. */
  private keepalive(s: Session): void {
    const over = this.c.limits.frame(s, 1);
    if (over) return s.fail(over.code, over.message);
    const n = s.nodeId ? this.c.gcs.nodes.get(s.nodeId) : undefined;
    if (n) this.c.membership.seen(n);
  }

  /**
   * Frames whose handling was cut at MESSAGE_SLICE_MS (issue 14: a driver's
   * frame of thousands of submits must not stall heartbeats and HTTP): the
   * rest is handled in later turns, in order, before anything newer from
   * that session. `at` is where the first frame stopped.
   */
  private readonly backlog = new Map<Session, { frames: Msg[][]; at: number; closeCode?: number }>();

  /** Handles msgs[from..] until `deadline`; returns where it stopped (msgs.length: all done, or the session closed). */
  private handleMessages(s: Session, msgs: Msg[], from: number, deadline: number): number {
    for (let i = from; i < msgs.length; i++) {
      if (i > from && (i & 7) === 0 && performance.now() > deadline) return i;
      const m = msgs[i];
      if (s.closed) return msgs.length;
      if (s.role === 'pending') {
        if (m.t !== 'hello') return (void s.fail('BAD_MESSAGE', 'the first message must be hello'), msgs.length);
        const err = this.hello(s, m);
        if (err) return (void s.fail(err.code, err.message), msgs.length);
        continue;
      }
      const allowed = s.role === 'driver' ? DRIVER_SENDS : NODE_SENDS;
      if (!allowed.has(m.t)) return (void s.fail('BAD_MESSAGE', `a ${s.role} may not send '${m.t}'`), msgs.length);
      const breach = this.c.limits.message(s, m);
      if (breach) return (void s.fail(breach.code, breach.message), msgs.length);
      const h = handlers[m.t] as Handler<typeof m.t> | null;
      const err = h?.(this.c, s, m);
      if (err) s.send({ t: 'error', code: 'REFUSED', message: err, ref: 'taskId' in m ? String(m.taskId) : undefined });
    }
    return msgs.length;
  }

  /** Handles a session's waiting frames, a slice per turn; `all` handles them at once (a taken-over driver's first frames). */
  private drainBacklog(s: Session, all = false): void {
    const q = this.backlog.get(s);
    if (!q || this.stopped()) return;
    const deadline = all ? Infinity : performance.now() + MESSAGE_SLICE_MS;
    while (q.frames.length > 0) {
      const msgs = q.frames[0];
      q.at = this.handleMessages(s, msgs, q.at, deadline);
      if (q.at < msgs.length) {
        setImmediate(() => this.drainBacklog(s));
        this.c.scheduler.runPending();
        return;
      }
      q.frames.shift();
      q.at = 0;
    }
    this.backlog.delete(s);
    if (q.closeCode !== undefined) this.closed(s, q.closeCode);
    this.c.scheduler.runPending();
  }

  private hello(s: Session, m: MsgOf<'hello'>): { code: ErrorCode; message: string } | null {
    if (m.version !== PROTOCOL_VERSION) return { code: 'BAD_MESSAGE', message: `protocol version ${m.version} is not ${PROTOCOL_VERSION}` };
    s.peerless = m.peers === false;
    if (m.role === 'driver') {
      const credential = m.token !== undefined ? this.c.jobs.credentials.get(m.token) : undefined;
      if (m.resume) return this.resumeJob(s, m.resume);
      if (!credential && !this.c.tokens.driverOk(m.token))
        return { code: 'UNAUTHORIZED', message: m.token ? 'the driver token is wrong' : 'this coordinator needs a driver token' };
      const job = this.c.jobs.start(s, m.namespace, credential, m.token);
      if ('code' in job) return job;
      return this.welcomeDriver(s, job);
    }
    if (!m.node) return { code: 'BAD_MESSAGE', message: 'a node hello needs node info' };
    if (!this.c.tokens.joinOk(m.token)) return { code: 'UNAUTHORIZED', message: 'this mesh is private: a node needs its join token' };
    const full = this.c.limits.nodeMayJoin();
    if (full) return full;
    s.role = 'node';
    const n = this.c.membership.join(s, m.node);
    s.send({
      t: 'welcome',
      jobId: undefined,
      nodeId: n.id,
      secret: this.c.membership.secrets.get(n.id),
      inlineMax: this.c.inlineMax,
      heartbeatMs: this.c.membership.heartbeatMs,
      ice: this.c.ice?.for(n.id),
      quietMs: this.c.membership.quietMs,
      idleQuietMs: this.c.membership.idleQuietMs,
    });
    if (m.node.host) this.c.handover.joined(n, m.node.host.actors);
    return null;
  }

  /** A driver comes back to its job (its connection dropped, or this coordinator restarted). */
  private resumeJob(s: Session, r: NonNullable<MsgOf<'hello'>['resume']>): { code: ErrorCode; message: string } | null {
    const job = this.c.jobs.resume(s, r);
    if ('code' in job) return job;
    return this.welcomeDriver(s, job);
  }

  /** A driver's welcome to its job (new or resumed). */
  private welcomeDriver(s: Session, job: { id: JobId; secret: string }): null {
    s.send({
      t: 'welcome',
      jobId: job.id,
      nodeId: undefined,
      secret: job.secret,
      inlineMax: this.c.inlineMax,
      heartbeatMs: this.c.membership.heartbeatMs,
      ice: this.c.ice?.for(job.id),
    });
    return null;
  }
}
