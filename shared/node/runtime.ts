// The node runtime (ARCHITECTURE.md "the boxes"): one per browser tab or edge
// process. It joins the coordinator, runs assigned tasks on its executors,
// schedules nested tasks bottom-up (here when it has a free slot and the
// arguments, else through the coordinator), keeps objects in its store and
// serves them. Platform specifics come in through NodePlatform.
import { ObjectClient } from '../api/object-client.js';
import type { Fetched } from '../api/core.js';
import { allUntilFailure, waitFor, withTimeout } from '../api/driver.js';
import { defaultWebSocket, toBytes, wsUrl, type WebSocketCtor, type WebSocketLike } from '../api/socket.js';
import { failureOf, GetTimeoutError, TabmeshError, type Failure } from '../errors.js';
import type { TaskSpec } from '../protocol/messages.js';
import type { FromExecutor, Call } from '../executor/protocol.js';
import { contentHash } from '../hash.js';
import { BACKOFF, sleepBackoff } from '../backoff.js';
import { forPosting } from '../bytes.js';
import { returnObjectId, type NodeId, type ObjectId, type TaskId } from '../ids.js';
import { decodeFrame, Outbox } from '../protocol/frame.js';
import { PROTOCOL_VERSION, type FunctionSource, type Handlers, type Msg, type MsgOf, type TaskResult } from '../protocol/messages.js';
import { LocalScheduler, type Executor, type LocalTask, type SpawnExecutor } from './executors.js';
import { ObjectStore, type SpillTier } from './store.js';
import { ObjectFetcher } from '../transfer/fetcher.js';
import { PeerLinks } from '../transfer/links.js';
import type { PeerFactory } from '../transfer/raw-peer.js';
import { EnvCache, type EnvTier } from './env-cache.js';

export interface NodePlatform {
  WebSocket?: WebSocketCtor;
  spawnExecutor: SpawnExecutor;
  tier?: SpillTier;
  /** A repeating timer (default setInterval); browsers pass one that background tabs do not throttle. */
  every?: (ms: number, fn: () => void) => () => void;
  /** WebRTC peer links (issue 4); without them objects move through the coordinator's relay. */
  peers?: PeerFactory;
  /**
   * The store of an earlier session of this process (a node that reconnects,
   * e.g. after a coordinator restart): its objects are announced on welcome.
   */
  store?: ObjectStore;
  /** Where runtime env artifacts persist across restarts (issue 16): IndexedDB, or a folder. */
  envTier?: EnvTier;
  /** The runtime env cache of an earlier session of this process (kept across reconnects like `store`). */
  envCache?: EnvCache;
}

export interface NodeOptions {
  url: string;
  kind: 'edge' | 'browser';
  name: string;
  /** Executors (one CPU each). */
  cpus: number;
  /** Memory budget of the object store. */
  storeBytes: number;
  /** Custom resources this node offers, e.g. { gpu: 1 }. */
  resources?: Record<string, number>;
  joinToken?: string;
  /** Start paused (a volunteer's choice kept across reloads). */
  paused?: boolean;
  /** Fraction of the time executors may work, (0, 1]. Default 1. */
  cpuShare?: number;
}

type NodeHandlers = Handlers<NodeRuntime>;

const handlers: NodeHandlers = {
  welcome: null,
  assign: (n, m) => n.onAssign(m),
  cancelTask: (n, m) => n.cancel(m.taskId, m.force),
  free: (n, m) => {
    for (const id of m.ids) n.store.delete(id);
  },
  serve: (n, m) => void n.store.get(m.id).then((b) => n.objects.serve(m.x, b)),
  ready: (n, m) => n.objects.onReady(m),
  sync: (n, m) => n.objects.onSync(m.x),
  chunk: (n, m) => n.objects.onChunk(m),
  xferFail: (n, m) => n.objects.onXferFail(m),
  signal: (n, m) => n.links?.onSignal(m.peer, m.data),
  located: (n, m) => n.fetcher.onLocated(m),
  locate: null,
  peerBytes: null,
  error: (n, m) => n.log(`coordinator: ${m.code}: ${m.message}`),
  output: null,
  killActor: (n, m) => n.destroyActor(m.id, 'killed'),
  actorCheckpoint: null,
  actorInfo: (n, m) => n.onActorInfo(m),
  getActor: null,
  hello: null,
  fn: null,
  submit: null,
  put: null,
  subscribe: null,
  fetch: null,
  borrow: null,
  release: null,
  cancel: null,
  heartbeat: null,
  started: null,
  blocked: null,
  done: null,
  failed: null,
  stored: null,
  dropped: null,
  log: null,
  capacity: null,
  handBack: null,
  holding: null,
  warn: null,
};

