// Sessions' frames: decoded, checked against the session's role and limits,
// and handed to the message handlers in order. Messages are handled for at
// most MESSAGE_SLICE_MS per loop iteration, all sessions together (issue 14: a driver's frame of
// thousands of submits must not stall heartbeats and HTTP); the rest waits
// for later turns, before anything newer from that session. The first
// message of a session is its hello: a driver starts or resumes a job, a node joins.
// A leased node's messages that name what a driver has not recorded yet wait
// for it (record-waits.ts).
import type { JobId } from '../shared/ids.js';
import type { ErrorCode } from '../shared/errors.js';
import { ProtocolError } from '../shared/errors.js';
import { decodeFrame } from '../shared/protocol/frame.js';
import type { FrameIn } from '../shared/protocol/chunk-frame.js';
import { DRIVER_SENDS, NODE_SENDS, PROTOCOL_VERSION, type Msg, type MsgOf } from '../shared/protocol/messages.js';
import { handlers, rightAwaited, type Handler } from './handlers.js';
import type { Managers } from './managers.js';
import { frameCount, splitHeavy, TurnBudget, weight } from './message-slices.js';
import type { Session } from './session.js';
import { traffic } from './traffic.js';
import { sendOnReason } from '../shared/coordinator-urls.js';
import { RecordWaits } from './record-waits.js';

export class Inbox {
  /** Frames that arrived after their turn's slice was spent and waited undecoded for a later turn (`/api/stats` `framesDeferred`). */
  deferred = 0;
  /** Node sessions whose messages wait for a driver's record of a direct task (record-waits.ts). */
  readonly waits: RecordWaits;

