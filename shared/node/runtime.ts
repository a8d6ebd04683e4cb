// The node runtime (ARCHITECTURE.md "the boxes"): one per browser tab or edge
// process. It joins the coordinator, runs assigned tasks on its executors,
// schedules nested tasks bottom-up (here when it has a free slot and the
// arguments, else through the coordinator), keeps objects in its store and
// serves them. Platform specifics come in through NodePlatform. This file is
// the session (handshake, frames, heartbeat) and the volunteer's controls; the
// tasks (admission.ts), actors (actor-host.ts), object access
// (object-access.ts) and executors' calls (call-server.ts) live beside it.
import type { IceConfig } from '../transfer/raw-peer.js';
import { ObjectClient } from '../api/object-client.js';
import { defaultWebSocket, frameIn, readBinaryAs, sendChunkFrame, wsUrl, type WebSocketLike } from '../api/socket.js';
import { TabmeshError } from '../errors.js';
import type { NodeId } from '../ids.js';
import { decodeFrame, LATER_MS, Outbox } from '../protocol/frame.js';
import { PROTOCOL_VERSION, type FunctionSource, type Msg } from '../protocol/messages.js';
import { everyOnGrid, Heartbeat, heartbeatIo } from './heartbeat.js';
import { ActorHost } from './actor-host.js';
import { NodeTasks } from './admission.js';
import { CallServer } from './call-server.js';
import { LocalScheduler } from './executors.js';
import { ObjectAccess } from './object-access.js';
import { ObjectStore } from './store.js';
import { ObjectFetcher } from '../transfer/fetcher.js';
import { PeerLinks } from '../transfer/links.js';
import { EnvCache } from './env-cache.js';
import { StartReports } from './start-reports.js';
import { handlers } from './handlers.js';
import type { ActorHostContext, AdmissionContext, CallServerContext, NodeHandlerContext, NodeStats, ObjectAccessContext } from './node-context.js';
import type { NodeOptions, NodePlatform } from './platform.js';
import { DirectTasks } from './direct-tasks.js';
import { NodeGroups } from './groups.js';
import { AnnouncedFunctions, forgetSources } from './announced-functions.js';

export type { NodeOptions, NodePlatform } from './platform.js';

