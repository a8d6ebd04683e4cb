// Which IndexedDB database is this tab's. A reloaded tab must find its own
// again (to re-announce the objects in it), two tabs must never share one (a
// duplicated tab copies sessionStorage, so the id is also claimed with a Web
// Lock), and the databases of tabs closed for good are removed.
import { DB_PREFIX } from './idb-tier.js';

const SEEN_PREFIX = 'tabmesh.seen.';
/** A database whose tab has not been seen for this long is an orphan (a reload takes seconds). */
const ORPHAN_AFTER_MS = 10 * 60_000;
/** How long a reloaded tab waits for its old document to let go of its store. */
const RELOAD_WAIT_MS = 5_000;

export interface StoreClaim {
  id: string;
  release(): void;
}

export async function claimStore(scope: string): Promise<StoreClaim> {
  const key = `tabmesh.storeId.${scope}`;
  let id = read(() => sessionStorage.getItem(key));
  // After a reload the old document may still hold the lock for a moment: wait for it.
  let release = id ? await tryLock(id, RELOAD_WAIT_MS) : null;
  if (!release) {
    do {
      id = randomId();
      release = await tryLock(id);
    } while (!release);
    write(() => sessionStorage.setItem(key, id!));
  }
  const mine = id!;
  const touch = () => write(() => localStorage.setItem(SEEN_PREFIX + mine, String(Date.now())));
  touch();
  const timer = setInterval(touch, 60_000);
  addEventListener('pagehide', touch);
  void removeOrphans(mine);
  return {
    id: mine,
    release: () => {
      clearInterval(timer);
      removeEventListener('pagehide', touch);
      write(() => localStorage.removeItem(SEEN_PREFIX + mine));
      release();
    },
  };
}

/**
 * Holds the lock named after `id` until released; null when another tab holds
 * it (now, or still after `waitMs`).
 */
function tryLock(id: string, waitMs = 0): Promise<(() => void) | null> {
  const locks = (navigator as { locks?: LockManager }).locks;
  // Web Locks need a secure context; without them, trust sessionStorage.
  if (!locks) return Promise.resolve(() => {});
  const opts: LockOptions = waitMs > 0 ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
  return new Promise((resolve) => {
    locks
      .request(`tabmesh-store:${id}`, opts, (lock) => {
        if (!lock) return resolve(null);
        return new Promise<void>((done) => resolve(done));
      })
      .catch((e: DOMException) => {
        if (e.name === 'AbortError' || e.name === 'TimeoutError') resolve(null);
        // Denied (a third-party frame whose storage the browser blocks): no lock, as without Web Locks.
        else resolve(() => {});
      });
  });
}

async function removeOrphans(mine: string): Promise<void> {
  if (typeof indexedDB.databases !== 'function') return;
  const dbs = await indexedDB.databases().catch(() => []);
  for (const db of dbs) {
    const name = db.name ?? '';
    if (!name.startsWith(DB_PREFIX)) continue;
    const id = name.slice(DB_PREFIX.length);
    if (id === mine) continue;
    const seen = Number(read(() => localStorage.getItem(SEEN_PREFIX + id)) ?? 0);
    if (Date.now() - seen < ORPHAN_AFTER_MS) continue;
    const release = await tryLock(id);
    if (!release) continue;
    indexedDB.deleteDatabase(name);
    write(() => localStorage.removeItem(SEEN_PREFIX + id));
    release();
  }
}

function randomId(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function read(f: () => string | null): string | null {
  try {
    return f();
  } catch {
    return null; // storage disabled
  }
}

function write(f: () => void): void {
  try {
    f();
  } catch {
    /* storage disabled or full */
  }
}
