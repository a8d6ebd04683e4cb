// A driver's connection to the coordinator: the MeshCore of a Node script or
// a page. Objects it puts that are too big to travel inline stay with it and
// are served through the relay when a node needs them.
import type { IceConfig } from '../transfer/raw-peer.js';
import { artifactObjectId, returnObjectId, rootTaskId, taskOfObject, type JobId, type ObjectId, type TaskId } from '../ids.js';
import type { EncodedValue } from '../codec.js';
import { BACKOFF, backoffDelay, sleepBackoff } from '../backoff.js';
import { ConnectError, errorFromCode, GetTimeoutError, TabmeshError } from '../errors.js';
import { decodeFrame, encodeFrame, Outbox } from '../protocol/frame.js';
import { PROTOCOL_VERSION, type FunctionSource, type Msg, type MsgOf, type TaskSpec } from '../protocol/messages.js';
import { contentHashAsync } from '../hash.js';
import { expose, recycle } from '../bytes.js';
import type { ClusterInfo, Fetched, MeshCore } from './core.js';
import { ObjectClient, type ReadyInfo } from './object-client.js';
import { defaultWebSocket, toBytes, wsUrl, type WebSocketLike } from './socket.js';
import { connectFailure, parseCoordinatorUrl, tokenRefused } from './connect-help.js';
import { OutputDeduper } from './output.js';
import { allUntilFailure, waitFor, withTimeout } from './gather.js';
import { ObjectFetcher } from '../transfer/fetcher.js';
import { PeerLinks } from '../transfer/links.js';
import type { PeerFactory } from '../transfer/raw-peer.js';
import type { RuntimeContext } from './types.js';
import type { ConnectOptions } from './connect-options.js';
import { handlers } from './driver-handlers.js';

export type { ConnectOptions } from './connect-options.js';

/** Handles named per resume message (well under the protocol's cap on ids in one message). */
const RESUME_IDS = 50_000;

export class DriverCore implements MeshCore {
  jobId!: JobId;
  parentTask!: TaskId;
  readonly generation = 0;
  context(): RuntimeContext {
    return { jobId: this.jobId, taskId: null, nodeId: null, actorId: null, attempt: 0 };
  }
  inlineMax = 64 * 1024;
  /** STUN/TURN servers for peer links, as the coordinator's welcome gave them (issue 17). */
  private ice: IceConfig | undefined;
  readonly tracksHandles = true;
  readonly objects: ObjectClient;
  links: PeerLinks | null = null;
  fetcher: ObjectFetcher;
  /** Large puts of this driver, served on request (ARCHITECTURE: a driver that still has the value can upload it again). */
  readonly ownLarge = new Map<ObjectId, Uint8Array>();
  private readonly outbox: Outbox;
  /** Large puts being hashed, and the messages waiting behind them. */
  private hashing = 0;
  private deferred: Msg[] = [];
  private allHashed: Promise<void> = Promise.resolve();
  private submitIndex = 0;
  private putIndex = 0;
  private closing = false;
  private lastError: Error | null = null;
  /** Prints tasks' console output, a line many tasks print alike only once per window. */
  readonly output = new OutputDeduper();
  onLog: (m: MsgOf<'output'>) => void = (m) => this.output.push(m);
  /** Why work waits (the coordinator sends each once per job and kind of task). */
  onWarning: (code: MsgOf<'warn'>['code'], message: string) => void = (_code, message) => console.warn(`tabmesh: ${message}`);

  private ws: WebSocketLike;
  private opts!: ConnectOptions & { url: string };
  private secret = '';
  /** connected: frames go out; reconnecting: dropped (the state below is sent again on resume). */
  private state: 'connecting' | 'connected' | 'reconnecting' | 'closed' = 'connecting';
  // What the driver must tell a coordinator again when it resumes its job.
  private readonly fns = new Map<string, FunctionSource>();
  private readonly held = new Set<ObjectId>();
  private readonly specs = new Map<TaskId, { spec: TaskSpec; live: number }>();
  private readonly smallPuts = new Map<ObjectId, { v: Uint8Array; refs: ObjectId[] }>();
  private readonly largeMeta = new Map<ObjectId, { hash: string; refs: ObjectId[] }>();
  /** Runtime env artifacts the job declared, by content hash (issue 16): put only when the coordinator asks. */
  private readonly artifacts = new Map<string, Uint8Array>();
  /** Artifacts this driver put because the mesh held no copy. */
  artifactUploads = 0;

