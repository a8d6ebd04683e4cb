// Several coordinators on one Redis form one mesh (issue 15). Each one:
// - writes its record into the registry and reads the others' (registry.ts);
// - is a node of every other one (agent.ts): they place tasks on it, it runs them on its own nodes; the others are
//   nodes of it (links: plain sessions over the bus, bus.ts), marked so that only its own jobs' plain tasks go there;
// - owns the jobs whose drivers it serves through leases it renews, and takes a job over (its rows read from Redis,
//   as a restart would) when the job's driver comes back to it and the lease has expired (takeover.ts).
import { randomHex, type JobId, type NodeId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import { connectRedis } from '../gcs/redis-connect.js';
import { stopLetGoActors, stopLetGoRuns } from './let-go-actors.js';
import type { Session } from '../session.js';
import { MeshBus } from './bus.js';
import { MeshLinks } from './links.js';
import { AgentSession } from './agent.js';
import { PeerAgents } from './peer-agents.js';
import { givenBack } from './give-back.js';
import { SignalRelay } from './signal-relay.js';
import { MeshView } from './mesh-view.js';
import { BEAT_MS, DEAD_MS, LEASE_MS, MeshRegistry, linkedNodes, type CoordinatorInfo } from './registry.js';
import { JobJanitor } from './janitor.js';
import { guestCopies, MovedHoldings, type Holding } from './moved-holdings.js';
import { DetachedAdoption } from './detached-actors.js';
import { SendOn } from './send-on.js';
import { takeOverJob, type TakeoverMesh } from './takeover.js';
import { LinkPins, pinWaitFromEnv } from './link-pins.js';
import { InFlight } from './in-flight.js';
import { MeshActorNames, meshNameRegistry } from './actor-names.js';

/** How long a closing mesh waits for Redis, for its goodbyes, then for what it had under way (session 37). */
export const CLOSE_WAIT_MS = 2_000;

export interface MeshOptions {
  redis: string;
  prefix: string;
  /** This coordinator's URL, as nodes and drivers reach it. */
  url: string;
  joinToken?: string;
  /** How long recovered objects of a job taken over wait for their holders. */
  recoveryGraceMs?: number;
  /** How long a hard pin waits for a live coordinator's link that is down (link-pins.ts; TABMESH_MESH_PIN_WAIT_MS, 30 s). */
  pinWaitMs?: number;
}

export class CoordinatorMesh {
  /** Our agent on each live peer, and its number (bus.ts: a link's frames name it): peer-agents.ts. */
  private readonly agents: PeerAgents;
  private readonly links: MeshLinks;
  private timer: ReturnType<typeof setInterval> | null = null;
  private janitor: JobJanitor | undefined;
  private detached: DetachedAdoption | undefined;
  /** The mesh's actor names: our lease on our claims is renewed every beat. */
  private names: MeshActorNames | undefined;
  private sweptAt = Date.now();
  private readonly startedAt = Date.now();
  private closed = false;
  /** Beats, sweeps, takeovers and claims under way: close() waits for them (in-flight.ts). */
  private readonly work = new InFlight();
  private others: CoordinatorInfo[] = [];
  readonly signals: SignalRelay;
  private view: MeshView | undefined;
  /** Copies announced for jobs not taken over yet, waiting for their rows. */
  private readonly held: MovedHoldings;
  private readonly sendsOn: SendOn;
  /** What a takeover reads and writes of this mesh (takeover.ts). */
  private readonly takeover: TakeoverMesh;
  /** How long each live peer's link has been down here, who left: a hard pin to a link waits, warns, fails (link-pins.ts). */
  private readonly pins: LinkPins;

  private constructor(
    private readonly c: Coordinator,
    private readonly registry: MeshRegistry,
    private readonly bus: MeshBus,
    private readonly opts: MeshOptions,
    private readonly disconnect: () => void,
  ) {
    this.signals = new SignalRelay(c.signalling, {
      sendSignal: (to, payload) => this.bus.send(to, 'signal', payload),
      askAsNode: (to, m) => this.agents.get(to)?.ask(m) ?? false,
      coordinatorOf: (s) => s.meshLink ?? (s instanceof AgentSession ? s.agent.peer : undefined),
    });
    this.agents = new PeerAgents(
      c,
      (to, kind, frame, tag) => this.bus.send(to, kind, frame, tag),
      opts.joinToken,
      (peer, m) => this.signals.located(peer, m),
    );
    this.held = new MovedHoldings(c, this.graceMs);
    this.sendsOn = new SendOn(opts.url);
    this.takeover = {
      id: registry.id,
      registry,
      held: this.held,
      agents: this.agents,
      graceMs: () => this.graceMs,
      closed: () => this.closed,
      claim: (job) => this.claim(job),
    };
    this.pins = new LinkPins(opts.pinWaitMs ?? pinWaitFromEnv(), {
      lives: (id) => this.agents.has(id),
      withUrl: (url) => this.others.find((o) => o.url === url)?.id,
    });
    this.links = new MeshLinks(
      c,
      (to, kind, frame, tag) => this.bus.send(to, kind, frame, tag),
      (from, reason) => this.pins.closedWith(from, reason),
    );
  }

  /** How long a job taken over waits for the holders of its objects (and their announcements for the takeover). */
  private get graceMs(): number {
    return this.opts.recoveryGraceMs ?? Math.min(10_000, this.c.jobGraceMs);
  }

  /** A job let go of: what our nodes hold of it waits for the new owner's grace (copies, and its actors' executors). */
  keepCopies(job: JobId): void {
    this.held.keep(guestCopies(this.c, job));
    stopLetGoActors(this.c, job, this.graceMs);
    stopLetGoRuns(this.c, job, this.graceMs);
  }

  parkHoldings<H extends Holding>(s: Session, refused: H[]): H[] {
    return this.held.park(s, refused) as H[];
  }

  static async start(c: Coordinator, opts: MeshOptions): Promise<CoordinatorMesh> {
    const id = randomHex(8);
    const { client } = await connectRedis(opts.redis, 10_000);
    const mesh = new CoordinatorMesh(c, new MeshRegistry(client, opts.prefix, id), new MeshBus(client, opts.prefix, id), opts, () => client.disconnect());
    c.meshId = id;
    c.mesh = mesh;
    c.gcs.eventOrigin = `${id}:`;
    mesh.bus.onFrame = (from, kind, frame, tag) => {
      if (mesh.closed) return; // closing: links, agents and the view are gone or going (close() awaits the registry)
      if (kind === 'toLink') mesh.links.frame(from, tag, frame);
      else if (kind === 'linkEnd') mesh.links.agentEnded(from, tag);
      else if (kind === 'toAgent') mesh.agents.of(from, tag)?.onFrame(frame);
      else if (kind === 'agentEnd') mesh.agents.of(from, tag)?.linkEnded();
      else if (kind === 'signal') mesh.signals.deliver(from, frame);
      else if (kind === 'ask') mesh.view?.onAsk(from, frame);
      else mesh.view?.onAnswer(from, frame);
    };
    mesh.bus.onLost = (peer, why) => mesh.lost(peer, why);
    mesh.pins.hook(c.gcs);
    c.linkJoined = (peer) => mesh.pins.up(peer);
    mesh.view = new MeshView(c, id, {
      send: (to, kind, payload) => mesh.bus.send(to, kind, payload),
      others: () => mesh.registry.live().map((o) => o.id),
      totals: () => mesh.totals(),
      coordinators: () => mesh.list().map((r) => ({ id: r.id, url: r.url, nodes: r.nodes, cpus: r.cpus, jobs: r.jobs, load: r.load, self: r.self })),
    });
    c.signalling.bridge = mesh.signals;
    // Names unique mesh-wide (actor-names.ts): a silent coordinator's claims hold while a takeover may claim them again.
    mesh.names = new MeshActorNames(client, opts.prefix, id, c.jobGraceMs + 2 * DEAD_MS);
    c.actors.meshNames = meshNameRegistry(mesh.names, id, () => mesh.registry.live());
    // Tasks of the others' jobs handed back to them before they started here (give-back.ts).
    c.addStats(() => ({
      ...mesh.bus.counters,
      ...mesh.bus.delivery.counters,
      ...givenBack(mesh.agents.values()),
      meshLinksEnded: mesh.links.endedCount,
      meshLinkFramesVoid: mesh.links.voidCount,
    }));
    // A full coordinator sends refused nodes on to the roomiest other one (COORDINATOR_FULL next=<url>).
    c.limits.sendOn = () => mesh.sendOn();
    // A guest task's end goes straight to the agent of its owner (no subscriptions to its outputs).
    c.tasks.onEnded = (t) => void mesh.agents.get(c.gcs.jobs.get(t.spec.jobId)?.guest ?? '')?.ended(t);
    c.tasks.reclaimed = (t) => mesh.agents.get(c.gcs.jobs.get(t.spec.jobId)?.guest ?? '')?.handedBack(t) ?? false;
    mesh.janitor = new JobJanitor(c, mesh.registry, (job) => mesh.takeOver(job as JobId));
    const detached = (mesh.detached = new DetachedAdoption(c, mesh.registry, {
      stillOurs: (job) => mesh.stillOurs(job),
      claim: (job) => mesh.claim(job),
      graceMs: mesh.graceMs,
      get closed() {
        return mesh.closed;
      },
    }));
    await mesh.bus.start();
    await mesh.tick();
    c.handover.watchUnknown((id) => mesh.work.add(detached.hosted(id)).catch((e: Error) => mesh.adoptFailed(e)));
    mesh.timer = setInterval(() => void mesh.work.add(mesh.tick()).catch(() => {}), BEAT_MS);
    mesh.timer.unref();
    return mesh;
  }

  get id(): string {
    return this.registry.id;
  }

  private selfInfo(): Omit<CoordinatorInfo, 'id' | 'at' | 'beat'> {
    // Running totals (coordinator/nodes/totals.ts): no walk of 20,000 node records every beat.
    const { nodes, cpus, load } = this.c.membership.totals;
    // JSON has no Infinity (a coordinator with no open-file bound): a billion is room enough.
    const room = Math.min(1e9, this.c.limits.nodeRoom());
    return { url: this.opts.url, nodes, cpus, jobs: this.ownJobs().length, load, room, startedAt: this.startedAt };
  }

  /**
   * Where a node this coordinator refuses (full) should go: the live
   * coordinator of the mesh with the most room (send-on.ts); undefined when none has room (issue 14).
   */
  sendOn(): string | undefined {
    return this.sendsOn.pick(this.registry.live());
  }

  private ownJobs(): JobId[] {
    const out: JobId[] = [];
    for (const j of this.c.gcs.jobs.values()) if (j.state === 'running' && !j.guest) out.push(j.id);
    return out;
  }

  /** Every beat: our record, the others', agents and links following who is alive, our leases renewed. */
  private async tick(): Promise<void> {
    if (this.closed) return;
    const before = this.others;
    this.others = await this.registry.tick(this.selfInfo());
    if (this.closed) return; // closed while Redis answered: what follows writes to the GCS
    const live = new Set(this.others.map((o) => o.id));
    this.c.scheduler.linkedNodes = linkedNodes(this.others);
    for (const o of this.others) if (!this.agents.has(o.id)) this.agents.add(o.id);
    for (const id of this.agents.ids()) {
      if (live.has(id)) continue;
      this.c.gcs.event('coordinator-lost', `coordinator ${id} of the mesh is gone: the tasks it ran for us run again, its jobs are free to take over`);
      this.agents.drop(id);
      this.pins.leftMesh(id, before.find((o) => o.id === id)?.url);
      this.c.scheduler.soon(); // tasks pinned to its link fail now (scheduler.ts: a pin to a node gone for good)
    }
    // A link down past the warning or the bound: a pass warns the drivers of tasks pinned to it, or fails them.
    if (this.pins.beat(live, (id) => this.c.gcs.nodes.has(id as NodeId))) this.c.scheduler.soon();
    this.links.keep(live, (id) => this.registry.known(id));
    this.bus.delivery.keep(live, (id) => this.registry.known(id));
    this.sendsOn.keep(live);
    if (this.names) void this.work.add(this.names.renew()).catch(() => {}); // our claims hold while we beat (actor-names.ts)
    const lost = await this.renew([...this.ownJobs(), ...(this.detached?.leased() ?? [])]);
    if (this.closed) return;
    for (const job of lost) this.c.gcs.event('job-lease-lost', `job ${job}: another coordinator holds its lease`, { job });
    for (const job of lost) this.c.jobs.letGo(job as JobId, 'another coordinator took its lease');
    for (const job of this.c.gcs.storage.takeFenced?.() ?? []) this.c.jobs.letGo(job as JobId, 'Redis refused its writes: another coordinator took its lease');
    if (this.janitor && Date.now() - this.sweptAt >= this.janitor.everyMs) {
      this.sweptAt = Date.now();
      void this.work.add(this.janitor.sweep()).catch((e: Error) => {
        if (!this.closed) this.c.gcs.event('mesh-sweep-failed', `looking for abandoned jobs failed: ${e.message}`);
      });
      if (this.detached) void this.work.add(this.detached.sweep()).catch((e: Error) => this.adoptFailed(e));
    }
  }

  /**
   * Frames to or from peer `id` were lost for good (bus.ts, delivery.ts: more than the bound went unacknowledged):
   * both links with it end as when it was taken for gone (what each ran for the other runs again), and start afresh.
   */
  private lost(id: string, why: string): void {
    if (this.closed) return;
    this.c.gcs.event('mesh-frames-lost', `frames with coordinator ${id}: ${why}`);
    this.agents.drop(id);
    this.links.reset(id);
    if (this.others.some((o) => o.id === id)) this.agents.add(id);
  }

  /** Takes or renews leases; our writes of each job we hold are fenced with its token. Returns the jobs another holds. */
  private async renew(jobs: string[]): Promise<string[]> {
    const { lost, tokens } = await this.registry.renew(jobs);
    const storage = this.c.gcs.storage;
    for (const [job, token] of tokens) storage.fence?.(job, token);
    return lost;
  }

  /** A job starts here: its lease is taken at once (renewed every beat after). */
  jobStarted(job: JobId): void {
    void this.renew([job]).catch(() => {});
  }

  /** Takes the job's lease, waiting for it to lapse if another coordinator holds it (one that died may look alive for a beat or two); whether it is ours. */
  claim(job: JobId): Promise<boolean> {
    // Closing, Redis's failure is the end: not ours (the caller's `then` has no `catch`: jobs/runner.ts).
    return this.work.add(this.claimed(job).catch((e: unknown) => (this.closed ? false : Promise.reject(e))));
  }

  private async claimed(job: JobId): Promise<boolean> {
    const giveUp = Date.now() + LEASE_MS + 2 * BEAT_MS;
    while ((await this.renew([job])).length > 0) {
      if (this.closed || Date.now() > giveUp) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
    return !this.closed;
  }

  async stillOurs(job: JobId): Promise<boolean> {
    return (await this.renew([job])).length === 0;
  }

  private adoptFailed(e: Error): void {
    if (this.closed) return; // closing: the GCS may be closed already (its storage throws CLOSED)
    this.c.gcs.event('mesh-sweep-failed', `looking for detached actors of ended jobs failed: ${e.message}`);
  }

  jobEnded(job: JobId): void {
    if (this.detached?.hosts(job)) return; // its detached actors live on here: so does its lease
    void this.registry.release(job).catch(() => {});
  }

  /**
   * A driver asks to resume job `job`, unknown here: once its lease is free (its owner is gone: the lease expires within LEASE_MS), take it and read its rows
   * back. Resolves either way; the hello then finds the job or not.
   */
  takeOver(job: JobId): Promise<void> {
    return this.work.add(takeOverJob(this.c, job, this.takeover));
  }

  /** Mesh-wide counts from every coordinator's record (ours now, the others' as of their last beat). */
  totals(): Record<string, number> {
    const all = this.list();
    const sum = (k: 'nodes' | 'cpus' | 'jobs' | 'load') => all.reduce((n, r) => n + r[k], 0);
    return { coordinators: all.length, meshNodes: sum('nodes'), meshCpus: sum('cpus'), meshJobs: sum('jobs'), meshLoad: sum('load') };
  }

  /** This coordinator and the live others, for GET /api/coordinators. */
  list(): (CoordinatorInfo & { self: boolean })[] {
    const me: CoordinatorInfo = { ...this.selfInfo(), id: this.id, at: Date.now(), beat: 0 };
    return [{ ...me, self: true }, ...this.registry.live().map((o) => ({ ...o, self: false }))];
  }

  /** Closes the mesh; what it could not do because Redis did not answer within CLOSE_WAIT_MS (empty: all done). */
  async close(): Promise<string[]> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.c.limits.sendOn = () => undefined;
    this.c.scheduler.linkedNodes = 0;
    this.pins.unhook(this.c.gcs);
    this.c.signalling.bridge = null;
    this.c.actors.meshNames = null;
    this.signals.close();
    this.view?.close();
    this.agents.close();
    this.links.close();
    this.held.close();
    this.c.handover.watchUnknown(undefined);
    const leased = [...this.ownJobs(), ...(this.detached?.leased() ?? [])];
    const undone: string[] = [];
    // Redis may be gone: the goodbyes wait for it a bounded time, then the link is cut.
    const bye = await this.registry.goodbye(leased, CLOSE_WAIT_MS);
    if (bye) undone.push(bye);
    this.bus.close();
    this.disconnect();
    // What was under way ends now (its Redis calls fail with the link), before the caller closes the GCS storage;
    // past the bound, what still waits for Redis is left (it writes nothing once the coordinator closed: mesh-close.test).
    const left = await this.work.settledWithin(CLOSE_WAIT_MS);
    if (left > 0) undone.push(`${left} Redis call(s) of the mesh left waiting`);
    return undone;
  }
}
