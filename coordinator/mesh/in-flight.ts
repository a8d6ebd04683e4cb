// What the mesh started and has not finished (session 29): a beat, a janitor's
// sweep, a takeover, a claim. Their Redis calls fail once the link closes; the
// mesh's close waits for them to end before the coordinator closes its GCS
// storage, so nothing they do on the way out writes to a closed storage (an
// unhandled rejection "RedisStorage ... is closed" under load).
import { withTimeout } from '../../shared/api/gather.js';

export class InFlight {
  private readonly running = new Set<Promise<unknown>>();

  /** `p`, counted until it settles. */
  add<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    const done = () => void this.running.delete(p);
    p.then(done, done);
    return p;
  }

  /** Resolves once everything added so far (and what that adds meanwhile) has settled, either way. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /**
   * As settled(), for at most `ms`: how many are still running then. A Redis command waits for its server for ever
   * (redis-connect.ts: maxRetriesPerRequest null), and one queued while ioredis reconnects is not failed by a
   * disconnect() then (its stream is already gone): a close that waited for it never ended (session 37).
   */
  async settledWithin(ms: number): Promise<number> {
    return (await within(this.settled(), ms)) ? 0 : this.running.size;
  }
}

/** Whether `p` settled (either way) within `ms`; it is not waited for past that (gather.ts withTimeout's race). */
export function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = p.then(
    () => true,
    () => true,
  );
  return withTimeout(settled, ms, () => new Error('late')).catch(() => false);
}
