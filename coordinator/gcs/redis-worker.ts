// The thread that talks to Redis for RedisStorage (redis-storage.ts): the
// coordinator's event loop never encodes a Redis command. It connects (a
// standalone server, or a Cluster it finds behind the URL), applies write
// batches in the order they come, each group's changes in one MULTI (a group
// is a job: its keys share a hash tag, hence a slot, so a flush is atomic per
// job even on a Cluster), and answers loads.
import { workerData } from 'node:worker_threads';
import { Cluster, type Redis } from 'ioredis';
import { connectRedis, type RedisConnection } from './redis-connect.js';
import { fenceKey, hashKey, SLOT, STATE, type ToWorker, type WorkerInit, type WriteBatch } from './redis-wire.js';
import { WorkerSide } from './worker-wire.js';
import { defineFencedWrite, fencedWrite, type TableChanges } from './redis-fence.js';
import { ThreadCollector } from './worker-gc.js';

const init = workerData as WorkerInit;
const side = new WorkerSide(init.shared, init.port);
const port = init.port;
const post = side.post.bind(side);
const setState = (s: number): void => side.set(SLOT.state, s);

type Client = Redis | Cluster;

/** The last connection error; ioredis reconnects by itself, so it is only kept (not printed on every retry). */
let lastError = '';

function connect(): Promise<RedisConnection> {
  return connectRedis(init.url, init.connectTimeoutMs, (err) => (lastError = err.message));
}

async function write(client: Client, b: WriteBatch): Promise<void> {
  const done: Promise<unknown>[] = [];
  const { buffer, byteOffset } = b.bytes;
  for (const [group, tables, fence] of b.groups) {
    const changes: TableChanges[] = [];
    for (const [table, keys, spans, dels] of tables) {
      const set: (string | Buffer)[] = [];
      for (let i = 0; i < keys.length; i++) set.push(keys[i], Buffer.from(buffer, byteOffset + spans[2 * i], spans[2 * i + 1]));
      changes.push({ key: hashKey(init.prefix, group, table), set, dels });
    }
    if (fence !== undefined) {
      // A job of a mesh coordinator: applied only while its lease epoch is still ours (redis-fence.ts).
      done.push(
        fencedWrite(client, fenceKey(init.prefix, group), fence, changes).then((applied) => {
          if (!applied) post({ op: 'fenced', seq: b.seq, group });
        }),
      );
      continue;
    }
    const tx = client.multi();
    for (const { key, set, dels } of changes) {
      if (set.length > 0) tx.hset(key, ...set);
      if (dels.length > 0) tx.hdel(key, ...dels);
    }
    done.push(
      tx.exec().then((replies) => {
        const failed = replies?.find(([err]) => err);
        if (failed) throw failed[0] as Error;
      }),
    );
  }
  await Promise.all(done);
}

/** Every `<prefix>:{group}:<table>` hash, found with SCAN on each master. */
async function tableKeys(client: Client, table: string): Promise<string[]> {
  const servers: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  const match = hashKey(init.prefix, '*', table);
  const keys = new Set<string>();
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, found] = await server.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      for (const k of found) keys.add(k);
    } while (cursor !== '0');
  }
  return [...keys];
}

async function load(client: Client, table: string): Promise<[string, Uint8Array][]> {
  const keys = await tableKeys(client, table);
  const all = await Promise.all(keys.map((k) => client.hgetallBuffer(k)));
  const rows: [string, Uint8Array][] = [];
  for (const h of all) for (const field of Object.keys(h)) rows.push([field, new Uint8Array(h[field])]);
  return rows;
}

async function main(): Promise<void> {
  let c: Awaited<ReturnType<typeof connect>>;
  try {
    c = await connect();
  } catch (err) {
    post({ op: 'connect-failed', message: (err as Error).message || lastError });
    setState(STATE.failed);
    port.close();
    return;
  }
  const { client } = c;
  defineFencedWrite(client);
  post({ op: 'ready', cluster: c.cluster, masters: c.masters });
  setState(STATE.ready);

  // Batches are acknowledged in order, whatever order their replies come in.
  let tail: Promise<void> = Promise.resolve();
  // A written batch's buffer (transferred here) and a load's rows are garbage once done: this thread collects them
  // once idle, as the SQLite writer does (worker-gc.ts; a burst and then quiet held 16 MiB of 24 for 15 s and more).
  const collector = new ThreadCollector();
  collector.collected = () => side.set(SLOT.collections, collector.collections);
  port.on('message', (m: ToWorker) => {
    switch (m.op) {
      case 'write': {
        const w = write(client, m).catch((err: Error) => post({ op: 'write-failed', seq: m.seq, message: err.message }));
        tail = Promise.all([tail, w]).then(() => {
          side.set(SLOT.acked, m.seq);
          collector.took(m.bytes.buffer.byteLength);
        });
        return;
      }
      case 'load':
        // Issued after every earlier write, on the same connections: it sees them.
        load(client, m.table).then(
          (rows) => {
            post({ op: 'loaded', id: m.id, rows });
            let bytes = 0;
            for (const [, v] of rows) bytes += v.byteLength;
            collector.took(bytes);
          },
          (err: Error) => post({ op: 'load-failed', id: m.id, message: err.message }),
        );
        return;
      case 'compact':
        post({ op: 'load-failed', id: m.id, message: 'Redis keeps no log to compact' });
        return;
      case 'close':
        void tail
          .then(() => client.quit())
          .catch(() => client.disconnect())
          .finally(() => {
            collector.stop();
            post({ op: 'closed' });
            setState(STATE.closed);
            port.close();
          });
        return;
      default: {
        const never: never = m;
        throw new Error(`unknown message ${JSON.stringify(never)}`);
      }
    }
  });
}

void main();