export class NodeRuntime {
  nodeId: NodeId | null = null;
  inlineMax = 64 * 1024;
  readonly store: ObjectStore;
  readonly objects: ObjectClient;
  /** Peer links to other nodes and drivers (issue 4), when the platform has WebRTC. */
  readonly links: PeerLinks | null;
  readonly fetcher: ObjectFetcher;
  readonly local: LocalScheduler;
  /** Runtime env artifacts by content hash (issue 16). */
  readonly envCache: EnvCache;
  private readonly outbox: Outbox;
  private readonly ws: WebSocketLike;
  private readonly tasks = new Map<TaskId, LocalTask>();
  private readonly fns = new Map<string, FunctionSource>();
  private readonly fnsAnnounced = new Set<string>();
  private readonly fetching = new Map<ObjectId, Promise<Fetched>>();
  /** Actors living on this node: the creation task (kept while the actor lives) and its calls in arrival order. */
  private readonly actors = new Map<string, { host: LocalTask; calls: LocalTask[] }>();
  private readonly lookups = new Map<number, (m: MsgOf<'actorInfo'>) => void>();
  private nextLookup = 1;
  private stopHeartbeat: () => void = () => {};
  private closed = false;
  tasksRun = 0;
  /** Object bytes that came and went inside coordinator messages (small arguments, results and puts); links and the relay count theirs. */
  readonly inlineBytes = { in: 0, out: 0 };
  /** Takes no new tasks (issue 3): see setPaused. */
  paused = false;
  /** Called when a task ended here (the volunteer page counts them). */
  /** A task ended here: ran to a result, failed, or was cancelled (not a failure of this node's). */
  onTaskEnd: (name: string, outcome: 'ok' | 'failed' | 'cancelled') => void = () => {};
  /** Called with every notable thing the node does (the volunteer page shows them). */
  onEvent: (text: string) => void = () => {};
  readonly ready: Promise<void>;
  readonly closedPromise: Promise<string>;

