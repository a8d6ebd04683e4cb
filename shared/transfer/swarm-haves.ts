// The have messages a swarm reader sends as it goes (issue 17): the chunks it
// got and the chunks it claimed since the last message, batched every
// FLUSH_MS to the readers it told (each got the whole state when told:
// swarm-fetch.ts tell), claims at once when a round of asks made them.
import type { ObjectId } from '../ids.js';
import { sendHaves, type Source, type SwarmContext } from './swarm-source.js';

/** How often have messages go out, batched. */
const FLUSH_MS = 10;

export class HaveOutbox {
  private readonly have: number[] = [];
  private readonly claim: number[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ended = false;

  constructor(private readonly f: { readonly swarm: SwarmContext; readonly id: ObjectId; readonly sources: Map<string, Source> }) {}

  /** Chunk `c` arrived and checked. */
  held(c: number): void {
    this.have.push(c);
    this.later();
  }

  /** Chunk `c` is (again) claimed: asked of a full holder, or to come from the holder streaming to this reader. */
  claimed(c: number): void {
    this.claim.push(c);
    this.later();
  }

  /** Claims not sent yet. */
  get claims(): number {
    return this.claim.length;
  }

  /** Sends what got and claimed since the last message to the readers told. */
  flush(): void {
    if (this.have.length === 0 && this.claim.length === 0) return;
    const have = this.have.splice(0);
    const claim = this.claim.splice(0);
    for (const s of this.f.sources.values()) {
      if (s.full || s.dropped || !s.told) continue;
      const link = this.f.swarm.links.links.get(s.peer);
      if (link?.state === 'open') sendHaves(link, this.f.id, have, claim);
    }
  }

  /** The fetch ended: nothing more goes out on the timer. */
  end(): void {
    this.ended = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private later(): void {
    if (this.timer !== null || this.ended) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, FLUSH_MS);
  }
}