export class NodeRuntime implements ActorHostContext, AdmissionContext, CallServerContext, ObjectAccessContext, NodeHandlerContext {
  nodeId: NodeId | null = null;
  inlineMax = 64 * 1024;
  /** The ICE servers for new peer links: from the welcome, refreshed by `ice` messages before TURN credentials expire. */
  ice: IceConfig | undefined;
  readonly store: ObjectStore;
  readonly objects: ObjectClient;
  /** Peer links to other nodes and drivers (issue 4), when the platform has WebRTC. */
  readonly links: PeerLinks | null;
  readonly fetcher: ObjectFetcher;
  readonly local: LocalScheduler;
  /** Runtime env artifacts by content hash (issue 16). */
  readonly envCache: EnvCache;
  /** The tasks this node runs, from admission to their end. */
  readonly tasks: NodeTasks = new NodeTasks(this);
  /** `started` only for tasks that still run after a few ms (start-reports.ts, issue 14). */
  readonly starts = new StartReports((t) => this.send({ t: 'started', taskId: t.spec.taskId, attempt: t.spec.attempt, ex: t.executor?.index }));
  /** The actors living on this node. */
  readonly actors: ActorHost = new ActorHost(this);
  /** Objects' bytes: stored, inline or fetched. */
  readonly access: ObjectAccess = new ObjectAccess(this);
  /** Functions this node knows, and those it told the coordinator of (registered by its executors). */
  readonly fns = new Map<string, FunctionSource>();
  readonly fnsAnnounced = new AnnouncedFunctions();
  private readonly calls = new CallServer(this);
  private readonly outbox: Outbox;
  private readonly ws: WebSocketLike;
  private stopHeartbeat: () => void = () => {};
  private readonly keep: NodePlatform['keep'];
  /** Set once the session ended (closed by either side): nothing is sent any more. */
  closed = false;
  tasksRun = 0;
  /** Results sent straight to their drivers (shared/protocol/shortcut.ts), and tagged ones that went through the coordinator only (no link open yet). */
  readonly shortcuts = { sent: 0, missed: 0 };
  /** Tasks drivers push here under their leases (shared/protocol/direct.ts). */
  readonly direct: DirectTasks = new DirectTasks(this);
  /** Task groups' slices (shared/protocol/group.ts); `frames`: frames sent, so a report in the outbox is filled further. */
  readonly groups: NodeGroups = new NodeGroups(this);
  frames = 0;
  readonly afterShortcut: (() => void) | undefined;
  /** Object bytes that came and went inside coordinator messages (small arguments, results and puts); links and the relay count theirs. */
  readonly inlineBytes = { in: 0, out: 0 };
  /** Takes no new tasks (issue 3): see setPaused. */
  paused = false;
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
    this.ws.binaryType = readBinaryAs(this.ws);
    this.outbox = new Outbox(
      (frame) => this.sendFrame(frame),
      () => this.heartbeat?.riding() ?? null,
      undefined,
      true,
    );
    this.outbox.laterMs = platform.laterMs ?? LATER_MS;
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
          ice: () => this.ice,
          sendSignal: (peer, data) => this.send({ t: 'signal', peer, data }),
          lookup: (id) => this.store.source(id),
          direct: (peer, d) => this.direct.onLink(peer, d),
          log: (text) => this.onEvent(text),
          maxUploadMiBps: opts.maxUploadMiBps,
          connectTimeoutMs: opts.linkConnectTimeoutMs,
        })
      : null;
    this.fetcher = new ObjectFetcher(this.objects, this.links, (m) => this.send(m));
    this.fetcher.onEvent = (text) => this.onEvent(text);
    this.local = new LocalScheduler(
      platform.spawnExecutor,
      (id) => this.fns.get(id),
      (ex, m) => this.calls.onExecutor(ex, m),
      (ex, why) => this.tasks.onExecutorExit(ex, why),
      (t) => {
        if (!t.member) this.starts.dispatched(t);
        else this.groups.dispatched(t);
        this.tasks.armTimeout(t);
      },
      Math.max(1, opts.cpus),
      () => ({ k: 'config', config: { inlineMax: this.inlineMax, nodeName: this.opts.name, nodeId: this.nodeId } }),
    );
    this.envCache = platform.envCache ?? new EnvCache(platform.envTier, platform.envLimits);
    this.envCache.fetch = (id) => this.access.resolve(id);
    this.envCache.log = (text) => this.onEvent(text);
    // What this node caches, the coordinator may ask it to put when the mesh has no other copy (issue 16).
    this.envCache.onHave = (arts) => this.send({ t: 'artifact', arts });
    const side = opts.kind === 'browser' ? 'b' : 'e';
    this.local.envOf = (f) => (f.env ? { decls: f.env, side, bytes: (h) => this.envCache.bytes(h) } : undefined);
    this.keep = platform.keep;
    this.afterShortcut = platform.afterShortcut;
    for (const host of this.keep?.actors.splice(0) ?? []) this.actors.adopt(host);
    this.paused = this.local.paused = !!opts.paused;
    this.local.cpuShare = opts.cpuShare ?? 1;
    // Heartbeat ticks on the wall clock's grid (heartbeat.ts: idle nodes' keepalives arrive grouped).
    const every = platform.every ?? everyOnGrid;
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
            host: this.keep ? { key: this.keep.key, actors: this.actors.hosted() } : undefined,
          },
          // Said only when true: a coordinator before it refuses an unknown field, even an undefined one.
          ...(platform.readsRecords ? { records: true } : {}),
          groups: true,
          chunks: true,
          credit: true,
          ...(platform.shortcuts && this.links ? { shortcut: true } : {}),
          ...(platform.shortcuts && platform.direct && this.links ? { direct: true, hurry: true } : {}),
        });
        this.outbox.flush();
      };
      this.ws.onerror = () => {};
      this.ws.onclose = (ev) => {
        const why = `connection closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`;
        reject(new TabmeshError('CLOSED', why));
        this.shutdown(why, true);
        closedResolve(why);
      };
      this.ws.onmessage = (ev) => {
        this.heartbeat?.heard();
        let msgs: Msg[];
        try {
          msgs = decodeFrame(frameIn(ev.data));
        } catch (e) {
          this.log(`bad frame from the coordinator: ${(e as Error).message}`);
          return;
        }
        for (const m of msgs) {
          if (m.t === 'welcome') {
            this.nodeId = m.nodeId ?? null;
            this.direct.reset(); // leases were granted to the session before
            this.inlineMax = m.inlineMax;
            this.ice = m.ice;
            // Relay chunks as chunk frames where this coordinator reads them (shared/protocol/chunk-frame.ts).
            this.outbox.chunkOut = m.chunks ? { chunk: (head, body) => this.sendFrame(head, body) } : null;
            for (const ex of this.local.all())
              ex.handle.post({ k: 'config', config: { inlineMax: this.inlineMax, nodeName: this.opts.name, nodeId: this.nodeId } });
            const keepalive = () => {
              if (this.ws.readyState === 1) this.ws.send(new Uint8Array(0));
            };
            const hb = (this.heartbeat = new Heartbeat(heartbeatIo(this, keepalive), m.heartbeatMs, m.quietMs, m.idleQuietMs));
            this.stopHeartbeat = hb.start(every);
            this.onEvent(`joined the mesh as node ${this.nodeId}`);
            this.envCache.announce();
            if (platform.store) this.access.announceHeld();
            else if (platform.tier) void this.access.recoverStored(platform.tier);
            resolve();
            continue;
          }
          const h = handlers[m.t] as ((n: NodeHandlerContext, m: Msg) => void) | null;
          if (h) h(this, m);
        }
      };
    });
  }

  send(m: Msg): void {
    if (!this.closed) this.outbox.push(m);
  }

  sendLater(m: Msg): void {
    if (!this.closed) this.outbox.later(m);
  }

  /** Sends now what `sendLater` holds (the coordinator's `hurry`, direct-tasks.ts). */
  readonly flushLater = (): void => void (!this.closed && this.outbox.flush());

  log(text: string): void {
    this.onEvent(text);
  }

  /** Load reports as deltas riding on other frames, keepalives when idle (heartbeat.ts, issue 14). */
  private heartbeat: Heartbeat | null = null;

  // -- tasks from the coordinator ------------------------------------------

  forgetFunctions(fns: readonly string[]): void {
    forgetSources(fns, this.fns, this.fnsAnnounced, this.tasks.functionsUsed());
    this.local.forget(fns);
  }

  // -- a volunteer's controls (issue 3) -----------------------------------------

  /** Paused: nothing new starts here; tasks not started yet go back to the coordinator. Running ones finish. */
  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = this.local.paused = paused;
    const back = paused ? this.tasks.handBackWaiting() : 0;
    this.sendCapacity();
    this.local.pump();
    this.onEvent(paused ? `paused; ${back} task(s) not started went back to the coordinator` : 'resumed');
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

  /** Caps this node's upload over peer links, MiB/s (undefined or 0: none), from now on (upload-cap.ts). */
  setUploadCap(mibPerS: number | undefined): void {
    this.links?.setUploadCap(mibPerS);
    this.onEvent(mibPerS ? `upload to peers capped at ${mibPerS} MiB/s` : 'upload to peers not capped');
  }

  stats(): NodeStats {
    return {
      running: this.local.running,
      queued: this.local.queued,
      tasksRun: this.tasksRun,
      objects: this.store.count,
      storeBytes: this.store.memoryBytes + this.store.spilledBytes,
      // Every object byte moved: inside coordinator messages, through the relay, over peer links.
      bytesIn: this.inlineBytes.in + this.objects.bytesIn + (this.links?.counters.bytesIn ?? 0),
      bytesOut: this.inlineBytes.out + this.objects.bytesOut + (this.links?.counters.bytesOut ?? 0),
      // What its upload cap paces: object bytes sent to other peers over links.
      peerBytesOut: this.links?.counters.bytesOut ?? 0,
      // Links the stats watchdog closed as frozen (link-watch.ts).
      linksFrozen: this.links?.counters.frozen ?? 0,
    };
  }

  /** Ends the session; `dropped`: the connection went and the process stays, so its actors go on in the keep (if any). */
  private shutdown(why: string, dropped = false): void {
    if (this.closed) return;
    this.closed = true;
    this.stopHeartbeat();
    this.starts.stop();
    this.groups.stop();
    this.objects.close(new TabmeshError('CLOSED', why));
    this.links?.stop();
    const kept = dropped && this.keep ? this.actors.handOver() : [];
    if (this.keep) this.keep.actors = kept;
    this.local.terminateAll(new Set(kept.map((h) => h.executor!)));
  }

  /**
   * Leaving on purpose (close, a tab's pagehide): it starts nothing more, what it has not started goes back, then
   * `leaving` (the coordinator places nothing more here and takes back at once what crossed it, not at the close
   * event, seconds on a starved node).
   */
  sayLeaving(): void {
    if (this.closed || this.ws.readyState !== 1) return;
    this.paused = this.local.paused = true; // it starts nothing more; what crosses `leaving` goes back unstarted
    this.tasks.handBackWaiting();
    this.send({ t: 'leaving' });
    this.outbox.flush();
  }

  async close(): Promise<void> {
    this.sayLeaving();
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

  private sendFrame(frame: Uint8Array, body?: Uint8Array): void {
    this.frames++;
    if (this.ws.readyState !== 1) return;
    if (body) sendChunkFrame(this.ws, frame, body);
    else this.ws.send(frame);
    this.heartbeat?.framed();
  }
}