  constructor(
    readonly opts: NodeOptions,
    platform: NodePlatform,
  ) {
    const Ctor = platform.WebSocket ?? defaultWebSocket();
    this.ws = new Ctor(wsUrl(opts.url));
    this.ws.binaryType = 'arraybuffer';
    this.outbox = new Outbox((frame) => {
      if (this.ws.readyState === 1) this.ws.send(frame);
    });
    this.objects = new ObjectClient(
      (m) => this.outbox.push(m),
      () => this.ws.bufferedAmount,
    );
    this.store =
      platform.store ??
      new ObjectStore({
        memoryBytes: opts.storeBytes,
        tier: platform.tier,
      });
    this.store.onDropped = (ids) => this.send({ t: 'dropped', ids });
    this.links = platform.peers
      ? new PeerLinks({
          factory: platform.peers,
          self: () => this.nodeId,
          sendSignal: (peer, data) => this.send({ t: 'signal', peer, data }),
          lookup: (id) => this.store.get(id),
          log: (text) => this.onEvent(text),
        })
      : null;
    this.fetcher = new ObjectFetcher(this.objects, this.links, (m) => this.send(m));
    this.fetcher.onEvent = (text) => this.onEvent(text);
    this.local = new LocalScheduler(
      platform.spawnExecutor,
      (id) => this.fns.get(id),
      (ex, m) => this.onExecutor(ex, m),
      (ex, why) => this.onExecutorExit(ex, why),
      (t) => {
        this.send({ t: 'started', taskId: t.spec.taskId, attempt: t.spec.attempt, ex: t.executor?.index });
        this.armTimeout(t);
      },
      Math.max(1, opts.cpus),
      () => ({ k: 'config', config: { inlineMax: this.inlineMax, nodeName: this.opts.name, nodeId: this.nodeId } }),
    );
    this.envCache = platform.envCache ?? new EnvCache(platform.envTier);
    this.envCache.fetch = (id) => this.resolve(id);
    this.envCache.log = (text) => this.onEvent(text);
    const side = opts.kind === 'browser' ? 'b' : 'e';
    this.local.envOf = (f) => (f.env ? { decls: f.env, side, bytes: (h) => this.envCache.bytes(h) } : undefined);
    this.paused = this.local.paused = !!opts.paused;
    this.local.cpuShare = opts.cpuShare ?? 1;
    const every =
      platform.every ??
      ((ms: number, fn: () => void) => {
        const h = setInterval(fn, ms);
        return () => clearInterval(h);
      });
    let closedResolve!: (why: string) => void;
    this.closedPromise = new Promise((r) => (closedResolve = r));
    this.ready = new Promise((resolve, reject) => {
      this.ws.onopen = () => {
        this.send({
          t: 'hello',
          role: 'node',
          version: PROTOCOL_VERSION,
          token: opts.joinToken,
          node: {
            kind: opts.kind,
            name: opts.name,
            resources: { ...(opts.resources ?? {}), cpu: this.paused ? 0 : this.local.count },
            storeBytes: opts.storeBytes,
          },
        });
        this.outbox.flush();
      };
      this.ws.onerror = () => {};
      this.ws.onclose = (ev) => {
        const why = `connection closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`;
        reject(new TabmeshError('CLOSED', why));
        this.shutdown(why);
        closedResolve(why);
      };
      this.ws.onmessage = (ev) => {
        let msgs: Msg[];
        try {
          msgs = decodeFrame(toBytes(ev.data));
        } catch (e) {
          this.log(`bad frame from the coordinator: ${(e as Error).message}`);
          return;
        }
        for (const m of msgs) {
          if (m.t === 'welcome') {
            this.nodeId = m.nodeId ?? null;
            this.inlineMax = m.inlineMax;
            for (const ex of this.local.executors)
              ex.handle.post({ k: 'config', config: { inlineMax: this.inlineMax, nodeName: this.opts.name, nodeId: this.nodeId } });
            this.stopHeartbeat = every(m.heartbeatMs, () => this.sendHeartbeat());
            this.onEvent(`joined the mesh as node ${this.nodeId}`);
            if (platform.store) this.announceHeld();
            else if (platform.tier) void this.recoverStored(platform.tier);
            resolve();
            continue;
          }
          const h = handlers[m.t] as ((n: NodeRuntime, m: Msg) => void) | null;
          if (h) h(this, m);
        }
      };
    });
  }

  send(m: Msg): void {
    if (!this.closed) this.outbox.push(m);
  }

  log(text: string): void {
    this.onEvent(text);
  }

  private sendHeartbeat(): void {
    const beat = {
      t: 'heartbeat' as const,
      running: this.local.running,
      queued: this.local.queued,
      storeBytes: this.store.memoryBytes + this.store.spilledBytes,
    };
    // An unchanged beat is skipped every other time (issue 14: 10,000 idle nodes): the coordinator
    // counts any frame as a sign of life and still waits deadAfterMs (5 beats by default) of silence.
    const same =
      this.lastBeat && beat.running === this.lastBeat.running && beat.queued === this.lastBeat.queued && beat.storeBytes === this.lastBeat.storeBytes;
    if (same && !this.skippedBeat) {
      this.skippedBeat = true;
      return;
    }
    this.skippedBeat = false;
    this.lastBeat = beat;
    this.send(beat);
  }

  private lastBeat: MsgOf<'heartbeat'> | null = null;
  private skippedBeat = false;

  // -- tasks from the coordinator ------------------------------------------

  onAssign(m: MsgOf<'assign'>): void {
    if (m.fn) this.fns.set(m.fn.fnId, m.fn);
    if (this.paused && !('actor' in m.spec && m.spec.actor)) {
      // Assigned before the coordinator heard that we paused.
      this.send({ t: 'handBack', tasks: [{ taskId: m.spec.taskId, attempt: m.spec.attempt }] });
      return;
    }
    const inline = new Map<ObjectId, Uint8Array>();
    for (const x of m.inline) {
      inline.set(x.id, x.v);
      this.inlineBytes.in += x.v.byteLength;
    }
    for (const a of m.spec.args) if (a.v) this.inlineBytes.in += a.v.byteLength;
    this.admit(m.spec, inline);
  }

