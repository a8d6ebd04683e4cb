// A driver's messages to the coordinator, in order: a large put is announced
// once its content hash is known (hashed in worker threads on Node), and what
// the driver sends meanwhile waits behind it (issue 17).
import { contentHashAsync } from '../hash.js';
import type { Msg, MsgOf } from '../protocol/messages.js';

export class HashGate {
  private hashing = 0;
  private deferred: Msg[] = [];
  private all: Promise<void> = Promise.resolve();

  constructor(private readonly out: (m: Msg) => void) {}

  /** Whether a put is being hashed (what is pushed now waits). */
  get busy(): boolean {
    return this.hashing > 0;
  }

  push(m: Msg): void {
    if (this.hashing > 0) this.deferred.push(m);
    else this.out(m);
  }

  /** Sends `m` once `bytes` are hashed (its hash filled in), after what was pushed before it; `hashed` hears the hash first. */
  putAfterHash(m: MsgOf<'put'>, bytes: Uint8Array, hashed: (hash: string) => void): void {
    this.deferred.push(m);
    this.hashing++;
    const done = contentHashAsync(bytes).then(({ hash }) => {
      hashed((m.hash = hash));
      if (--this.hashing === 0) {
        const out = this.deferred;
        this.deferred = [];
        for (const d of out) this.out(d);
      }
    });
    this.all = Promise.all([this.all, done]).then(() => {});
  }

  /** Resolves once every put hashed so far went out. */
  idle(): Promise<void> {
    return this.all;
  }
}
