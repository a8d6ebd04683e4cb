// Writes fenced by a job's lease (issue 15). A coordinator that lost a job's
// lease (a GC pause, a partition) must not overwrite the rows of the
// coordinator that took the job over. Taking a lease bumps the job's epoch in
// `<prefix>:{job}:fence` (`<epoch>:<owner>`, coordinator/mesh/registry.ts);
// each flush writes a job's changes through one script that applies them only
// while that key still holds the writer's token. One script call per job per
// flush, pipelined like the MULTI it replaces: no round trip per task.
import type { Cluster, Redis } from 'ioredis';

/**
 * KEYS[1] the fence, KEYS[2..] the group's table hashes. ARGV[1] the token;
 * then per table: how many fields to set, how many to delete, the
 * field/value pairs, the fields to delete. Returns 1 applied, 0 refused.
 * HSET/HDEL in runs of 512 pairs: Lua's unpack has a small stack.
 */
const FENCED_WRITE = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
local a = 2
for k = 2, #KEYS do
  local nset = tonumber(ARGV[a])
  local ndel = tonumber(ARGV[a + 1])
  a = a + 2
  local done = 0
  while done < nset do
    local n = math.min(nset - done, 512)
    local args = {}
    for j = 1, n do
      args[2 * j - 1] = ARGV[a]
      args[2 * j] = ARGV[a + 1]
      a = a + 2
    end
    redis.call('hset', KEYS[k], unpack(args))
    done = done + n
  end
  done = 0
  while done < ndel do
    local n = math.min(ndel - done, 512)
    local args = {}
    for j = 1, n do
      args[j] = ARGV[a]
      a = a + 1
    end
    redis.call('hdel', KEYS[k], unpack(args))
    done = done + n
  end
end
return 1`;

type WithFencedWrite = { fencedWrite(numKeys: number, ...args: (string | Buffer)[]): Promise<number> };

/** Defines the script on a client (ioredis sends EVALSHA, and the script itself once if Redis lacks it). */
export function defineFencedWrite(client: Redis | Cluster): void {
  client.defineCommand('fencedWrite', { lua: FENCED_WRITE });
}

/** One table's changes: the hash, field/value pairs to set, fields to delete. */
export interface TableChanges {
  key: string;
  set: (string | Buffer)[];
  dels: string[];
}

/** Applies a group's changes if `fence` still holds `token`; whether it did. */
export async function fencedWrite(client: Redis | Cluster, fence: string, token: string, tables: TableChanges[]): Promise<boolean> {
  const keys = [fence, ...tables.map((t) => t.key)];
  let args: (string | Buffer)[] = [token];
  for (const t of tables) args = args.concat(String(t.set.length / 2), String(t.dels.length), t.set, t.dels);
  const applied = await (client as unknown as WithFencedWrite).fencedWrite(keys.length, ...keys, ...args);
  return applied === 1;
}