  /** Takes a task to run here: resolves its ref arguments, then queues it. */
  private admit(spec: LocalTask['spec'], inline?: Map<ObjectId, Uint8Array>): void {
    if (this.tasks.has(spec.taskId)) return;
    const t: LocalTask = { spec, args: [], missing: 0, state: 'resolving', executor: null, blocked: false, holds: [], timer: null };
    this.tasks.set(spec.taskId, t);
    const actor = spec.actor?.kind === 'call' ? this.actors.get(spec.actor.id) : undefined;
    if (spec.actor?.kind === 'call') {
      if (!actor) return this.endTask(t, { failure: actorDied(spec, 'the actor does not live on this node') });
      actor.calls.push(t); // arrival order is call order
    }
    // A function with a runtime env (issue 16): its artifacts are here before its first task runs.
    const env = spec.actor?.kind === 'call' ? undefined : this.fns.get(spec.fnId)?.env;
    const side = this.opts.kind === 'browser' ? 'b' : 'e';
    if (env && !this.envCache.ready(env, side)) {
      t.missing++;
      this.envCache.ensure(env, side).then(
        () => {
          if (t.state === 'resolving' && --t.missing === 0) this.argsReady(t);
        },
        (e: Error) => {
          if (t.state === 'resolving') this.endTask(t, { failure: { ...failureOf('TASK_ERROR', spec.taskId, spec.name, e), name: e.name } });
        },
      );
    }
    for (let i = 0; i < spec.args.length; i++) {
      const a = spec.args[i];
      if (a.v) {
        t.args.push(a.v);
        continue;
      }
      const v = inline?.get(a.r) ?? this.store.getSync(a.r);
      if (v) {
        t.args.push(v);
        continue;
      }
      t.args.push(null);
      t.missing++;
      const idx = i;
      const ref = a.r;
      this.resolve(ref).then(
        (f) => {
          if (t.state !== 'resolving') return;
          if (f.failure) return this.endTask(t, { failure: f.failure });
          t.args[idx] = f.bytes;
          if (--t.missing === 0) this.argsReady(t);
        },
        (e: unknown) => {
          // The node is closing (its tasks go back to the coordinator's queue), or its store failed to read.
          if (t.state === 'resolving' && !this.closed) this.endTask(t, { failure: failureOf('OBJECT_LOST', ref, '', e) });
        },
      );
    }
    if (t.missing === 0) this.argsReady(t);
  }

  private argsReady(t: LocalTask): void {
    if (t.spec.actor?.kind === 'call') {
      t.state = 'ready';
      this.pumpActor(t.spec.actor.id);
    } else this.local.enqueue(t);
  }

  /** Hands an actor its calls in order: a call waits for the ones before it to have their arguments. */
  private pumpActor(id: string): void {
    const a = this.actors.get(id);
    if (!a) return;
    let n = 0;
    const batch: LocalTask[] = [];
    while (n < a.calls.length) {
      const head = a.calls[n];
      if (head.state !== 'ended') {
        if (head.state !== 'ready') break;
        batch.push(head);
      }
      n++;
    }
    if (n > 0) a.calls.splice(0, n);
    if (batch.length) this.local.dispatchCalls(a.host.executor!, batch);
  }

  /** The actor is gone (killed, or its executor died): its calls fail with ActorDiedError. */
  destroyActor(id: string, why: string): void {
    const a = this.actors.get(id);
    if (!a) return;
    this.actors.delete(id);
    const ex = a.host.executor;
    const failure = actorDied(a.host.spec, why);
    for (const c of a.calls) this.endTask(c, { failure });
    if (ex) {
      for (const t of [...ex.tasks]) if (t.actorCall && t.spec.actor?.id === id) this.endTask(t, { failure });
      this.local.unkeepActor(a.host);
      // Stop whatever the instance is doing: a fresh executor takes its place.
      const orphans = this.local.restart(ex);
      for (const o of orphans) {
        o.executor = null;
        o.blocked = false;
        if (o.actorCall) this.endTask(o, { failure });
        else if (this.isActorHost(o)) this.destroyActor(o.spec.taskId, `executor restarted: ${why}`);
        else this.local.enqueue(o, true);
      }
    }
    a.host.state = 'ended';
    this.tasks.delete(a.host.spec.taskId);
    if (a.host.holds.length) this.send({ t: 'release', ids: a.host.holds });
    this.onEvent(`actor ${a.host.spec.name} ${id.slice(0, 8)} stopped: ${why}`);
  }

  private isActorHost(t: LocalTask): boolean {
    return t.spec.actor?.kind === 'create' && this.actors.get(t.spec.taskId)?.host === t;
  }

