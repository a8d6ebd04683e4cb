// A driver's connection to the coordinator: the MeshCore of a Node script or
// a page. Objects it puts that are too big to travel inline stay with it and
// are served through the relay when a node needs them (driver-puts.ts).
import type { IceConfig } from '../transfer/raw-peer.js';
import { rootTaskId, type JobId, type ObjectId, type TaskId } from '../ids.js';
import type { EncodedValue } from '../codec.js';
import { TabmeshError } from '../errors.js';
import { decodeFrame, Outbox } from '../protocol/frame.js';
import type { FunctionSource, Msg, MsgOf, TaskSpec } from '../protocol/messages.js';
import { HashGate } from './hash-gate.js';
import type { ClusterInfo, Fetched, MeshCore } from './core.js';
import { ObjectClient } from './object-client.js';
import { frameIn } from './socket.js';
import { OutputDeduper } from './output.js';
import { waitFor } from './gather.js';
import { ObjectFetcher } from '../transfer/fetcher.js';
import type { PeerLinks } from '../transfer/links.js';
import type { RuntimeContext } from './types.js';
import type { ConnectOptions } from './connect-options.js';
import { handlers, type DriverContext } from './driver-handlers.js';
import { CoordinatorLink } from './driver-link.js';
import { connectFirst } from './driver-connect.js';
import { fetchObjects } from './driver-fetch.js';
import { ResumeState } from './driver-resume.js';
import { HeldObjects } from './held-objects.js';
import { DriverQuestions } from './driver-questions.js';
import { DriverShortcuts } from './driver-shortcuts.js';
import type { DriverDirect } from './driver-direct.js';
import { driverPeers } from './driver-peers.js';
import { DriverGroups, refsOf } from './driver-groups.js';
import { TurnCancels } from './turn-cancels.js';
import { DriverPuts } from './driver-puts.js';

export type { ConnectOptions } from './connect-options.js';

export class DriverCore implements MeshCore, DriverContext {
  jobId!: JobId;
  parentTask!: TaskId;
  readonly generation = 0;
  context(): RuntimeContext {
    return { jobId: this.jobId, taskId: null, nodeId: null, actorId: null, attempt: 0 };
  }
  inlineMax = 64 * 1024;
  /** The ICE servers for new peer links: from the welcome, refreshed by `ice` messages before TURN credentials expire. */
  ice: IceConfig | undefined;
  /** What this driver holds, one record an object: handles, submissions and puts to send again on a resume, readiness. */
  readonly held = new HeldObjects();
  readonly objects: ObjectClient;
  /** Small results taken straight from nodes (driver-shortcuts.ts). */
  readonly shortcuts: DriverShortcuts;
  links: PeerLinks | null = null;
  /** Tasks pushed straight to leased nodes (driver-direct.ts); null: no peer links, or off. */
  direct: DriverDirect | null = null;
  /** Task groups this driver owns (driver-groups.ts). */
  readonly groups = new DriverGroups(this);
  /** Cancels while task groups are about, sent once a turn (turn-cancels.ts: one `materialize` a group, not one a cancel). */
  private readonly cancels = new TurnCancels(
    (ids) => this.groups.escape(ids),
    (m) => this.push(m),
  );
  fetcher: ObjectFetcher;
  /** Large puts of this driver, served on request (ARCHITECTURE: a driver that still has the value can upload it again). */
  readonly ownLarge = new Map<ObjectId, Uint8Array>();
  private readonly outbox: Outbox;
  /** Large puts being hashed, and the messages waiting behind them. */
  private readonly gate = new HashGate((m) => this.outbox.push(m));
  private submitIndex = 0;
  private putIndex = 0;
  /** A barrier for this turn's submissions without outputs is on its way (askReceipt). */
  private receiptAsked = false;
  /** Prints tasks' console output, a line many tasks print alike only once per window. */
  readonly output = new OutputDeduper();
  onLog: (m: MsgOf<'output'>) => void = (m) => this.output.push(m);
  /** Why work waits (the coordinator sends each once per job and kind of task). */
  onWarning: (code: MsgOf<'warn'>['code'], message: string) => void = (_code, message) => console.warn(`tabmesh: ${message}`);

  private readonly link: CoordinatorLink;
  /** What the driver must tell a coordinator again when it resumes its job. */
  readonly resume = new ResumeState(this.held);
  /** Questions to the coordinator (named actors, cluster info) waiting for their answers. */
  readonly questions = new DriverQuestions((m) => this.push(m));
  /** Its puts, large ones' bytes kept to serve, and the artifacts it declared (driver-puts.ts). */
  private readonly puts: DriverPuts;
  /** Artifacts this driver put because the mesh held no copy. */
  get artifactUploads(): number {
    return this.puts.artifactUploads;
  }