  private constructor(ws: WebSocketLike) {
    this.ws = ws;
    this.outbox = new Outbox((frame) => {
      if (this.state === 'connected' && this.ws.readyState === 1) this.ws.send(frame);
    });
    this.objects = new ObjectClient(
      (m) => this.push(m),
      () => this.ws.bufferedAmount,
    );
    this.fetcher = new ObjectFetcher(this.objects, null, (m) => this.push(m));
  }

  private usePeers(factory: PeerFactory): void {
    this.links = new PeerLinks({
      factory,
      self: () => this.jobId ?? null,
      ice: () => this.ice,
      sendSignal: (peer, data) => this.push({ t: 'signal', peer, data }),
      lookup: (id) => Promise.resolve(this.ownLarge.get(id)),
    });
    this.fetcher = new ObjectFetcher(this.objects, this.links, (m) => this.push(m));
  }

  static async connect(given: ConnectOptions): Promise<DriverCore> {
    const list = (Array.isArray(given.url) ? given.url : given.url.split(',')).map((u) => u.trim()).filter((u) => u !== '');
    if (list.length === 0) throw new TabmeshError('BAD_ARGUMENT', 'connect({ url }) needs a coordinator URL');
    const urls = list.map((u) => parseCoordinatorUrl(u));
    for (let i = 0; ; i++) {
      const u = urls[i];
      try {
        const core = await DriverCore.connectTo({ ...given, url: u.base, token: given.token ?? u.token });
        core.urls = urls.map((x) => x.base);
        core.urlAt = i;
        return core;
      } catch (err) {
        // Another coordinator of the mesh may answer; a refusal (a wrong token) would be the same there.
        if (i === urls.length - 1 || !(err instanceof ConnectError) || err.code === 'NOT_A_COORDINATOR') throw err;
      }
    }
  }

  /** The coordinators this driver may use (one mesh), and which one it uses now. */
  private urls: string[] = [];
  private urlAt = 0;