  onActorInfo(m: MsgOf<'actorInfo'>): void {
    const f = this.lookups.get(m.x);
    if (!f) return;
    this.lookups.delete(m.x);
    f(m);
  }

  /** The bytes of an object: from the store, inline, or fetched (and kept as a secondary copy). */
  resolve(id: ObjectId): Promise<Fetched> {
    const have = this.store.getSync(id);
    if (have) return Promise.resolve({ bytes: have });
    let p = this.fetching.get(id);
    if (p) return p;
    p = this.fetchObject(id).finally(() => this.fetching.delete(id));
    this.fetching.set(id, p);
    return p;
  }

  private async fetchObject(id: ObjectId): Promise<Fetched> {
    const stored = await this.store.get(id);
    if (stored) return { bytes: stored };
    for (let attempt = 0; ; attempt++) {
      const info = await this.objects.whenReady(id);
      if (info.failure) return { failure: info.failure };
      if (info.v) {
        this.inlineBytes.in += info.v.byteLength;
        return { bytes: info.v };
      }
      try {
        // A peer link first, else the relay; the hash is checked either way.
        const { bytes, hash } = await this.fetcher.fetch(id, info);
        this.store.put(id, bytes, { hash, primary: false });
        this.send({ t: 'stored', id, size: bytes.byteLength, hash });
        return { bytes };
      } catch (e) {
        if (attempt >= FETCH_ATTEMPTS) return { failure: failureOf('OBJECT_LOST', id, '', e) };
        // Its holder may be gone and the object being rebuilt: ask again when it is ready.
        this.objects.invalidate(id);
        await sleepBackoff(BACKOFF.refetch, attempt);
      }
    }
  }

  cancel(taskId: TaskId, force: boolean): void {
    const t = this.tasks.get(taskId);
    if (!t) return;
    const failure: Failure = {
      ...failureOf('TASK_CANCELLED', taskId, t.spec.name, new Error(`task ${t.spec.name} was cancelled`)),
      name: 'TaskCancelledError',
    };
    if (t.state === 'resolving' || t.state === 'ready') {
      this.local.remove(t);
      this.endTask(t, { failure });
    } else if (t.state === 'running') {
      if (force) this.killExecutor(t.executor!, t, failure);
      else t.executor!.handle.post({ k: 'cancel', taskId });
    }
  }

  /** Terminates an executor: `target` fails, the other tasks on it run again. */
  private killExecutor(ex: Executor, target: LocalTask, failure: Failure): void {
    const orphans = this.local.restart(ex);
    this.actorsLost(orphans, `its executor was restarted: ${failure.message}`);
    for (const o of orphans) {
      o.executor = null;
      o.blocked = false;
      if (o === target) this.endTask(o, { failure });
      else if (o.actorCall) this.endTask(o, { failure: actorDied(o.spec, `its executor was restarted: ${failure.message}`) });
      else if (o.state !== 'ended') {
        clearTimeout(o.timer);
        this.local.enqueue(o, true);
      }
    }
    this.onEvent(`executor ${ex.index} restarted: ${failure.message}`);
  }

  /**
   * Actors among `orphans` (tasks of an executor that is gone) died with it.
   * The coordinator hears of each first, so that it restarts the actor (and
   * retries its running calls) before the calls' own failures arrive, stale.
   */
  private actorsLost(orphans: LocalTask[], cause: string): void {
    for (const o of orphans) {
      if (!this.isActorHost(o)) continue;
      this.send({ t: 'failed', taskId: o.spec.taskId, attempt: o.spec.attempt, failure: actorDied(o.spec, cause) });
      o.executor = null;
      this.destroyActor(o.spec.taskId, cause);
    }
  }

  /** An executor died (the worker crashed or exited): a system failure, retried by the coordinator within maxRetries. */
  private onExecutorExit(ex: Executor, why: string): void {
    if (this.closed || !this.local.owns(ex)) return;
    const orphans = this.local.restart(ex);
    this.actorsLost(orphans, `its executor crashed: ${why}`);
    for (const o of orphans) {
      o.executor = null;
      o.blocked = false;
      if (o.actorCall) this.endTask(o, { failure: actorDied(o.spec, `its executor crashed while running this call: ${why}`) });
      else if (o.spec.actor?.kind === 'create') {
        this.endTask(o, { failure: actorDied(o.spec, `its executor crashed while running the constructor: ${why}`) });
      } else {
        this.endTask(o, {
          failure: {
            ...failureOf('WORKER_CRASHED', o.spec.taskId, o.spec.name, new Error(`the executor running task ${o.spec.name} crashed: ${why}`)),
            name: 'WorkerCrashedError',
          },
        });
      }
    }
  }