  private constructor(opts: ConnectOptions & { url: string }) {
    this.link = new CoordinatorLink(opts, {
      resume: () => (this.jobId ? { jobId: this.jobId, held: this.resume.helloHeld() } : undefined),
      peers: () => this.links !== null,
      welcomed: (m, resumed) => this.welcomed(m, resumed),
      frame: (data) => this.onFrame(data),
      lost: (err) => {
        this.objects.failTransfers(err);
        this.questions.failLookups(err);
      },
      closed: (err) => {
        this.objects.close(err);
        this.links?.stop();
      },
    });
    // A `took` (driver-shortcuts.ts) rides on each frame: no frame of its own on the path of a sequential task.
    this.outbox = new Outbox(
      (frame) => this.link.send(frame),
      () => this.shortcuts.riding(),
      undefined,
      true,
    );
    this.objects = new ObjectClient(
      (m) => {
        // Group members' readiness comes by groupReady. A direct task's subscribe rides later: its value comes by the node's shortcut (driver-direct.ts).
        const s = m.t === 'subscribe' ? this.groups.subscribe(m) : m;
        if (s?.t === 'subscribe' && s.ids.length === 1 && this.direct?.awaits(s.ids[0])) this.shortcuts.subscribeLater(s);
        else if (s) this.push(s);
      },
      () => this.link.bufferedAmount,
      this.held,
    );
    this.fetcher = new ObjectFetcher(this.objects, null, (m) => this.push(m));
    this.puts = new DriverPuts(this, this.gate, (m) => this.push(m));
    this.shortcuts = new DriverShortcuts(
      this.objects,
      () => this.inlineMax,
      (m) => this.push(m),
      (task, peer) => this.direct?.answeredBy(task, peer) === true,
      { later: (m) => (this.pushLater(m), this.gate.busy ? null : m), withdraw: (m) => this.outbox.withdraw(m) },
    );
  }

  private welcomed(m: MsgOf<'welcome'>, resumed: boolean): void {
    this.jobId = m.jobId!;
    this.parentTask = rootTaskId(this.jobId);
    this.inlineMax = m.inlineMax;
    this.ice = m.ice;
    this.shortcuts.welcomed(this.link.jobSecret);
    this.groups.welcomed(m.groups === true, resumed);
    // Relay chunks as chunk frames where this coordinator reads them (one reconnected to may be older).
    this.outbox.chunkOut = m.chunks ? { chunk: (head, body) => this.link.sendChunk(head, body) } : null;
    if (resumed) {
      this.direct?.resumed();
      const push = this.groups.filtered((x) => this.outbox.push(x));
      this.resume.replay(push, this.objects, this.ownLarge, (p) => this.groups.replay(p));
      this.askReceipt();
    }
  }

  static async connect(given: ConnectOptions): Promise<DriverCore> {
    const { core, where } = await connectFirst(given, (opts) => DriverCore.connectTo(opts));
    core.link.where = where;
    return core;
  }

  private static connectTo(opts: ConnectOptions & { url: string }): Promise<DriverCore> {
    const core = new DriverCore(opts);
    if (opts.onOutput) core.onLog = opts.onOutput;
    if (opts.onWarning) core.onWarning = opts.onWarning;
    if (opts.peers)
      ({
        links: core.links,
        direct: core.direct,
        fetcher: core.fetcher,
      } = driverPeers(core, opts.peers, opts.maxUploadMiBps, opts.shortcut === true && opts.direct === true));
    return core.link.start().then(() => core);
  }

  private onFrame(data: unknown): void {
    let msgs: Msg[];
    try {
      msgs = decodeFrame(frameIn(data));
    } catch (e) {
      console.error('tabmesh: bad frame from the coordinator:', (e as Error).message);
      return;
    }
    for (const m of msgs) {
      const h = handlers[m.t] as ((c: DriverContext, m: Msg) => void) | null;
      if (h) h(this, m);
    }
  }

  onError(m: MsgOf<'error'>): void {
    this.link.onError(m);
  }

  onWarn(m: MsgOf<'warn'>): void {
    this.onWarning(m.code, m.message);
  }

  onOutput(m: MsgOf<'output'>): void {
    this.onLog(m);
  }

  nextSubmitIndex(): number {
    return this.submitIndex++;
  }
  nextPutIndex(): number {
    return this.putIndex++;
  }

  registerFunction(f: FunctionSource): void {
    this.resume.fns.set(f.fnId, f);
    this.push({ t: 'fn', f });
  }

  /** `key`, `index`: a remote function's call (the function with its options, the parent's submit index), which may join a task group. */
  submit(spec: TaskSpec, key?: object, index?: number): void {
    if (key !== undefined && this.groups.add(spec, key, index!)) return;
    if (this.groups.active) this.escape(refsOf(spec));
    this.submitAlone(spec);
  }

