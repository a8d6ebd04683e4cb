// A volunteer: the browser node behind the volunteer page and the embed badge.
// It runs the shared node runtime (shared/node/runtime.ts) with the browser
// adapters (Web Worker executors, the IndexedDB tier, a worker ticker), keeps
// the volunteer's choices, and reconnects with capped exponential backoff.
import { NodeRuntime } from '../../shared/node/runtime.js';
import { BACKOFF, rejoinDelay } from '../../shared/backoff.js';
import { CoordinatorUrls } from '../../shared/coordinator-urls.js';
import type { ObjectStoreStats } from '../../shared/node/store.js';
import { webWorkerExecutors } from './executors.js';
import { IdbTier } from './idb-tier.js';
import { clampUpload, saveSettings, type VolunteerSettings } from './settings.js';
import { claimStore, type StoreClaim } from './store-identity.js';
import { workerEvery } from './ticker.js';
import { installTabHasher, tabHasherStats } from './hash-worker.js';
import { browserPeers } from './peer-link.js';
import { IdbEnvTier } from './idb-env-tier.js';
import type { EnvCache } from '../../shared/node/env-cache.js';

export type VolunteerState = 'starting' | 'connecting' | 'connected' | 'reconnecting' | 'left';

export interface VolunteerEvent {
  at: number;
  text: string;
}

export interface VolunteerOptions {
  /** The coordinator's URL (the page's origin). */
  url: string;
  name: string;
  settings: VolunteerSettings;
  /** localStorage key of the settings. */
  settingsKey: string;
  /** Separates the stores of the volunteer page and the embed frame. */
  scope: string;
  executorUrl?: string;
  joinToken?: string;
}

export interface VolunteerStats {
  state: VolunteerState;
  nodeId: string | null;
  paused: boolean;
  executors: number;
  running: number;
  queued: number;
  tasksRun: number;
  tasksFailed: number;
  /** Tasks cancelled while here (by their job): not failures. */
  tasksCancelled: number;
  store: ObjectStoreStats;
  bytesIn: number;
  bytesOut: number;
  /** Object bytes uploaded to other peers over links (what the upload cap paces), this session and earlier ones. */
  peerBytesOut: number;
  /** The upload cap, MiB/s; 0: none. */
  uploadMiBps: number;
  /** Peer links closed as frozen by the stats watchdog (shared/transfer/link-watch.ts). */
  linksFrozen: number;
}

const MAX_EVENTS = 100;

export class Volunteer {
  state: VolunteerState = 'starting';
  node: NodeRuntime | null = null;
  /** What the hasher worker of an isolated tab hashed (hash-worker.ts). */
  readonly hasher = tabHasherStats;
  readonly events: VolunteerEvent[] = [];
  readonly settings: VolunteerSettings;
  private claim: StoreClaim | null = null;
  private tier: IdbTier | null = null;
  /** Runtime env artifacts (issue 16): IndexedDB when the browser allows it, and one cache across reconnects. */
  private envTier: IdbEnvTier | null = null;
  private envCache: EnvCache | undefined;
  private attempt = 0;
  /** Where it joins: the page's origin, or the coordinator a full one sent it on to (shared/coordinator-urls.ts). */
  private readonly urls: CoordinatorUrls;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Counts of earlier sessions (a reconnect starts a new node). */
  private before = { tasksRun: 0, bytesIn: 0, bytesOut: 0, peerBytesOut: 0, linksFrozen: 0 };
  private tasksFailed = 0;
  private tasksCancelled = 0;
  private ran = new Map<string, number>();
  private ranTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(readonly opts: VolunteerOptions) {
    this.settings = { ...opts.settings };
    this.urls = new CoordinatorUrls([opts.url]);
    this.urls.log = (text) => this.log(text);
  }

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private changed(): void {
    for (const f of this.listeners) f();
  }

  log(text: string): void {
    this.events.push({ at: Date.now(), text });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    this.changed();
  }

  async start(): Promise<void> {
    // The tab closes or navigates away (not kept in the back/forward cache): it says it leaves while it can
    // (NodeRuntime.sayLeaving): its queued tasks go elsewhere at once, not when the coordinator sees the socket end.
    addEventListener('pagehide', (e) => {
      if (!e.persisted) this.node?.sayLeaving();
    });
    this.claim = await claimStore(this.opts.scope);
    const tier = new IdbTier(this.claim.id, await this.diskBudget());
    try {
      await tier.list();
      this.tier = tier;
      this.envTier = new IdbEnvTier();
    } catch {
      // A third-party frame where the browser blocks storage: objects stay in memory.
      this.log('this browser lets the page keep no data here: objects stay in memory');
    }
    this.connect();
  }

  /** The volunteer's disk setting, bounded by what the browser grants this origin. */
  private async diskBudget(): Promise<number> {
    let budget = this.settings.diskMb * 2 ** 20;
    try {
      const est = await navigator.storage.estimate();
      if (est.quota) budget = Math.min(budget, Math.max(0, (est.quota - (est.usage ?? 0)) * 0.8));
    } catch {
      /* no estimate: the setting alone */
    }
    return budget;
  }

