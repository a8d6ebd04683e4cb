// Actor names across the mesh (Ray: a named actor is global in its namespace,
// session 38). Every claim is a field of one hash, `<p>:{mesh}:actor-names`,
// `<namespace>\0<name>` -> `<coordinator id> <actor id>`; beside it, in the same
// slot, `<p>:{mesh}:name-leases` holds each coordinator's lease on its claims
// (until when, by Redis's clock), renewed every beat. One script reads the
// holder's lease and takes the name in one step, on a Redis Cluster too (one
// slot). Two coordinators creating one name at once: Redis runs one script after
// the other, the second finds the first's claim. The claims of a coordinator
// whose lease lapsed (it died, or closed: the lease is never given up early) are
// free: by then a takeover of the actor's job or of the detached actor has
// claimed the name again under the adopter's id (a claim for the same actor
// always succeeds), or nobody will.
import type { Cluster, Redis } from 'ioredis';
import { nameKey, type MeshNameRegistry } from '../actors/names.js';
import { hashKey } from '../gcs/redis-wire.js';

/** Redis's clock in ms, in a script. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
/**
 * Takes field ARGV[1] for `<ARGV[2]> <ARGV[3]>` (coordinator, actor) unless another coordinator whose lease
 * (KEYS[2]) runs holds it for another actor; returns 1, else the holder's value. Renews our lease (ARGV[4] ms) first.
 * Our own claims for other actors are overwritten: our table (names.ts) let this one through, so what the hash
 * says of ours is stale (a release that never reached Redis).
 */
const CLAIM = `${NOW}
redis.call('hset', KEYS[2], ARGV[2], string.format('%.0f', now + tonumber(ARGV[4])))
local v = redis.call('hget', KEYS[1], ARGV[1])
local mine = ARGV[2] .. ' ' .. ARGV[3]
if v and v ~= mine then
  local sp = string.find(v, ' ', 1, true)
  if sp then
    local holder = string.sub(v, 1, sp - 1)
    if holder ~= ARGV[2] and string.sub(v, sp + 1) ~= ARGV[3] then
      local till = tonumber(redis.call('hget', KEYS[2], holder))
      if till and till >= now then return v end
    end
  end
end
redis.call('hset', KEYS[1], ARGV[1], mine)
return 1`;
/**
 * Renews our lease on our claims (ARGV[1] for ARGV[2] ms) and forgets the leases lapsed over ARGV[3] ms (the
 * claims they held are free already, found free by whoever claims them next).
 */
const RENEW = `${NOW}
redis.call('hset', KEYS[1], ARGV[1], string.format('%.0f', now + tonumber(ARGV[2])))
if ARGV[3] ~= '' then
  local all = redis.call('hgetall', KEYS[1])
  for i = 1, #all, 2 do
    local till = tonumber(all[i + 1])
    if not till or now - till > tonumber(ARGV[3]) then redis.call('hdel', KEYS[1], all[i]) end
  end
end
return 1`;
/** Which of the coordinators ARGV[...] hold a running lease, by Redis's clock: 1 or 0 each. */
const LEASED = `${NOW}
local out = {}
for i = 1, #ARGV do
  local till = tonumber(redis.call('hget', KEYS[1], ARGV[i]))
  out[i] = (till and till >= now) and 1 or 0
end
return out`;
/** Leases lapsed this long are forgotten (their claims are free already). */
const FORGET_LEASE_MS = 3_600_000;
/** One beat in this many also forgets lapsed leases. */
const PRUNE_EVERY = 120;

/** Frees the field only if it still holds our claim (a takeover may have moved it to another coordinator). */
const RELEASE = `if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('hdel', KEYS[1], ARGV[1]) else return 0 end`;

/** Who holds a name mesh-wide. */
export interface NameHolder {
  coordinator: string;
  actor: string;
}

/** A claim's answer: ours, or held by another coordinator's actor. */
export type ClaimAnswer = { taken: false } | { taken: true; holder: NameHolder };