  // -- executor messages ----------------------------------------------------

  private onExecutor(ex: Executor, m: FromExecutor): void {
    switch (m.k) {
      case 'done':
        for (const r of m.results) {
          const t = this.tasks.get(r.taskId);
          if (!t || t.executor !== ex || t.spec.attempt !== r.attempt) continue;
          this.local.recordRun(t.spec.fnId, r.ms);
          if (r.ok) this.endTask(t, { returns: r.returns, ms: r.ms });
          else this.endTask(t, { failure: r.failure, ms: r.ms });
        }
        this.local.pump();
        return;
      case 'block': {
        const t = this.tasks.get(m.taskId);
        // An actor holds its slot whatever its methods wait for.
        if (!t || t.executor !== ex || this.isActorHost(t)) return;
        this.local.setBlocked(t, m.blocked);
        this.send({ t: 'blocked', taskId: t.spec.taskId, attempt: t.spec.attempt, blocked: m.blocked });
        return;
      }
      case 'log':
        this.send({ t: 'log', taskId: m.taskId, level: m.level, text: m.text });
        return;
      case 'checkpoint':
        if (this.actors.get(m.actorId)?.host.executor === ex) this.send({ t: 'actorCheckpoint', id: m.actorId, after: m.after, state: m.state });
        return;
      case 'call': {
        const t = this.tasks.get(m.taskId);
        if (!t || t.executor !== ex) return;
        this.onCall(ex, t, m.id, m.call);
        return;
      }
    }
  }

  private reply(ex: Executor, id: number, p: Promise<unknown>): void {
    p.then(
      (value) => ex.handle.post({ k: 'reply', id, ok: true, value: postable(value) }),
      (e: Error) => ex.handle.post({ k: 'reply', id, ok: false, error: { code: (e as TabmeshError).code ?? 'ERROR', message: e.message } }),
    );
  }

  private onCall(ex: Executor, t: LocalTask, id: number, c: Call): void {
    switch (c.op) {
      case 'fn':
        this.fns.set(c.f.fnId, c.f);
        if (!this.fnsAnnounced.has(c.f.fnId)) {
          this.fnsAnnounced.add(c.f.fnId);
          this.send({ t: 'fn', f: c.f });
        }
        return;
      case 'submit': {
        const spec = c.spec;
        for (let i = 0; i < spec.numReturns; i++) t.holds.push(returnObjectId(spec.taskId, i));
        // Bottom-up: run it here when a slot is free and its arguments are here.
        const local =
          this.local.hasFreeSlot() &&
          spec.scheduling === undefined &&
          spec.actor === undefined && // actors are placed and their calls ordered by the coordinator
          Object.keys(spec.resources).every((r) => r === 'cpu' && spec.resources.cpu <= 1) &&
          spec.args.every((a) => a.v !== undefined || this.store.has(a.r));
        this.send({ t: 'submit', spec, local });
        if (local) this.admit(spec);
        return;
      }
      case 'put': {
        t.holds.push(c.id);
        const size = c.bytes.byteLength;
        if (size <= this.inlineMax) {
          this.inlineBytes.out += size;
          this.send({ t: 'put', id: c.id, v: c.bytes, size, refs: c.refs });
        } else {
          const hash = contentHash(c.bytes);
          this.store.put(c.id, c.bytes, { hash, primary: true });
          this.send({ t: 'put', id: c.id, size, hash, refs: c.refs });
        }
        return;
      }
      case 'get': {
        const all = allUntilFailure(c.ids.map((oid) => this.resolve(oid)));
        const tm = c.timeoutMs;
        this.reply(ex, id, tm === undefined ? all : withTimeout(all, tm, () => new GetTimeoutError(tm, c.ids.length)));
        return;
      }
      case 'wait': {
        const p = waitFor(
          c.ids,
          c.numReturns,
          c.timeoutMs,
          (oid) => (this.store.has(oid) ? Promise.resolve() : this.objects.whenReady(oid).then(() => {})),
          () => this.objects.sync(),
        ).then((s) => [...s]);
        this.reply(ex, id, p);
        return;
      }
      case 'cancel':
        this.send({ t: 'cancel', id: c.id, force: c.force });
        return;
      case 'killActor':
        this.send({ t: 'killActor', id: c.id as TaskId });
        return;
      case 'getActor': {
        const x = this.nextLookup++;
        const p = new Promise<{ id: string; className: string }>((resolve, reject) => {
          this.lookups.set(x, (m) => {
            if (m.id && m.className) {
              t.holds.push(returnObjectId(m.id, 0)); // the coordinator holds it for this node
              resolve({ id: m.id, className: m.className });
            } else reject(new TabmeshError('ACTOR_DIED', m.error ?? 'no such actor'));
          });
        });
        this.send({ t: 'getActor', name: c.name, x });
        this.reply(ex, id, p);
        return;
      }
    }
  }

