// An edge node: the shared node runtime with worker_threads executors, a disk
// spill tier and the `ws` WebSocket. When its connection drops (the
// coordinator restarted, the network blinked) it joins again as a new node,
// with capped exponential backoff, and announces the objects it still holds.
import os from 'node:os';
import { join } from 'node:path';
import { nodeWebSocket } from './ws.js';
import { NodeRuntime } from '../shared/node/runtime.js';
import { BACKOFF, cappedAt, joinAgain, type Backoff } from '../shared/backoff.js';
import { ObjectStore } from '../shared/node/store.js';
import { CoordinatorUrls } from '../shared/coordinator-urls.js';
import { DiskTier } from './disk-tier.js';
import { workerThreadExecutors } from './executors.js';
import { helpersAfter, helpersAfterMs, helpersAtFirstLink, installNodeHelpers } from './node-helpers.js';
import { limitPool } from '../shared/bytes.js';
import { edgePeers } from './peer-link.js';
import { DiskEnvTier } from './env-tier.js';
import type { EnvCache } from '../shared/node/env-cache.js';
import { ActorKeep } from '../shared/node/actor-keep.js';
import { TabmeshError } from '../shared/errors.js';

export interface EdgeNodeOptions {
  /** Its coordinator's URL; several of one mesh (a list, or separated by commas): it joins the next one when its own goes (issue 15). */
  coordinator: string | string[];
  cpus?: number;
  storeMb?: number;
  spillDir?: string;
  name?: string;
  resources?: Record<string, number>;
  joinToken?: string;
  /** Bound of the runtime env artifacts kept in `<spill dir>/env` (issue 16), least recently used pruned first. Default 256. */
  envCacheMb?: number;
  /** Join again after a dropped connection (default true). */
  reconnect?: boolean;
  /** Cap on what this node uploads over peer links, MiB/s (issue 17). Default: none. */
  maxUploadMiBps?: number;
  /** How long a peer link may take to open before a read goes on without it. Default: TABMESH_LINK_CONNECT_MS, else 5 s. */
  linkConnectTimeoutMs?: number;
  /** The cap of its waits between tries to join again (full jitter), in ms from 100 to 600000 (`--rejoin-max-ms`). Default 5 s (BACKOFF.nodeRejoin). */
  rejoinMaxMs?: number;
  /** Its hash pool's and memory warmer's threads start this long after it joined, if its first peer link or a large value did not start them before (edge/node-helpers.ts). Default HELPERS_AFTER_MS. */
  helpersAfterMs?: number;
}

/** TABMESH_LINK_CONNECT_MS (ms, 100-600000): a peer link's time to open; tests whose links can never open shorten it. */
function linkConnectMsFromEnv(): number | undefined {
  const v = process.env.TABMESH_LINK_CONNECT_MS;
  if (v === undefined || v === '') return undefined;
  const ms = Number(v);
  if (!Number.isInteger(ms) || ms < 100 || ms > 600_000)
    throw new TabmeshError('BAD_ARGUMENT', `TABMESH_LINK_CONNECT_MS must be a whole number of ms from 100 to 600000, got ${JSON.stringify(v)}`);
  return ms;
}

/** An edge node across its sessions: `runtime` is the current one. */
export class EdgeNode {
  runtime!: NodeRuntime;
  private leaving = false;
  private readonly store: ObjectStore;
  private readonly envTier: DiskEnvTier;
  /** Where it joins: its configured coordinators, and those a full one sends it on to (shared/coordinator-urls.ts). */
  private readonly urls: CoordinatorUrls;
  /** Runtime env artifacts (issue 16), kept across sessions like the store. */
  private envCache: EnvCache | undefined;
  /** Its actors, kept across sessions: they outlive a coordinator that dies (issue 15). */
  private readonly keep = new ActorKeep();
  /** Resolves when the node has left for good (leave(), or reconnect off). */
  readonly left: Promise<string>;
  private resolveLeft!: (why: string) => void;
  onEvent: (text: string) => void = () => {};
  private readonly linkConnectTimeoutMs: number | undefined;
  /** Its rejoin loop's backoff: BACKOFF.nodeRejoin, or capped at `rejoinMaxMs`. */
  private readonly rejoin: Backoff;
  /** Cancels the timer that starts its helper threads. */
  private cancelHelpers: () => void = () => {};