  /** A task sent alone, as before groups (driver-groups.ts sends a group too small so). */
  submitAlone(spec: TaskSpec): void {
    this.held.submitted(spec);
    const to = this.direct?.send(spec);
    // A direct task's record rides on a later frame (driver-direct.ts: the receipt window bounds the lag).
    if (to === undefined) this.push({ t: 'submit', spec });
    else this.pushLater({ t: 'submit', spec, to });
    if (spec.numReturns === 0) this.askReceipt();
  }

  /** A barrier behind this turn's submissions without outputs: once echoed, a resume need not send them (HeldObjects.noOutputs). */
  private askReceipt(): void {
    if (this.receiptAsked) return;
    this.receiptAsked = true;
    queueMicrotask(() => {
      this.receiptAsked = false;
      const mark = this.held.unreceivedMark();
      if (mark >= 0) this.objects.onReceipt(() => this.held.received(mark));
    });
  }

  put(id: ObjectId, value: EncodedValue): void {
    this.escape(value.refs);
    this.puts.put(id, value);
  }

  offerArtifact(hash: string, bytes: Uint8Array): void {
    this.puts.offerArtifact(hash, bytes);
  }

  /** The mesh holds no copy of an artifact this job declared: put it (driver-puts.ts). */
  uploadArtifact(hash: string): void {
    this.puts.uploadArtifact(hash);
  }

  /** To the coordinator, in order (driver-peers.ts, driver-groups.ts); `sendLater` rides on a later frame. */
  send(m: Msg): void {
    this.push(m);
  }
  sendLater(m: Msg): void {
    this.pushLater(m);
  }
  flush(): void {
    if (!this.gate.busy) this.outbox.flush();
  }

  /** Members among `ids` leave their groups (DriverGroups.escape), after the members this turn's cancels named. */
  private escape(ids: readonly ObjectId[]): readonly ObjectId[] {
    if (this.cancels.pending) this.cancels.send();
    return this.groups.escape(ids);
  }

  /** To the coordinator, in order: behind a large put still being hashed. */
  private push(m: Msg): void {
    this.groups.closeOpen();
    this.gate.push(m);
  }

  /** A message whose lag costs nothing (Outbox.later): on the next frame, or within LATER_MS; behind a put being hashed. */
  private pushLater(m: Msg): void {
    this.groups.closeOpen();
    if (this.gate.busy) this.gate.push(m);
    else this.outbox.later(m);
  }

  fetch(ids: ObjectId[], timeoutMs?: number): Promise<Fetched[]> {
    return fetchObjects(this, ids, timeoutMs);
  }

  wait(ids: ObjectId[], numReturns: number, timeoutMs?: number): Promise<Set<ObjectId>> {
    return waitFor(
      ids,
      numReturns,
      timeoutMs,
      (id) => (this.ownLarge.has(id) ? Promise.resolve() : this.objects.whenReady(id).then(() => {})),
      () => this.objects.sync(),
    );
  }

  cancel(ids: readonly ObjectId[], force: boolean): void {
    // Members become ordinary tasks first: one `materialize` a group a turn (turn-cancels.ts), then a cancel each.
    if (this.groups.active || this.cancels.pending) return this.cancels.add(ids, force);
    for (const id of ids) this.push({ t: 'cancel', id, force });
  }

  borrow(ids: ObjectId[]): void {
    // A member's materialize holds it at the coordinator: no borrow of its own.
    const rest = this.escape(ids) as ObjectId[];
    this.held.borrowed(rest);
    if (rest.length) this.push({ t: 'borrow', ids: rest });
  }

  getActor(name: string, ns?: string): Promise<{ id: string; className: string }> {
    return this.questions.getActor(name, ns);
  }

  ask(q: MsgOf<'ask'>['q'], o: { ns?: string; all?: boolean } = {}): Promise<ClusterInfo> {
    return this.questions.ask(q, o);
  }

  /** The GCS freed these objects: our copies of large puts among them can go (driver-puts.ts). */
  freed(ids: ObjectId[]): void {
    this.puts.freed(ids);
  }

  killActor(id: string): void {
    this.push({ t: 'killActor', id: id as TaskSpec['taskId'] });
  }

  release(ids: ObjectId[]): void {
    // The bytes of a large put stay until the GCS frees the object: a pending task may still need them.
    if (this.cancels.pending) this.cancels.send(); // a member cancelled this turn leaves its group before its release
    const rest = this.groups.release(ids) as ObjectId[];
    for (const id of ids) this.held.released(id);
    if (rest.length) this.pushLater({ t: 'release', ids: rest });
  }

  async close(): Promise<void> {
    this.cancels.send();
    // What waits behind a put being hashed goes out first.
    if (this.gate.busy && this.link.state === 'connected') await this.gate.idle();
    this.groups.closeOpen();
    this.link.closing = true;
    if (this.link.state === 'reconnecting') {
      this.link.state = 'closed';
      this.objects.close(new TabmeshError('CLOSED', 'this mesh connection is closed'));
      return Promise.resolve();
    }
    this.links?.stop();
    this.output.flush();
    this.outbox.flush();
    return this.link.closeSocket();
  }
}
