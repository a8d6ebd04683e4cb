// This coordinator as a node of another (issue 15): the peer places tasks of
// its jobs on us as on any node; we run them on our own nodes under a guest
// job (guest-jobs.ts) and report as a node does. Objects cross peer-to-peer
// between the two sides' nodes where a link comes up (signal-relay.ts), else
// through the two relays: an argument stored on the peer's side is fetched
// from it on demand, an output stored on ours is served to it on demand.
import { Outbox, decodeFrame } from '../../shared/protocol/frame.js';
import { PROTOCOL_VERSION, type Msg, type MsgOf } from '../../shared/protocol/messages.js';
import { returnObjectId, taskOfObject, type JobId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import type { TaskRecord } from '../gcs/tables.js';
import { Session } from '../session.js';
import { BusSocket, LINK_FLUSH_MS } from './bus.js';
import { GuestJobs } from './guest-jobs.js';
import { GiveBack } from './give-back.js';

/** Our side of the link: what our coordinator tells it comes to the agent, not to a socket. */
export class AgentSession extends Session {
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
    this.peerless = true; // no peer links to a coordinator: its nodes link to ours (signal-relay.ts), else the relays
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
  /** Our node id on the peer, once welcomed (our mesh id: the same every session, nodes/membership.ts). */
  private nodeId: string | null = null;
  /** Welcomes so far: the number of our link session there (guest-jobs.ts reports on the session a task was placed on). */
  private welcomes = 0;
  private heartbeatMs = 1000;
  private timer: ReturnType<typeof setInterval> | null = null;
  private helloAt = 0;
  private offered = -1;
  private readonly guests: GuestJobs;
  /** Tasks the peer asks back before they started (work stealing back from a link). */
  readonly giveBack: GiveBack;
  closed = false;
  /** The peer answered a locate we asked as its node (signal-relay.ts). */
  onLocated: (m: MsgOf<'located'>) => void = () => {};

  constructor(
    private readonly c: Coordinator,
    readonly peer: string,
    send: (frame: Uint8Array) => void,
    private readonly joinToken: string | undefined,
    /** Tells the peer this agent ended (after its last frames): what it placed here goes back to its queue at once. */
    private readonly sayEnded: () => void = () => {},
  ) {
    this.session = new AgentSession(this, peer);
    // Our reports (done) as records, and the peer's assigns to us too (its hello says `records`): as a Node
    // client's frames, not maps whose every key is a string read per message (frame-records.ts).
    this.outbox = new Outbox(send, undefined, undefined, true);
    this.outbox.gapMs = LINK_FLUSH_MS;
    this.guests = new GuestJobs(
      c,
      peer,
      this.session,
      (m) => this.send(m),
      () => (this.nodeId === null ? null : { node: this.nodeId, session: this.welcomes }),
    );
    this.giveBack = new GiveBack(
      c,
      () => this.guests.placed(),
      (t, attempt) => this.guests.withdrawn(t, attempt),
      (m) => this.send(m),
      (id) => this.guests.pinned(id),
    );
    this.timer = setInterval(() => this.tick(), 250);
    this.timer.unref();
    this.tick();
  }

  /** CPUs of our own nodes (links to other coordinators are not ours to lend): a running total, read every tick. */
  private ownCpus(): number {
    return this.c.membership.totals.cpus;
  }

  private send(m: Msg): void {
    if (!this.closed) this.outbox.push(m);
  }

  /** Asks the peer as its node (a holder lookup); false until it welcomed us. */
  ask(m: MsgOf<'locate'>): boolean {
    if (this.closed || !this.nodeId) return false;
    this.send(m);
    return true;
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
        records: true,
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
      this.send({ t: 'heartbeat', running: this.guests.running(), queued: 0, storeBytes: 0 });
    }
  }

  /**
   * The peer closed our link session (it took us for gone, or refused a frame): hello again now, not after the
   * hello interval. Guest tasks stay: the peer places them again as their next attempt, and a run here goes on for it.
   */
  linkEnded(): void {
    // Not welcomed: a refused hello (a full peer, a wrong join token) ends a session too; its hellos keep their interval.
    if (this.closed || !this.nodeId) return;
    this.c.gcs.event('mesh-link-lost', `coordinator ${this.peer} closed our link (node ${this.nodeId}): hello again`);
    // What was queued for the closed session leaves in a frame of its own (the peer drops it: links.ts), not ahead of
    // the hello in one frame (session 31: the peer's new session began with a done and refused it, BAD_MESSAGE).
    this.outbox.flush();
    this.nodeId = null;
    this.helloAt = 0;
    this.tick();
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
        this.welcomes++;
        this.heartbeatMs = m.heartbeatMs;
        c.gcs.event('mesh-link', `runs tasks of coordinator ${this.peer} (as its node ${this.nodeId})`);
        return;
      case 'assign':
        return this.guests.assign(m);
      case 'cancelTask': {
        // Only a task of the peer's job run here: a job we took over is ours (a peer that let go of it cancels its tasks).
        const t = c.gcs.tasks.get(m.taskId);
        if (t && this.guests.jobs.has(t.spec.jobId)) c.ends.cancel(returnObjectId(m.taskId, 0), m.force);
        return;
      }
      case 'free':
        for (const id of m.ids) {
          const o = c.dir.get(id);
          if (o && !this.guests.jobs.has(o.job)) continue; // ours now (taken over)
          if (this.session.held.has(id)) c.dir.unhold(this.session, id);
          this.guests.forget(taskOfObject(id));
        }
        return;
      case 'serve':
        // The peer wants an output stored on one of our nodes: our relay fetches it, the chunks go back.
        return c.relay.fetch(this.session, { t: 'fetch', id: m.id, x: m.x });
      case 'ready':
        return this.guests.argReady(m);
      case 'giveBack':
        // Its own nodes went idle while ours hold its tasks: what has not started goes back (give-back.ts).
        return this.giveBack.asked(m.n);
      case 'chunk':
        void c.relay.chunk(this.session, m);
        return;
      case 'xferFail':
        return c.relay.fail(this.session, m);
      case 'located':
        return this.onLocated(m);
      case 'error':
        // Hello again: declared dead, refused, or our session there is gone (the peer closed its link to us when its
        // loop stalled past DEAD_MS, and took our next frame for a new connection's: "the first message must be
        // hello"). Without it the link stayed down while both ran: a job of 20,000 ran none there (session 17).
        if (m.code === 'NODE_DEAD' || m.code === 'UNAUTHORIZED' || m.code === 'BAD_MESSAGE') this.nodeId = null;
        c.gcs.event('mesh-error', `coordinator ${this.peer} said ${m.code}: ${m.message}`);
        return;
      default:
        return; // signal, actorInfo, sync: nothing a link asks for
    }
  }

  /** What our coordinator tells the link session: relay traffic, output lines (a guest task's end comes through ended()). */
  local(m: Msg): void {
    switch (m.t) {
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

  /** A task of one of our guest jobs ended here. */
  ended(t: TaskRecord): void {
    this.guests.ended(t);
  }

  /** One of our nodes handed back `t` (not started): true when it goes back to the peer, which asked for it. */
  handedBack(t: TaskRecord): boolean {
    return this.giveBack.handedBack(t, this.guests.placedAt(t));
  }

  /** Guest job `id` ends here (we took it over). */
  dropJob(id: JobId): void {
    this.guests.dropJob(id);
  }

  /** The peer is gone (or we stop): guest jobs end; the link session closes. */
  close(): void {
    if (this.closed) return;
    this.guests.dropAll();
    // What the guest tasks reported before goes first, then the end (links.ts): the peer re-queues the rest now.
    this.outbox.flush();
    this.closed = true;
    this.sayEnded();
    if (this.timer) clearInterval(this.timer);
    this.c.relay.dropSession(this.session);
    for (const id of [...this.session.held.keys()]) this.c.dir.unhold(this.session, id);
    this.session.closed = true;
  }
}