  /** A task ended here: report it, then give up what it held. */
  private endTask(t: LocalTask, r: { returns?: { bytes: Uint8Array; refs: ObjectId[] }[]; failure?: Failure; ms?: number }): void {
    if (t.state === 'ended') return;
    if (r.returns && t.spec.actor?.kind === 'create' && t.executor) {
      // The actor is up: it keeps its executor, and its task record serves its calls.
      this.local.keepForActor(t);
      clearTimeout(t.timer);
      this.actors.set(t.spec.taskId, { host: t, calls: [] });
      this.tasksRun++;
      this.send({ t: 'done', taskId: t.spec.taskId, attempt: t.spec.attempt, ms: r.ms ?? 0, results: [{ v: r.returns[0].bytes, refs: [] }] });
      this.onEvent(`actor ${t.spec.name} ${t.spec.taskId.slice(0, 8)} started`);
      return;
    }
    t.state = 'ended';
    this.local.release(t);
    clearTimeout(t.timer);
    this.tasks.delete(t.spec.taskId);
    const s = t.spec;
    if (r.returns) {
      const results: TaskResult[] = [];
      for (let i = 0; i < r.returns.length; i++) {
        const { bytes, refs } = r.returns[i];
        if (bytes.byteLength <= this.inlineMax) {
          results.push({ v: bytes, refs });
          this.inlineBytes.out += bytes.byteLength;
        } else {
          const hash = contentHash(bytes);
          this.store.put(returnObjectId(s.taskId, i), bytes, { hash, primary: true });
          results.push({ size: bytes.byteLength, hash, refs });
        }
      }
      this.tasksRun++;
      this.send({ t: 'done', taskId: s.taskId, attempt: s.attempt, ms: r.ms ?? 0, results });
    } else {
      this.send({ t: 'failed', taskId: s.taskId, attempt: s.attempt, failure: r.failure! });
    }
    this.onTaskEnd(s.name, r.returns ? 'ok' : r.failure?.code === 'TASK_CANCELLED' ? 'cancelled' : 'failed');
    if (t.holds.length) this.send({ t: 'release', ids: t.holds });
  }

  // -- a volunteer's controls (issue 3) -----------------------------------------