  private constructor(private readonly o: EdgeNodeOptions) {
    this.linkConnectTimeoutMs = o.linkConnectTimeoutMs ?? linkConnectMsFromEnv();
    this.rejoin = cappedAt(BACKOFF.nodeRejoin, o.rejoinMaxMs, 'rejoinMaxMs');
    this.left = new Promise((r) => (this.resolveLeft = r));
    this.urls = new CoordinatorUrls((Array.isArray(o.coordinator) ? o.coordinator : o.coordinator.split(',')).map((u) => u.trim()).filter((u) => u !== ''));
    this.urls.log = (text) => this.onEvent(text);
    const spillDir = o.spillDir ?? join(os.tmpdir(), `tabmesh-spill-${process.pid}`);
    const memoryBytes = (o.storeMb ?? 512) * 1024 * 1024;
    // What the memory pool keeps besides live objects is bounded by the store's budget.
    limitPool(memoryBytes);
    this.store = new ObjectStore({
      memoryBytes,
      tier: new DiskTier(spillDir),
    });
    // Beside the spill files (the spill tier lists object ids only, so it never sees these).
    this.envTier = new DiskEnvTier(join(spillDir, 'env'));
  }

  static async start(o: EdgeNodeOptions): Promise<EdgeNode> {
    // Their hooks now; their threads at its first peer link, or a little after it joined (edge/node-helpers.ts).
    const helpersMs = helpersAfterMs(o.helpersAfterMs);
    installNodeHelpers();
    const n = new EdgeNode(o);
    // A full coordinator that sends it on (or a list with more URLs) is followed at once; any other failure is the caller's.
    for (;;) {
      try {
        await n.session();
        break;
      } catch (e) {
        if (!n.urls.moveOn((e as Error).message)) throw e;
      }
    }
    n.cancelHelpers = helpersAfter(helpersMs);
    void n.supervise();
    return n;
  }

  /** The coordinator it joined (or joins next). */
  get coordinatorUrl(): string {
    return this.urls.current;
  }

  get nodeId(): string | null {
    return this.runtime.nodeId;
  }

  private async session(): Promise<void> {
    const o = this.o;
    const rt = new NodeRuntime(
      {
        url: this.urls.current,
        kind: 'edge',
        name: o.name ?? `${os.hostname()}:${process.pid}`,
        cpus: o.cpus ?? Math.max(1, os.availableParallelism() - 1),
        storeBytes: this.store.memoryBytes,
        resources: o.resources,
        joinToken: o.joinToken,
        maxUploadMiBps: o.maxUploadMiBps,
        linkConnectTimeoutMs: this.linkConnectTimeoutMs,
      },
      {
        WebSocket: nodeWebSocket,
        readsRecords: true,
        // Result shortcuts to drivers (shared/protocol/shortcut.ts); off with TABMESH_SHORTCUTS=0.
        shortcuts: process.env.TABMESH_SHORTCUTS !== '0',
        // Direct submission from drivers (shared/protocol/direct.ts); off with TABMESH_DIRECT=0.
        direct: process.env.TABMESH_DIRECT !== '0',
        afterShortcut: process.env.TABMESH_TEST_DIE_AFTER_SHORTCUT === '1' ? () => process.kill(process.pid, 'SIGKILL') : undefined,
        // Tests: direct tasks' reports held this long, so that only the coordinator's `hurry` brings them in time.
        laterMs: process.env.TABMESH_TEST_LATER_MS ? Number(process.env.TABMESH_TEST_LATER_MS) : undefined,
        spawnExecutor: workerThreadExecutors(),
        store: this.store,
        peers: helpersAtFirstLink(await edgePeers()),
        envTier: this.envTier,
        envCache: this.envCache,
        keep: this.keep,
        envLimits: o.envCacheMb !== undefined ? { tierBytes: o.envCacheMb * 1024 * 1024 } : undefined,
      },
    );
    this.envCache = rt.envCache;
    rt.onEvent = (e) => this.onEvent(e);
    this.runtime = rt;
    await rt.ready;
    this.urls.joined();
  }

  private async supervise(): Promise<void> {
    for (;;) {
      const why = await this.runtime.closedPromise;
      if (this.leaving || this.o.reconnect === false) {
        this.keep.drop();
        return this.resolveLeft(why);
      }
      this.onEvent(`${why}; joining again`);
      // A refusal that says when to come back is followed (a storm admitted at the coordinator's rate), else backoff.
      // Its coordinator may be gone: the next one of the mesh first; a full one's `next` at once.
      const back = await joinAgain(
        () => this.session(),
        this.rejoin,
        why,
        () => this.leaving,
        (w) => this.urls.moveOn(w),
      );
      if (!back) {
        this.keep.drop();
        return this.resolveLeft('left');
      }
      this.onEvent(`joined again as node ${this.runtime.nodeId}`);
    }
  }

  async leave(): Promise<void> {
    this.leaving = true;
    this.cancelHelpers();
    await this.runtime.close();
  }
}

/** Starts an edge node that stays in the mesh across dropped connections. */
export function startEdgeNode(o: EdgeNodeOptions): Promise<EdgeNode> {
  return EdgeNode.start(o);
}
