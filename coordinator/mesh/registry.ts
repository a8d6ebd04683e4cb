// The coordinators of one mesh (issue 15), as Redis knows them: each writes
// its record (url, nodes, jobs, load) into one hash every beat, stamped with
// Redis's clock; a record that Redis's clock says is older than DEAD_MS when it
// is read is a coordinator gone (issue 14: judged by the reader's clock when
// the answer was handled, a reader whose own loop stalled with the answer
// waiting took a live peer for gone, and dropped its link and guest tasks). Jobs are owned through leases:
// `<p>:{<job>}:lease` holds the owner's id with a TTL the owner renews, so a
// killed coordinator's jobs are free for another within LEASE_MS.
import { Cluster, type Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import { fenceKey, hashKey, NO_GROUP } from '../gcs/redis-wire.js';
import { within } from './in-flight.js';

const rowPackr = new Packr({ useRecords: false, mapsAsObjects: true });
const HEX = /^[0-9a-f]{1,128}$/;

/** How often a coordinator writes its record and renews its leases. */
export const BEAT_MS = 500;
/** A coordinator whose beat did not change for this long is gone. */
export const DEAD_MS = 2000;
/** A job lease lives this long unless renewed. */
export const LEASE_MS = 1500;
/**
 * After a silence of ours past a beat (Redis unreachable, our loop held), how much longer a peer silent over it is
 * excused: its own connection may come back this much later than ours (ioredis's reconnect backoff is capped at 2 s,
 * each client on its own timer). Session 37: after a Redis restart under load 30-35, one coordinator took the other
 * for gone 1.5 s after its own return, closed its link and ran its 2 tasks again.
 */
export const REJOIN_GRACE_MS = 2000;
/** Records of coordinators gone this long are removed from the hash. */
const FORGET_MS = 60_000;

/** What a coordinator says of itself; GET /api/coordinators lists these. */
export interface CoordinatorInfo {
  id: string;
  url: string;
  /** Nodes attached to it (other coordinators not counted). */
  nodes: number;
  /** CPUs of those nodes. */
  cpus: number;
  /** Running jobs it owns. */
  jobs: number;
  /** Tasks running or queued on its nodes. */
  load: number;
  /** Nodes it may still take before it refuses them COORDINATOR_FULL (absent from coordinators before session 16). */
  room?: number;
  startedAt: number;
  /** Its clock when it wrote this; a first sight of an old record is a coordinator gone. */
  at: number;
  beat: number;
  /** Redis's clock when it was written (absent from coordinators before session 19: their beat's changes count). */
  rt?: number;
}

/** How long a job's fence outlives the last renewal of its lease (then a new owner starts at epoch 1 again). */
const FENCE_TTL_MS = 24 * 3600_000;

/**
 * Takes or renews a lease: set when free or ours, refused (0) when another's.
 * A lease taken by a new owner bumps the job's epoch (KEYS[2], `<epoch>:<owner>`);
 * the owner's token is returned, and its writes are fenced with it (gcs/redis-fence.ts).
 * An owner whose lease lapsed with nobody taking it keeps its epoch.
 */
const CLAIM = `
local v = redis.call('get', KEYS[1])
if v ~= false and v ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
local f = redis.call('get', KEYS[2])
local token = f
if f == false then
  token = '1:' .. ARGV[1]
elseif string.sub(f, string.find(f, ':') + 1) ~= ARGV[1] then
  token = tostring(tonumber(string.sub(f, 1, string.find(f, ':') - 1)) + 1) .. ':' .. ARGV[1]
end
redis.call('set', KEYS[2], token, 'PX', ARGV[3])
return token`;
/**
 * Writes our record (ARGV[2], JSON) with Redis's clock in it (`rt`), and reads every record with that clock's now,
 * in one step: a record's age does not depend on when our loop gets to handle the answer.
 */
const BEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('hset', KEYS[1], ARGV[1], string.sub(ARGV[2], 1, -2) .. ',"rt":' .. string.format('%.0f', now) .. '}')
return {string.format('%.0f', now), redis.call('hgetall', KEYS[1])}`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class MeshRegistry {
  private beat = 0;
  /** `excused`: of the time since the record's `rt`, how much we did not beat ourselves (not counted against it). */
  private readonly seen = new Map<string, { info: CoordinatorInfo; changedAt: number; excused?: number }>();
  /** Redis's clock at our last beat. */
  private lastBeatAt: number | undefined;
  private readonly key: string;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly prefix: string,
    readonly id: string,
  ) {
    this.key = hashKey(prefix, 'mesh', 'coordinators');
  }

  /** Writes this coordinator's record and reads everyone's; returns the live others. */
  async tick(self: Omit<CoordinatorInfo, 'id' | 'at' | 'beat'>): Promise<CoordinatorInfo[]> {
    const mine: CoordinatorInfo = { ...self, id: this.id, at: Date.now(), beat: ++this.beat };
    const [redisNow, flat] = (await this.client.eval(BEAT, 1, this.key, this.id, JSON.stringify(mine))) as [string, string[]];
    const rnow = Number(redisNow);
    const now = Date.now();
    // Our own silence past a beat, by Redis's clock (our loop held before the beat went out, or Redis slow to run it):
    // we saw nothing of that time, and a peer silent over it may have been held by the same cause (one machine, one
    // process in tests). It is not counted against a peer's record: two coordinators in one process under load 30-37
    // took each other for gone so (session 30). A peer silent while we beat is still gone after DEAD_MS; after a silence
    // past a beat, one that beat up to it after DEAD_MS and REJOIN_GRACE_MS (its Redis connection may come back later).
    const lastBeat = this.lastBeatAt;
    const blind = lastBeat !== undefined && Number.isFinite(rnow) ? Math.max(0, rnow - lastBeat - BEAT_MS) : 0;
    if (Number.isFinite(rnow)) this.lastBeatAt = rnow;
    const gone: string[] = [];
    const present = new Set<string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const id = flat[i];
      if (id === this.id) continue;
      let info: CoordinatorInfo;
      try {
        info = JSON.parse(flat[i + 1]) as CoordinatorInfo;
      } catch {
        gone.push(id); // not ours to read: drop it
        continue;
      }
      present.add(id);
      const prev = this.seen.get(id);
      // Its age by Redis's clock at the read, on our clock now (another process's word: a number, else its beat counts).
      if (typeof info.rt === 'number' && Number.isFinite(info.rt) && Number.isFinite(rnow)) {
        const age = Math.max(0, rnow - info.rt);
        // The same record as at our last read: its excuse grows by our silence since; a newer one: only what of our
        // silence came after it.
        // A peer that beat up to our silence may have lost Redis with us: it may come back up to REJOIN_GRACE_MS later.
        const rejoin = blind > BEAT_MS && lastBeat !== undefined && info.rt >= lastBeat - 2 * BEAT_MS ? REJOIN_GRACE_MS : 0;
        const excused = prev?.info.rt === info.rt ? (prev.excused ?? 0) + blind + rejoin : Math.min(blind + rejoin, age);
        this.seen.set(id, { info, changedAt: now - Math.max(0, age - excused), excused });
      } else if (!prev) this.seen.set(id, { info, changedAt: now - Math.max(0, now - info.at) });
      else if (prev.info.beat !== info.beat) this.seen.set(id, { info, changedAt: now });
      if (now - this.seen.get(id)!.changedAt > FORGET_MS) gone.push(id);
    }
    for (const id of this.seen.keys()) if (!present.has(id)) this.seen.delete(id);
    if (gone.length) await this.client.hdel(this.key, ...gone);
    return this.live();
  }

  /** The other coordinators whose beat changed within DEAD_MS. */
  live(now = Date.now()): CoordinatorInfo[] {
    const out: CoordinatorInfo[] = [];
    for (const { info, changedAt } of this.seen.values()) if (now - changedAt <= DEAD_MS) out.push(info);
    return out;
  }

  /** Whether coordinator `id` still has a record (live, or gone less than FORGET_MS; a clean stop removes it at once). */
  known(id: string): boolean {
    return this.seen.has(id);
  }

  isLive(id: string): boolean {
    return this.live().some((c) => c.id === id);
  }

  /** Removes this coordinator's record (a clean shutdown). */
  async leave(): Promise<void> {
    await this.client.hdel(this.key, this.id);
  }

  private leaseKey(job: string): string {
    return hashKey(this.prefix, job, 'lease');
  }

  /** The coordinator holding the job's lease, if any. */
  owner(job: string): Promise<string | null> {
    return this.client.get(this.leaseKey(job));
  }

  /** Takes or renews the leases of these jobs: those another coordinator holds, and our fencing token of each other one. */
  async renew(jobs: string[]): Promise<{ lost: string[]; tokens: Map<string, string> }> {
    const results = await Promise.all(
      jobs.map((j) => this.client.eval(CLAIM, 2, this.leaseKey(j), fenceKey(this.prefix, j), this.id, String(LEASE_MS), String(FENCE_TTL_MS))),
    );
    const lost: string[] = [];
    const tokens = new Map<string, string>();
    jobs.forEach((j, i) => (typeof results[i] === 'string' ? tokens.set(j, results[i] as string) : lost.push(j)));
    return { lost, tokens };
  }

  async release(job: string): Promise<void> {
    await this.client.eval(RELEASE, 1, this.leaseKey(job), this.id);
  }

  /**
   * A clean shutdown's goodbyes: these jobs' leases released and our record removed, waited for at most `ms` (Redis
   * may be gone: a lease not released expires, a record not removed goes stale). What was not done, or undefined.
   */
  async goodbye(jobs: string[], ms: number): Promise<string | undefined> {
    const bye = Promise.all([...jobs.map((j) => this.release(j)), this.leave()]);
    if (await within(bye, ms)) return undefined;
    const leases = jobs.length > 0 ? `${jobs.length} job lease(s) not released (they expire), ` : '';
    return `${leases}its row in the mesh registry not removed: Redis did not answer within ${ms} ms`;
  }

  /**
   * Jobs whose row says running (driver sessions, not submitted programs) and
   * whose lease no coordinator holds: SCAN of every master for job hashes,
   * then one pipelined GET of each lease and HGET of each row.
   */
  async unleasedJobs(): Promise<string[]> {
    const servers: Redis[] = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    const match = hashKey(this.prefix, '*', 'jobs');
    const jobs = new Set<string>();
    for (const server of servers) {
      let cursor = '0';
      do {
        const [next, found] = await server.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        for (const k of found) {
          const job = /\{([0-9a-f]+)\}/.exec(k)?.[1];
          if (job) jobs.add(job);
        }
      } while (cursor !== '0');
    }
    const out: string[] = [];
    await Promise.all(
      [...jobs].map(async (job) => {
        if ((await this.client.exists(this.leaseKey(job))) > 0) return;
        const row = await this.client.hgetBuffer(hashKey(this.prefix, job, 'jobs'), job);
        if (!row) return;
        const j = rowPackr.unpack(row) as { state?: string; submitted?: boolean };
        if (j.state === 'running' && !j.submitted) out.push(job);
      }),
    );
    return out;
  }

  /** The stored rows of functions `ids` written under no job (before session 11; a job's own are read with it). */
  async loadFunctions(ids: string[]): Promise<Uint8Array[]> {
    const rows = await this.client.hmgetBuffer(hashKey(this.prefix, NO_GROUP, 'functions'), ...ids);
    return rows.flatMap((r) => (r ? [new Uint8Array(r)] : []));
  }

  /**
   * Detached actors of ended jobs (the GCS's `detached` rows, gcs.persistDetached): actor id -> its job. One actor's
   * when `id` is given. A row that is not ours to read (not an id pair of hex) is left out.
   */
  async detachedActors(id?: string): Promise<Map<string, string>> {
    const key = hashKey(this.prefix, NO_GROUP, 'detached');
    const rows: Record<string, Buffer> = id === undefined ? await this.client.hgetallBuffer(key) : {};
    if (id !== undefined) {
      const row = await this.client.hgetBuffer(key, id);
      if (row) rows[id] = row;
    }
    const out = new Map<string, string>();
    for (const [actor, row] of Object.entries(rows)) {
      let r: unknown;
      try {
        r = rowPackr.unpack(row);
      } catch {
        continue;
      }
      const job = (r as { job?: unknown } | null)?.job;
      if (HEX.test(actor) && typeof job === 'string' && HEX.test(job)) out.set(actor, job);
    }
    return out;
  }

  /** The stored rows of one job's tables (one slot: the job's hash tag). */
  async loadJob(job: string): Promise<{
    jobs: [string, Uint8Array][];
    objects: [string, Uint8Array][];
    tasks: [string, Uint8Array][];
    actors: [string, Uint8Array][];
    functions: [string, Uint8Array][];
    groups: [string, Uint8Array][];
  }> {
    const read = async (table: string): Promise<[string, Uint8Array][]> => {
      const h = await this.client.hgetallBuffer(hashKey(this.prefix, job, table));
      return Object.keys(h).map((k) => [k, new Uint8Array(h[k])]);
    };
    const [jobs, objects, tasks, actors, functions, groups] = await Promise.all([
      read('jobs'),
      read('objects'),
      read('tasks'),
      read('actors'),
      read('functions'),
      read('groups'),
    ]);
    return { jobs, objects, tasks, actors, functions, groups };
  }
}

/**
 * Nodes of the live other coordinators by their records (another process's word: a count that is not a whole
 * number from 0 to a million counts nothing), for the scheduler's packing (Scheduler.linkedNodes).
 */
export function linkedNodes(others: readonly CoordinatorInfo[]): number {
  let n = 0;
  for (const o of others) if (Number.isInteger(o.nodes) && o.nodes >= 0 && o.nodes <= 1_000_000) n += o.nodes;
  return n;
}
