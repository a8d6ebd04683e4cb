// Actor names across the mesh (Ray: a named actor is global in its namespace,
// session 38). Every claim is a field of one hash, `<p>:{mesh}:actor-names`,
// `<namespace>\0<name>` -> `<coordinator id> <actor id>`: the same slot as the
// coordinators' records (registry.ts), so one script reads the holder's record
// and takes the name in one step, on a Redis Cluster too. Two coordinators
// creating one name at once: Redis runs one script after the other, the second
// finds the first's claim. A claim of a coordinator gone (its record missing, or
// silent by Redis's clock past the orphan window) is free: by then a takeover of
// the actor's job or of the detached actor has claimed it again under the
// adopter's id (a claim for the same actor always succeeds), or nobody will.
import type { Cluster, Redis } from 'ioredis';
import type { MeshNameRegistry } from '../actors/names.js';
import { hashKey } from '../gcs/redis-wire.js';

/** A name's field: names are unique within a namespace (the same key as the per-coordinator table, names.ts). */
export const nameField = (namespace: string, name: string) => `${namespace}\u0000${name}`;

/**
 * Takes field ARGV[1] for `<ARGV[2]> <ARGV[3]>` (coordinator, actor) unless a live other coordinator holds it for
 * another actor; returns 1, else the holder's value. Our own claims for other actors are overwritten: our table
 * (names.ts) let this one through, so what the hash says of ours is stale (a release that never reached Redis).
 */
const CLAIM = `
local v = redis.call('hget', KEYS[1], ARGV[1])
local mine = ARGV[2] .. ' ' .. ARGV[3]
if v and v ~= mine then
  local sp = string.find(v, ' ', 1, true)
  if sp then
    local holder = string.sub(v, 1, sp - 1)
    if holder ~= ARGV[2] and string.sub(v, sp + 1) ~= ARGV[3] then
      local rec = redis.call('hget', KEYS[2], holder)
      local rt = rec and tonumber(string.match(rec, '"rt":(%d+)'))
      if rt then
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if now - rt <= tonumber(ARGV[4]) then return v end
      end
    end
  end
end
redis.call('hset', KEYS[1], ARGV[1], mine)
return 1`;
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
  private readonly coordinators: string;

  constructor(
    private readonly client: Redis | Cluster,
    prefix: string,
    private readonly id: string,
    /** How long a silent coordinator's claims hold (its actors' takeover claims them again meanwhile). */
    private readonly orphanMs: number,
  ) {
    this.key = hashKey(prefix, 'mesh', 'actor-names');
    this.coordinators = hashKey(prefix, 'mesh', 'coordinators');
  }

  async claim(namespace: string, name: string, actor: string): Promise<ClaimAnswer> {
    const r = await this.client.eval(CLAIM, 2, this.key, this.coordinators, nameField(namespace, name), this.id, actor, String(this.orphanMs));
    if (r === 1) return { taken: false };
    return { taken: true, holder: parseHolder(String(r)) ?? { coordinator: '?', actor: '?' } };
  }

  async release(namespace: string, name: string, actor: string): Promise<void> {
    await this.client.eval(RELEASE, 1, this.key, nameField(namespace, name), `${this.id} ${actor}`);
  }

  async holder(namespace: string, name: string): Promise<NameHolder | undefined> {
    const v = await this.client.hget(this.key, nameField(namespace, name));
    return v === null ? undefined : parseHolder(v);
  }

  /** Every claim in the hash (the caller keeps those of live coordinators). */
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