  /** Paused: nothing new starts here; tasks not started yet go back to the coordinator. Running ones finish. */
  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = this.local.paused = paused;
    const back: { taskId: TaskId; attempt: number }[] = [];
    if (paused) {
      for (const t of this.tasks.values()) {
        if (t.state !== 'resolving' && t.state !== 'ready') continue;
        if ('actor' in t.spec && t.spec.actor) continue; // an actor's calls stay with it
        t.state = 'ended';
        back.push({ taskId: t.spec.taskId, attempt: t.spec.attempt });
      }
      for (const b of back) this.tasks.delete(b.taskId);
      if (back.length) this.send({ t: 'handBack', tasks: back });
    }
    this.sendCapacity();
    this.local.pump();
    this.onEvent(paused ? `paused; ${back.length} task(s) not started went back to the coordinator` : 'resumed');
  }

  /** Changes the number of executors; surplus ones finish their tasks first. */
  setCpus(n: number): void {
    this.local.resize(n);
    this.sendCapacity();
    this.onEvent(`now ${this.local.count} executor(s)`);
  }

  setCpuShare(share: number): void {
    this.local.cpuShare = Math.min(1, Math.max(0.05, share));
  }

  private sendCapacity(): void {
    this.send({ t: 'capacity', cpus: this.local.count, paused: this.paused });
  }

  /** A reconnected node still holds what its store holds: the coordinator lists it as their location again. */
  private announceHeld(): void {
    const all = this.store.list();
    for (let i = 0; i < all.length; i += 1000) {
      this.send({ t: 'holding', objects: all.slice(i, i + 1000).map((o) => ({ id: o.id, size: o.size, hash: o.hash })) });
    }
    if (all.length) this.onEvent(`re-announced ${all.length} held object(s)`);
  }

  /**
   * After a restart (a reloaded tab): takes back what the tier still holds and
   * tells the coordinator, which lists this node as their location again and
   * answers `free` for what nobody needs any more.
   */
  private async recoverStored(tier: SpillTier): Promise<void> {
    let ids: ObjectId[];
    try {
      ids = await tier.list();
    } catch (e) {
      return this.log(`could not list the stored objects: ${(e as Error).message}`);
    }
    let batch: MsgOf<'holding'>['objects'] = [];
    let count = 0;
    let bytes = 0;
    for (const id of ids) {
      if (this.closed) return;
      if (this.store.has(id)) continue;
      const v = await tier.get(id).catch(() => undefined);
      if (!v) continue;
      const hash = contentHash(v);
      this.store.put(id, v, { hash, primary: true });
      await this.store.idle(); // one object in memory at a time
      batch.push({ id, size: v.byteLength, hash });
      count++;
      bytes += v.byteLength;
      if (batch.length >= 1000) {
        this.send({ t: 'holding', objects: batch });
        batch = [];
      }
    }
    if (batch.length) this.send({ t: 'holding', objects: batch });
    if (count) this.onEvent(`re-announced ${count} stored object(s) (${bytes} bytes)`);
  }

  /** Called when a task is dispatched: arm its timeout. */
  armTimeout(t: LocalTask): void {
    if (t.spec.timeoutMs <= 0) return;
    t.timer = setTimeout(() => {
      if (t.state !== 'running' || !t.executor) return;
      this.killExecutor(t.executor, t, {
        ...failureOf('TASK_TIMEOUT', t.spec.taskId, t.spec.name, new Error(`task ${t.spec.name} ran longer than its timeoutMs of ${t.spec.timeoutMs} ms`)),
        name: 'TaskTimeoutError',
      });
    }, t.spec.timeoutMs);
  }

  stats(): { running: number; queued: number; tasksRun: number; objects: number; storeBytes: number; bytesIn: number; bytesOut: number } {
    return {
      running: this.local.running,
      queued: this.local.queued,
      tasksRun: this.tasksRun,
      objects: this.store.count,
      storeBytes: this.store.memoryBytes + this.store.spilledBytes,
      // Every object byte moved: inside coordinator messages, through the relay, over peer links.
      bytesIn: this.inlineBytes.in + this.objects.bytesIn + (this.links?.counters.bytesIn ?? 0),
      bytesOut: this.inlineBytes.out + this.objects.bytesOut + (this.links?.counters.bytesOut ?? 0),
    };
  }

  private shutdown(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.stopHeartbeat();
    this.objects.close(new TabmeshError('CLOSED', why));
    this.links?.stop();
    this.local.terminateAll();
  }

  async close(): Promise<void> {
    this.outbox.flush();
    this.shutdown('node closed');
    if (this.ws.readyState === 0 || this.ws.readyState === 1) {
      await new Promise<void>((resolve) => {
        const prev = this.ws.onclose;
        this.ws.onclose = (ev) => {
          prev?.(ev);
          resolve();
        };
        this.ws.close(1000, 'node leaving');
      });
    }
  }
}

/** Transfers of one object tried before its readers get ObjectLostError (the GCS rebuilds it meanwhile when it can). */
const FETCH_ATTEMPTS = 12;

function actorDied(spec: TaskSpec, why: string): Failure {
  return {
    ...failureOf('ACTOR_DIED', spec.taskId, spec.name, new Error(`actor ${spec.actor?.id.slice(0, 12) ?? ''} died: ${why}`)),
    name: 'ActorDiedError',
  };
}

/** A call's reply as posted to the executor: fetched bytes shared or copied alone (see forPosting). */
function postable(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((f: unknown) =>
    f && typeof f === 'object' && (f as Fetched).bytes instanceof Uint8Array ? { ...(f as Fetched), bytes: forPosting((f as Fetched).bytes!) } : f,
  );
}