  constructor(
    private readonly c: Managers,
    private readonly stopped: () => boolean,
    /** Processes a close that waited for the session's frames (the coordinator's onClose). */
    private readonly closed: (s: Session, code: number) => void,
  ) {
    this.waits = new RecordWaits(
      c.gcs,
      c.leases,
      (s) => this.backlog.has(s),
      () => this.drainSoon(),
      (s, m) => rightAwaited(c, s, m),
      (s, m) => void this.dispatch(s, m),
    );
  }

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
    this.waits.closing(s);
    return true;
  }

  /** A frame arrived on a session. Bad frames close that session only. */
  frame(s: Session, data: FrameIn): void {
    if (s.closed || this.stopped()) return;
    if (data.byteLength === 0) return this.keepalive(s);
    // The input part of the loop budget, from before the decode to after the pass it runs (bench:scale's long iterations by part).
    this.turn.enter();
    try {
      this.take(s, data);
    } finally {
      this.turn.leave();
    }
  }

  private take(s: Session, data: FrameIn): void {
    s.bytesIn += data.byteLength;
    // Any frame is a sign of life (nodes skip unchanged heartbeats, issue 14).
    const n = s.nodeId ? this.c.membership.nodeOf(s) : undefined;
    if (n) this.c.membership.seen(n);
    const waiting = this.backlog.get(s);
    // A hello is decoded at once in a mesh of coordinators (a driver's takeover starts from it).
    if ((s.role !== 'pending' || !this.c.jobs.mesh) && (waiting || this.turn.spent())) {
      // This turn's slice is used up, or the session's earlier frames wait: this one waits too, in order,
      // undecoded (decoding 1,024 messages is milliseconds: 100 nodes' frames in one turn were a stall;
      // hundreds of nodes joining at once, their hellos). Its messages count against the session's rate limits now.
      const count = frameCount(data);
      if (count !== null) {
        const over = this.c.limits.frame(s, count);
        if (over) return s.fail(over.code, over.message);
        this.deferred++;
        if (waiting) waiting.frames.push(data);
        else this.backlog.set(s, { frames: [data], at: 0 });
        this.drainSoon();
        return;
      }
    }
    const msgs = this.decode(s, data, true);
    if (!msgs) return;
    const first = msgs[0];
    if (this.c.jobs.mesh && s.role === 'pending' && first?.t === 'hello' && first.resume && !waiting) {
      const job = this.c.gcs.jobs.get(first.resume.jobId);
      if (!job || job.guest) {
        // A driver of a job this coordinator does not own (its coordinator died): take it over first.
        this.backlog.set(s, { frames: [msgs], at: 0, held: true });
        void this.c.jobs.mesh
          .takeOver(first.resume.jobId)
          .catch((e: Error) => void (this.stopped() || this.c.gcs.event('job-takeover-failed', `job ${first.resume!.jobId}: ${e.message}`)))
          .finally(() => this.takenOver(s));
        return;
      }
    }
    if (waiting) {
      // Messages of a session are handled in order: behind what is still waiting.
      waiting.frames.push(msgs);
      return;
    }
    const stop = this.handleMessages(s, msgs, 0, this.turn.deadline());
    if (stop < msgs.length) {
      this.backlog.set(s, { frames: [msgs], at: stop });
      if (!this.waits.asleep(s)) this.drainSoon();
    }
    this.c.scheduler.runPending();
  }

  /** Decodes a frame and checks it against the session's limits (`count`: not counted yet); null when it closed the session. */
  private decode(s: Session, data: FrameIn, count: boolean): Msg[] | null {
    let msgs: Msg[];
    try {
      msgs = decodeFrame(data, this.c.maxFrameBytes);
    } catch (e) {
      const err = e as ProtocolError;
      s.fail(err.code ?? 'BAD_FRAME', err.message);
      return null;
    }
    if (count) {
      const over = this.c.limits.frame(s, msgs.length);
      if (over) return (s.fail(over.code, over.message), null);
    }
    return splitHeavy(msgs);
  }

  /** An empty frame: a node's keepalive (shared/node/heartbeat.ts), nothing to decode; it counts as a message for the rate limit. */
  private keepalive(s: Session): void {
    const over = this.c.limits.frame(s, 1);
    if (over) return s.fail(over.code, over.message);
    const n = s.nodeId ? this.c.membership.nodeOf(s) : undefined;
    if (n) this.c.membership.seen(n);
  }

  /** The poll phase's slice of input, shared by all sessions. */
  private readonly turn = new TurnBudget();

  /**
   * Frames waiting for a later turn, per session (issue 14: a driver's
   * frame of thousands of submits must not stall heartbeats and HTTP): raw
   * when they arrived after the turn's slice was spent, decoded when their
   * handling was cut. `at` is where the first frame stopped; `held`: a
   * taken-over driver's first frames, waiting for the takeover.
   */
  private readonly backlog = new Map<Session, { frames: (Msg[] | FrameIn)[]; at: number; closeCode?: number; held?: boolean }>();
  private draining = false;

  private drainSoon(): void {
    if (this.draining) return;
    this.draining = true;
    setImmediate(this.drain);
  }

  /**
   * Waiting frames, one slice a turn for all sessions, round robin: the
   * session at which a slice ends goes to the back, so the next turn starts
   * with the one after it.
   */
  private readonly drain = (): void => {
    this.draining = false;
    if (this.stopped()) return;
    // The input slice of this iteration, shared with the poll phase's frames (message-slices.ts TurnBudget).
    const deadline = this.turn.deadline();
    let first = true;
    for (const s of [...this.backlog.keys()]) {
      const q = this.backlog.get(s);
      if (!q || q.held || this.waits.asleep(s)) continue;
      // Past the deadline no other session starts (each would decode a frame and handle a few messages).
      if (!first && performance.now() > deadline) break;
      const done = this.serve(s, q, deadline, first);
      first = false;
      // Held for a record: the others go on.
      if (!done && this.waits.asleep(s)) continue;
      if (!done) {
        this.backlog.delete(s);
        this.backlog.set(s, q);
        break;
      }
    }
    for (const [s, q] of this.backlog) {
      if (q.held || this.waits.asleep(s)) continue;
      this.drainSoon();
      break;
    }
    this.c.scheduler.runPending();
    this.turn.leave();
  };

  /** Handles a session's waiting frames until `deadline` (`first`: the turn's first, which decodes a frame whatever the clock); true when none is left. */
  private serve(s: Session, q: { frames: (Msg[] | FrameIn)[]; at: number; closeCode?: number }, deadline: number, first: boolean): boolean {
    while (q.frames.length > 0) {
      let msgs = q.frames[0];
      if (!Array.isArray(msgs)) {
        // A decode is the unit that cannot be cut: none is started past the deadline but the turn's first.
        if (!first && performance.now() > deadline) return false;
        const decoded = s.closed ? [] : this.decode(s, msgs, false);
        q.frames[0] = msgs = decoded ?? [];
        q.at = 0;
      }
      first = false;
      q.at = this.handleMessages(s, msgs, q.at, deadline);
      if (q.at < msgs.length) return false;
      q.frames.shift();
      q.at = 0;
    }
    this.backlog.delete(s);
    if (q.closeCode !== undefined) this.closed(s, q.closeCode);
    return true;
  }

  /** Handles msgs[from..] until `deadline`; returns where it stopped (msgs.length: all done, or the session closed). */
  private handleMessages(s: Session, msgs: Msg[], from: number, deadline: number): number {
    let since = 0;
    for (let i = from; i < msgs.length; i++) {
      if (since >= 8) {
        since = 0;
        if (performance.now() > deadline) return i;
      }
      const m = msgs[i];
      since += weight(m);
      if (s.closed) return msgs.length;
      if (s.role === 'pending') {
        if (m.t !== 'hello') return (void s.fail('BAD_MESSAGE', 'the first message must be hello'), msgs.length);
        const err = this.hello(s, m);
        // A full coordinator's refusal names where to go (shared/coordinator-urls.ts).
        if (err) return (void s.fail(err.code, err.message, sendOnReason(err.code, err.next)), msgs.length);
        continue;
      }
      // Another coordinator's agent said hello again before our welcome reached it (its hello interval, our loop or
      // the bus slow): the welcome on its way answers both. Refused, the link closed and its tasks ran again (session 31).
      if (m.t === 'hello' && s.meshLink !== undefined) continue;
      // A leased node's message naming a task (or its object) that its driver's submission has not recorded yet.
      if (s.role === 'node') {
        const v = this.waits.decide(s, m);
        if (v === 'wait') return i;
        if (v === 'parked') continue;
      }
      if (!this.dispatch(s, m)) return msgs.length;
    }
    return msgs.length;
  }

  /** Checks message `m` of session `s` against its role and limits and hands it to its handler; false when it closed the session. */
  private dispatch(s: Session, m: Msg): boolean {
    if (s.closed) return false;
    const allowed = s.role === 'driver' ? DRIVER_SENDS : NODE_SENDS;
    if (!allowed.has(m.t)) return (s.fail('BAD_MESSAGE', `a ${s.role} may not send '${m.t}'`), false);
    const breach = this.c.limits.message(s, m);
    if (breach) return (s.fail(breach.code, breach.message), false);
    traffic.msgIn(m.t);
    const h = handlers[m.t] as Handler<typeof m.t> | null;
    const err = h?.(this.c, s, m);
    if (err) s.send({ t: 'error', code: 'REFUSED', message: err, ref: 'taskId' in m ? String(m.taskId) : undefined });
    return true;
  }

  /** A taken-over driver's first frames are handled at once, then the rest of its backlog a slice per turn. */
  private takenOver(s: Session): void {
    const q = this.backlog.get(s);
    if (!q || this.stopped()) return;
    q.held = false;
    this.serve(s, q, Infinity, true);
    this.c.scheduler.runPending();
  }

  private hello(s: Session, m: MsgOf<'hello'>): { code: ErrorCode; message: string; next?: string } | null {
    if (m.version !== PROTOCOL_VERSION) return { code: 'BAD_MESSAGE', message: `protocol version ${m.version} is not ${PROTOCOL_VERSION}` };
    s.peerless = m.peers === false;
    // Its assigns and readies as records (a Node client; tabs never say it: their CSP refuses the readers).
    if (m.records) s.outbox.records = true;
    // Relay chunks to it as chunk frames (shared/protocol/chunk-frame.ts); its welcome says this side reads them.
    if (m.chunks) s.sendChunkFrames();
    // It serves relay transfers under a credit window (coordinator/objects/relay-window.ts); an older client, as before.
    s.credit = m.credit === true;
    s.shortcut = m.shortcut === true && !s.peerless;
    s.direct = s.shortcut && m.direct === true;
    s.hurry = s.direct && m.hurry === true;
    s.suspend = s.direct && m.suspend === true;
    // Task groups (coordinator/groups): only when this coordinator takes them; a driver is told in its welcome.
    s.groups = m.groups === true && this.c.groups !== null;
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
      ...(s.chunkFrames ? { chunks: true } : {}),
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
      ...(s.groups ? { groups: true } : {}),
      ...(s.chunkFrames ? { chunks: true } : {}),
    });
    return null;
  }
}