  private static connectTo(opts: ConnectOptions & { url: string }): Promise<DriverCore> {
    const Ctor = opts.WebSocket ?? defaultWebSocket();
    const ws = new Ctor(wsUrl(opts.url));
    ws.binaryType = 'arraybuffer';
    const core = new DriverCore(ws);
    core.opts = opts;
    if (opts.onOutput) core.onLog = opts.onOutput;
    if (opts.onWarning) core.onWarning = opts.onWarning;
    if (opts.peers) core.usePeers(opts.peers);
    return new Promise((resolve, reject) => {
      const ms = opts.connectTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        reject(
          new ConnectError(
            'UNREACHABLE',
            opts.url,
            `no answer from a tabmesh coordinator at ${opts.url} within ${ms} ms: is it running, and is the URL right?`,
          ),
        );
        ws.close();
      }, ms);
      core.attach(ws, (err) => {
        clearTimeout(timer);
        if (err) reject(core.explainRefusal(err));
        else resolve(core);
      });
    });
  }

  /** A first connection failed: one line that names the URL and what to do. */
  private explainRefusal(err: Error): Error {
    if (err instanceof ConnectError) return err;
    if (err instanceof TabmeshError && err.code === 'UNAUTHORIZED') return tokenRefused(this.opts.url, !!this.opts.token);
    return err;
  }

  /**
   * Wires a socket: hello (or resume) once open, then welcome. `done` hears
   * whether the handshake worked; later closes start a reconnect.
   */
  private attach(ws: WebSocketLike, done: (err: Error | null) => void): void {
    let welcomed = false;
    ws.onopen = () => {
      opened = true;
      // The handles ride in the hello (the rest, past one message's worth, follow as borrows).
      const resume = this.jobId ? { jobId: this.jobId, secret: this.secret, held: [...this.held].slice(0, RESUME_IDS) } : undefined;
      ws.send(
        encodeFrame([
          {
            t: 'hello',
            role: 'driver',
            version: PROTOCOL_VERSION,
            token: this.opts.token,
            resume,
            peers: this.links ? undefined : false,
            namespace: this.opts.namespace,
          },
        ]),
      );
    };
    // What the socket said when it failed (the ws package names ECONNREFUSED and HTTP statuses; browsers say nothing).
    let detail = '';
    let opened = false;
    ws.onerror = (ev) => {
      const e = ev as { message?: unknown; error?: { message?: unknown } } | null;
      const m = e?.error?.message ?? e?.message;
      detail = typeof m === 'string' ? m : '';
    };
    ws.onclose = (ev) => {
      if (!welcomed) {
        if (this.lastError) return done(this.lastError);
        if (!opened) return done(connectFailure(this.opts.url, detail));
        return done(
          new ConnectError(
            'NOT_A_COORDINATOR',
            this.opts.url,
            `${this.opts.url} closed the connection before welcoming this driver (${ev.code} ${ev.reason}): is it a tabmesh coordinator of this version?`,
          ),
        );
      }
      this.dropped(this.lastError ?? new TabmeshError('CLOSED', `connection to the coordinator closed (${ev.code} ${ev.reason})`));
    };
    ws.onmessage = (ev) => {
      let msgs: Msg[];
      try {
        msgs = decodeFrame(toBytes(ev.data));
      } catch (e) {
        ws.close(1002, 'bad frame');
        return done(
          new ConnectError('NOT_A_COORDINATOR', this.opts.url, `${this.opts.url} is not a tabmesh coordinator: its /ws sent ${(e as Error).message}`),
        );
      }
      for (const m of msgs) {
        if (m.t === 'welcome') {
          const resumed = !!this.jobId;
          this.jobId = m.jobId!;
          this.parentTask = rootTaskId(this.jobId);
          this.inlineMax = m.inlineMax;
          this.ice = m.ice;
          this.secret = m.secret ?? '';
          this.state = 'connected';
          this.lastError = null;
          welcomed = true;
          ws.onmessage = (e) => this.onFrame(e.data);
          if (resumed) this.sendState();
          done(null);
        } else if (m.t === 'error') {
          // Said once, by the promise connect() returns (not printed as well).
          this.lastError = errorFromCode(m.code, m.message);
        }
      }
    };
  }

  /** The connection dropped: unless we were closing, reconnect with capped exponential backoff. */
  private dropped(err: Error): void {
    if (this.closing || this.state === 'closed') {
      this.state = 'closed';
      this.objects.close(err);
      this.links?.stop();
      return;
    }
    this.state = 'reconnecting';
    this.objects.failTransfers(err);
    for (const p of this.lookups.values()) p.reject(err);
    this.lookups.clear();
    const giveUpAt = Date.now() + (this.opts.reconnectTimeoutMs ?? 60_000);
    const attempt = (n: number) => {
      if (this.closing) return;
      if (Date.now() > giveUpAt) {
        this.state = 'closed';
        this.objects.close(new TabmeshError('CLOSED', `lost the coordinator and could not reconnect: ${err.message}`));
        this.links?.stop();
        return;
      }
      const Ctor = this.opts.WebSocket ?? defaultWebSocket();
      // The next coordinator of the list first: the one that dropped us may be gone.
      if (this.urls.length > 1) {
        this.urlAt = (this.urlAt + 1) % this.urls.length;
        this.opts = { ...this.opts, url: this.urls[this.urlAt] };
      }
      const ws = new Ctor(wsUrl(this.opts.url));
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      this.attach(ws, (e) => {
        if (e) setTimeout(() => attempt(n + 1), backoffDelay(BACKOFF.driverReconnect, n + 1));
      });
    };
    setTimeout(() => attempt(0), backoffDelay(BACKOFF.driverReconnect, 0));
  }

  /** After a resume: functions, puts, unfinished submissions and subscriptions, again (the coordinator dedups). */
  private sendState(): void {
    const rest = [...this.held].slice(RESUME_IDS);
    for (let i = 0; i < rest.length; i += RESUME_IDS) this.outbox.push({ t: 'borrow', ids: rest.slice(i, i + RESUME_IDS) });
    for (const f of this.fns.values()) this.outbox.push({ t: 'fn', f });
    for (const [id, p] of this.smallPuts) this.outbox.push({ t: 'put', id, v: p.v, size: p.v.byteLength, refs: p.refs });
    for (const [id, p] of this.largeMeta) {
      const bytes = this.ownLarge.get(id);
      if (bytes && p.hash) this.outbox.push({ t: 'put', id, size: bytes.byteLength, hash: p.hash, refs: p.refs });
    }
    const arts = [...this.artifacts].map(([hash, b]) => ({ hash, size: b.byteLength }));
    for (let i = 0; i < arts.length; i += 64) this.outbox.push({ t: 'artifact', arts: arts.slice(i, i + 64) });
    for (const { spec } of this.specs.values()) {
      // An actor's constructor or method whose outputs already arrived is not sent again: a coordinator that lost
      // its row (killed before its GCS flush) would run it a second time on the live actor, which must see it once.
      if (spec.actor && this.outputsArrived(spec)) continue;
      this.outbox.push({ t: 'submit', spec });
    }
    const waiting = this.objects.waitingIds();
    if (waiting.length) this.outbox.push({ t: 'subscribe', ids: waiting });
  }

  private outputsArrived(spec: TaskSpec): boolean {
    for (let i = 0; i < spec.numReturns; i++) if (!this.objects.known(returnObjectId(spec.taskId, i))) return false;
    return true;
  }

  private onFrame(data: unknown): void {
    let msgs: Msg[];
    try {
      msgs = decodeFrame(toBytes(data));
    } catch (e) {
      console.error('tabmesh: bad frame from the coordinator:', (e as Error).message);
      return;
    }
    for (const m of msgs) {
      const h = handlers[m.t] as ((c: DriverCore, m: Msg) => void) | null;
      if (h) h(this, m);
    }
  }

  onError(m: MsgOf<'error'>): void {
    this.lastError = errorFromCode(m.code, m.message);
    if (!this.closing) console.error(`tabmesh: coordinator error ${m.code}: ${m.message}`);
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
    this.fns.set(f.fnId, f);
    this.push({ t: 'fn', f });
  }

  submit(spec: TaskSpec): void {
    // Kept while its outputs are held: a resumed job submits it again (same ids; the GCS dedups).
    this.specs.set(spec.taskId, { spec, live: spec.numReturns });
    for (let i = 0; i < spec.numReturns; i++) this.held.add(returnObjectId(spec.taskId, i));
    this.push({ t: 'submit', spec });
  }

  put(id: ObjectId, value: EncodedValue): void {
    const size = value.bytes.byteLength;
    this.held.add(id);
    if (size <= this.inlineMax) {
      this.smallPuts.set(id, { v: value.bytes, refs: value.refs });
      this.push({ t: 'put', id, v: value.bytes, refs: value.refs, size });
      this.objects.setReady(id, { v: value.bytes, size });
      return;
    }
    // Ready here at once; the GCS hears of it once its chunks are hashed (in
    // worker threads on Node), and what this driver sends meanwhile waits
    // behind it, in order (issue 17).
    const meta = { hash: '', refs: value.refs };
    this.ownLarge.set(id, value.bytes);
    this.largeMeta.set(id, meta);
    this.objects.setReady(id, { size });
    const m: MsgOf<'put'> = { t: 'put', id, refs: value.refs, size, hash: '' };
    this.deferred.push(m);
    this.hashing++;
    const hashed = contentHashAsync(value.bytes).then(({ hash }) => {
      meta.hash = m.hash = hash;
      if (--this.hashing === 0) {
        const out = this.deferred;
        this.deferred = [];
        for (const d of out) this.outbox.push(d);
      }
    });
    this.allHashed = Promise.all([this.allHashed, hashed]).then(() => {});
  }

  offerArtifact(hash: string, bytes: Uint8Array): void {
    if (this.artifacts.has(hash)) return;
    this.artifacts.set(hash, bytes);
    this.push({ t: 'artifact', arts: [{ hash, size: bytes.byteLength }] });
  }

  /** The mesh holds no copy of an artifact this job declared: put it (its bytes, or a copy served from here). */
  uploadArtifact(hash: string): void {
    const bytes = this.artifacts.get(hash);
    if (!bytes) return;
    this.artifactUploads++;
    const id = artifactObjectId(hash);
    if (bytes.byteLength <= this.inlineMax) return this.push({ t: 'put', id, v: bytes, size: bytes.byteLength, hash, refs: [] });
    this.ownLarge.set(id, bytes);
    this.push({ t: 'put', id, size: bytes.byteLength, hash, refs: [] });
  }

  /** To the coordinator, in order: behind a large put still being hashed. */
  private push(m: Msg): void {
    if (this.hashing > 0) this.deferred.push(m);
    else this.outbox.push(m);
  }

  async fetch(ids: ObjectId[], timeoutMs?: number): Promise<Fetched[]> {
    const work = allUntilFailure(ids.map((id) => this.fetchOne(id)));
    if (timeoutMs === undefined) return work;
    return withTimeout(work, timeoutMs, () => new GetTimeoutError(timeoutMs, ids.filter((id) => !this.objects.known(id)).length));
  }

  private async fetchOne(id: ObjectId): Promise<Fetched> {
    const own = this.ownLarge.get(id);
    if (own) {
      expose(own); // the reader may view it in place
      return { bytes: own };
    }
    for (let attempt = 0; ; attempt++) {
      const info: ReadyInfo = this.objects.known(id) ?? (await this.objects.whenReady(id));
      if (info.failure) return { failure: info.failure };
      if (info.v) return { bytes: info.v };
      try {
        return { bytes: (await this.fetcher.fetch(id, info)).bytes };
      } catch (e) {
        if (attempt >= 12) throw e;
        // Its holder may be gone and the object being rebuilt: ask again when it is ready.
        this.objects.invalidate(id);
        await sleepBackoff(BACKOFF.refetch, attempt);
      }
    }
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

  cancel(id: ObjectId, force: boolean): void {
    this.push({ t: 'cancel', id, force });
  }

  borrow(ids: ObjectId[]): void {
    for (const id of ids) this.held.add(id);
    this.push({ t: 'borrow', ids });
  }

  private lookups = new Map<number, { resolve: (v: { id: string; className: string }) => void; reject: (e: Error) => void }>();
  private nextLookup = 1;

  getActor(name: string, ns?: string): Promise<{ id: string; className: string }> {
    const x = this.nextLookup++;
    return new Promise((resolve, reject) => {
      this.lookups.set(x, { resolve, reject });
      this.push({ t: 'getActor', name, x, ns });
    });
  }

  private asks = new Map<number, (m: MsgOf<'info'>) => void>();

  ask(q: MsgOf<'ask'>['q'], o: { ns?: string; all?: boolean } = {}): Promise<ClusterInfo> {
    const x = this.nextLookup++;
    return new Promise((resolve) => {
      this.asks.set(x, resolve);
      this.push({ t: 'ask', x, q, ns: o.ns, all: o.all });
    });
  }

  onInfo(m: MsgOf<'info'>): void {
    const f = this.asks.get(m.x);
    this.asks.delete(m.x);
    f?.(m);
  }

  onActorInfo(m: MsgOf<'actorInfo'>): void {
    const p = this.lookups.get(m.x);
    if (!p) return;
    this.lookups.delete(m.x);
    if (m.id && m.className) p.resolve({ id: m.id, className: m.className });
    else p.reject(new TabmeshError('ACTOR_DIED', m.error ?? 'no such actor'));
  }

  /** The GCS freed these objects: our copies of large puts among them can go. */
  freed(ids: ObjectId[]): void {
    for (const id of ids) {
      const bytes = this.ownLarge.get(id);
      // Its memory is reused by a later put unless a view of it got out (issue 17).
      if (bytes && this.largeMeta.get(id)?.hash) recycle(bytes);
      this.ownLarge.delete(id);
      this.largeMeta.delete(id);
    }
  }

  killActor(id: string): void {
    this.push({ t: 'killActor', id: id as TaskSpec['taskId'] });
  }

  release(ids: ObjectId[]): void {
    // The bytes of a large put stay until the GCS frees the object: a pending task may still need them.
    for (const id of ids) {
      this.objects.forget(id);
      this.held.delete(id);
      this.smallPuts.delete(id);
      const spec = this.specs.get(taskOfObject(id));
      if (spec && --spec.live <= 0) this.specs.delete(taskOfObject(id));
    }
    this.push({ t: 'release', ids });
  }

  async close(): Promise<void> {
    // What waits behind a put being hashed goes out first.
    if (this.hashing > 0 && this.state === 'connected') await this.allHashed;
    this.closing = true;
    if (this.state === 'reconnecting') {
      this.state = 'closed';
      this.objects.close(new TabmeshError('CLOSED', 'this mesh connection is closed'));
      return Promise.resolve();
    }
    this.links?.stop();
    this.output.flush();
    this.outbox.flush();
    return new Promise((resolve) => {
      if (this.ws.readyState === 3) return resolve();
      const prev = this.ws.onclose;
      this.ws.onclose = (ev) => {
        prev?.(ev);
        resolve();
      };
      this.ws.close(1000, 'driver closed');
    });
  }
}