/** The mesh's name table in Redis; the actor manager's names (names.ts) use it through MeshNameRegistry. */
export class MeshActorNames {
  private readonly key: string;
  private readonly leases: string;
  private beats = 0;

  constructor(
    private readonly client: Redis | Cluster,
    prefix: string,
    private readonly id: string,
    /** How long our claims outlive our last beat (a takeover of our actors claims them again meanwhile). */
    private readonly leaseMs: number,
  ) {
    this.key = hashKey(prefix, 'mesh', 'actor-names');
    this.leases = hashKey(prefix, 'mesh', 'name-leases');
  }

  /** Every beat: our claims hold for `leaseMs` more. */
  async renew(): Promise<void> {
    const prune = this.beats++ % PRUNE_EVERY === 0 ? String(FORGET_LEASE_MS) : '';
    await this.client.eval(RENEW, 1, this.leases, this.id, String(this.leaseMs), prune);
  }

  async claim(namespace: string, name: string, actor: string): Promise<ClaimAnswer> {
    const r = await this.client.eval(CLAIM, 2, this.key, this.leases, nameKey(namespace, name), this.id, actor, String(this.leaseMs));
    if (r === 1) return { taken: false };
    return { taken: true, holder: parseHolder(String(r)) ?? { coordinator: '?', actor: '?' } };
  }

  async release(namespace: string, name: string, actor: string): Promise<void> {
    await this.client.eval(RELEASE, 1, this.key, nameKey(namespace, name), `${this.id} ${actor}`);
  }

  async holder(namespace: string, name: string): Promise<NameHolder | undefined> {
    const v = await this.client.hget(this.key, nameKey(namespace, name));
    return v === null ? undefined : parseHolder(v);
  }

  /** Of coordinators `ids`, those whose lease on their claims runs. */
  async leased(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const r = (await this.client.eval(LEASED, 1, this.leases, ...ids)) as number[];
    return new Set(ids.filter((_, i) => r[i] === 1));
  }

  /** Every claim in the hash, leased or not. */
  async all(): Promise<{ namespace: string; name: string; holder: NameHolder }[]> {
    const h = await this.client.hgetall(this.key);
    const out: { namespace: string; name: string; holder: NameHolder }[] = [];
    for (const [field, v] of Object.entries(h)) {
      const cut = field.indexOf('\u0000');
      const holder = parseHolder(v);
      if (cut < 0 || !holder) continue; // not ours to read
      out.push({ namespace: field.slice(0, cut), name: field.slice(cut + 1), holder });
    }
    return out;
  }
}

/** Another process's word: `<hex coordinator id> <hex actor id>`, else undefined. */
function parseHolder(v: string): NameHolder | undefined {
  const m = /^([0-9a-f]{1,64}) ([0-9a-f]{1,128})$/.exec(v);
  return m ? { coordinator: m[1], actor: m[2] } : undefined;
}

/**
 * The actor manager's view of the mesh's names (names.ts MeshNameRegistry): holders named by their URL from the
 * registry's live records (`live`); names held by coordinators not live are nobody's to list or to find.
 */
export function meshNameRegistry(names: MeshActorNames, self: string, live: () => readonly { id: string; url: string }[]): MeshNameRegistry {
  const urlOf = (id: string) => live().find((o) => o.id === id)?.url;
  return {
    claim: async (namespace, name, id) => {
      const r = await names.claim(namespace, name, id);
      return r.taken ? { coordinator: r.holder.coordinator, url: urlOf(r.holder.coordinator) } : null;
    },
    release: (namespace, name, id) => names.release(namespace, name, id),
    find: async (namespace, name) => {
      const h = await names.holder(namespace, name);
      const url = h && h.coordinator !== self ? urlOf(h.coordinator) : undefined;
      return h && url ? { coordinator: h.coordinator, url } : undefined;
    },
    named: async (namespace) => {
      const ids = new Set(live().map((o) => o.id));
      return (await names.all())
        .filter((n) => n.holder.coordinator !== self && ids.has(n.holder.coordinator) && (namespace === null || n.namespace === namespace))
        .map((n) => ({ name: n.name, namespace: n.namespace }));
    },
  };
}