  private connect(): void {
    this.state = this.attempt === 0 ? 'connecting' : 'reconnecting';
    this.changed();
    const s = this.settings;
    installTabHasher(); // once, where the page is cross-origin isolated
    const node = new NodeRuntime(
      {
        url: this.urls.current,
        kind: 'browser',
        name: this.opts.name,
        cpus: s.cpus,
        storeBytes: s.memoryMb * 2 ** 20,
        paused: s.paused,
        cpuShare: s.cpuShare,
        maxUploadMiBps: s.uploadMiBps || undefined,
        joinToken: this.opts.joinToken,
      },
      {
        spawnExecutor: webWorkerExecutors(this.opts.executorUrl ?? new URL('/executor.js', this.opts.url).href),
        tier: this.tier ?? undefined,
        every: workerEvery,
        peers: browserPeers(),
        envTier: this.envTier ?? undefined,
        envCache: this.envCache,
      },
    );
    this.envCache = node.envCache;
    this.node = node;
    node.onEvent = (text) => this.log(text);
    node.onTaskEnd = (name, outcome) => this.taskEnded(name, outcome);
    node.ready.then(
      () => {
        if (this.node !== node) return;
        this.attempt = 0;
        this.urls.joined();
        this.state = 'connected';
        if (s.paused) this.log('paused: taking no tasks until you resume');
        this.changed();
      },
      () => {},
    );
    void node.closedPromise.then((why) => {
      if (this.node !== node) return;
      const st = node.stats();
      this.before.tasksRun += st.tasksRun;
      this.before.bytesIn += st.bytesIn;
      this.before.bytesOut += st.bytesOut;
      this.before.peerBytesOut += st.peerBytesOut;
      this.before.linksFrozen += st.linksFrozen;
      if (this.state === 'left') return;
      // A full coordinator that sends the tab on to another of its mesh is followed at once (then back to the page's
      // origin when that one goes); a refusal that says when to come back (CONNECTING_TOO_FAST) is followed: a storm
      // is admitted at the coordinator's rate.
      const now = this.urls.moveOn(why);
      const delay = now ? 0 : rejoinDelay(BACKOFF.tabRejoin, this.attempt++, why);
      this.state = 'reconnecting';
      this.log(`${why}; trying again in ${(delay / 1000).toFixed(1)} s`);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  /** Tasks ended are logged in groups, not one line each. */
  private taskEnded(name: string, outcome: 'ok' | 'failed' | 'cancelled'): void {
    if (outcome === 'failed') this.tasksFailed++;
    if (outcome === 'cancelled') this.tasksCancelled++;
    this.ran.set(name, (this.ran.get(name) ?? 0) + 1);
    if (this.ranTimer) return;
    this.ranTimer = setTimeout(() => {
      this.ranTimer = null;
      const parts = [...this.ran].map(([fn, n]) => `${fn} ×${n}`);
      const total = [...this.ran.values()].reduce((a, b) => a + b, 0);
      this.ran.clear();
      this.log(`ran ${total} task${total === 1 ? '' : 's'}: ${parts.join(', ')}`);
    }, 2000);
  }

  private save(): void {
    saveSettings(this.opts.settingsKey, this.settings);
    this.changed();
  }

  setPaused(paused: boolean): void {
    this.settings.paused = paused;
    this.node?.setPaused(paused);
    this.save();
  }

  setCpus(n: number): void {
    this.settings.cpus = n;
    this.node?.setCpus(n);
    this.save();
  }

  setCpuShare(share: number): void {
    this.settings.cpuShare = share;
    this.node?.setCpuShare(share);
    this.log(`executors work ${Math.round(share * 100)}% of the time`);
    this.save();
  }

  /** Caps what this tab uploads to other peers, MiB/s (0: no cap); applies at once to the chunks it serves. */
  setUploadMiBps(value: number): void {
    const mibPerS = clampUpload(value);
    this.settings.uploadMiBps = mibPerS;
    // The node logs the change (runtime.setUploadCap); without one yet, the next start takes the setting.
    if (this.node) this.node.setUploadCap(mibPerS || undefined);
    else this.log(mibPerS ? `upload to peers capped at ${mibPerS} MiB/s` : 'upload to peers not capped');
    this.save();
  }

  /** Applies at the next start (the store's budget is fixed while it runs). */
  setMemoryMb(mb: number): void {
    this.settings.memoryMb = mb;
    this.log(`memory budget set to ${mb} MB (applies after a reload)`);
    this.save();
  }

  /** Leaves the mesh: the node closes and its stored objects are deleted. */
  async leave(): Promise<void> {
    if (this.state === 'left') return;
    this.state = 'left';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const node = this.node;
    await node?.close();
    await node?.store.idle();
    await this.tier?.clear().catch(() => {});
    await this.envTier?.clear().catch(() => {});
    this.log('left the mesh; stored objects deleted');
  }

  rejoin(): void {
    if (this.state !== 'left') return;
    this.attempt = 0;
    this.connect();
  }

  stats(): VolunteerStats {
    const n = this.node;
    const st = n?.stats();
    return {
      state: this.state,
      nodeId: this.state === 'connected' ? (n?.nodeId ?? null) : null,
      paused: this.settings.paused,
      executors: n?.local.count ?? this.settings.cpus,
      running: st?.running ?? 0,
      queued: st?.queued ?? 0,
      tasksRun: this.before.tasksRun + (st?.tasksRun ?? 0),
      tasksFailed: this.tasksFailed,
      tasksCancelled: this.tasksCancelled,
      store: n?.store.stats() ?? { objects: 0, memoryBytes: 0, spilledBytes: 0, spills: 0, drops: 0 },
      bytesIn: this.before.bytesIn + (st?.bytesIn ?? 0),
      bytesOut: this.before.bytesOut + (st?.bytesOut ?? 0),
      peerBytesOut: this.before.peerBytesOut + (st?.peerBytesOut ?? 0),
      uploadMiBps: this.settings.uploadMiBps,
      linksFrozen: this.before.linksFrozen + (st?.linksFrozen ?? 0),
    };
  }
}

/** "tab 3f2a · Chrome on Linux" */
export function describeBrowser(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : 'browser';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : '';
  return os ? `${browser} on ${os}` : browser;
}
